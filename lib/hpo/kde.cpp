#include "hpo/kde.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace automl::hpo {
namespace {

constexpr double k_pi = 3.14159265358979323846;
// Rejection draws before truncated_normal01 gives up and clamps: with sd <= ~2 the interval [0, 1] around a mean
// inside it keeps at least ~20% of the mass, so this is never reached in practice.
constexpr int k_max_rejections = 1000;

double standard_normal(core::Rng& rng) {
  // Box-Muller on our own uniform draws, so that the stream is the same on every standard library.
  double u1 = rng.uniform01();
  while (u1 <= 0.0) u1 = rng.uniform01();
  const double u2 = rng.uniform01();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * k_pi * u2);
}

} // namespace

std::vector<double> normal_reference_bandwidths(const std::vector<std::vector<double>>& points) {
  if (points.empty()) return {};
  const std::size_t n = points.size();
  const std::size_t d = points[0].size();
  std::vector<double> bw(d, 0.0);
  const double factor = 1.06 * std::pow(static_cast<double>(n), -1.0 / (4.0 + static_cast<double>(d)));
  for (std::size_t j = 0; j < d; ++j) {
    double mean = 0.0;
    for (const auto& p : points) mean += p[j];
    mean /= static_cast<double>(n);
    double var = 0.0;
    for (const auto& p : points) var += (p[j] - mean) * (p[j] - mean);
    bw[j] = factor * std::sqrt(var / static_cast<double>(n));
  }
  return bw;
}

KdeModel::KdeModel(std::vector<std::vector<double>> points, std::vector<std::size_t> cardinalities, double min_bandwidth)
    : m_points(std::move(points)), m_cardinalities(std::move(cardinalities)) {
  if (m_points.empty()) throw std::invalid_argument("KdeModel: no points");
  for (const auto& p : m_points)
    if (p.size() != m_cardinalities.size()) throw std::invalid_argument("KdeModel: point of the wrong dimension");
  m_bandwidths = normal_reference_bandwidths(m_points);
  for (std::size_t j = 0; j < m_bandwidths.size(); ++j) {
    m_bandwidths[j] = std::max(m_bandwidths[j], min_bandwidth);
    if (m_cardinalities[j] > 0) m_bandwidths[j] = std::min(m_bandwidths[j], 1.0);
  }
}

double KdeModel::pdf(const std::vector<double>& x) const {
  const std::size_t d = m_cardinalities.size();
  // Per-dimension constants, hoisted out of the loop over points.
  double gauss_norm = 1.0;
  std::vector<double> inv_two_var(d, 0.0), same(d, 0.0), other(d, 0.0);
  for (std::size_t j = 0; j < d; ++j) {
    const double h = m_bandwidths[j];
    if (m_cardinalities[j] == 0) {
      gauss_norm /= std::sqrt(2.0 * k_pi) * h;
      inv_two_var[j] = 1.0 / (2.0 * h * h);
    } else {
      same[j] = 1.0 - h;
      other[j] = h / static_cast<double>(m_cardinalities[j] - 1);
    }
  }
  double total = 0.0;
  for (const auto& p : m_points) {
    double exponent = 0.0;
    double categorical = 1.0;
    for (std::size_t j = 0; j < d; ++j) {
      if (m_cardinalities[j] == 0) {
        const double diff = x[j] - p[j];
        exponent += diff * diff * inv_two_var[j];
      } else {
        categorical *= (x[j] == p[j]) ? same[j] : other[j];
      }
    }
    total += categorical * std::exp(-exponent);
  }
  return gauss_norm * total / static_cast<double>(m_points.size());
}

std::vector<std::vector<double>> impute_inactive(const std::vector<std::vector<double>>& points,
                                                 const std::vector<std::size_t>& cardinalities, core::Rng& rng) {
  std::vector<std::vector<double>> result = points;
  for (auto& row : result) {
    for (;;) {
      std::vector<std::size_t> missing;
      for (std::size_t j = 0; j < row.size(); ++j)
        if (std::isnan(row[j])) missing.push_back(j);
      if (missing.empty()) break;
      const std::size_t first = missing[0];
      std::vector<std::size_t> donors;
      for (std::size_t i = 0; i < points.size(); ++i)
        if (!std::isnan(points[i][first])) donors.push_back(i);
      if (!donors.empty()) {
        const auto& donor = points[donors[rng.uniform_index(donors.size())]];
        for (std::size_t j : missing) row[j] = donor[j];
      } else {
        row[first] = cardinalities[first] == 0 ? rng.uniform01()
                                               : static_cast<double>(rng.uniform_index(cardinalities[first]));
      }
    }
  }
  return result;
}

double truncated_normal01(double mean, double sd, core::Rng& rng) {
  for (int attempt = 0; attempt < k_max_rejections; ++attempt) {
    const double x = mean + sd * standard_normal(rng);
    if (x >= 0.0 && x <= 1.0) return x;
  }
  return std::clamp(mean, 0.0, 1.0);
}

} // namespace automl::hpo
