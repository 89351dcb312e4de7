#pragma once
// The multivariate kernel density estimate of BOHB (as statsmodels' KDEMultivariate with bw='normal_reference',
// which HpBandSter uses): a product kernel, Gaussian on numerical dimensions, Aitchison-Aitken on categorical
// ones. Points are in KDE coordinates: a numerical dimension in [0, 1], a categorical one as its choice index
// 0..k-1 (a double). No NaN: inactive dimensions are imputed before fitting (see impute_inactive).
// Immutable once built, so safe to share between threads.

#include "core/rng.hpp"

#include <cstddef>
#include <vector>

namespace automl::hpo {

class KdeModel {
public:
  // `points`: n rows of dimension cardinalities.size(); cardinalities[j] is 0 for numerical, k >= 2 for
  // categorical. Bandwidths: normal reference 1.06 * std * n^(-1/(4+d)) (population std), clipped below at
  // min_bandwidth; categorical ones also clipped above at 1 (the Aitchison-Aitken lambda).
  KdeModel(std::vector<std::vector<double>> points, std::vector<std::size_t> cardinalities, double min_bandwidth);

  // Density at x: mean over the points of prod_j K_j(x_j; point_j, bw_j), with
  // Gaussian K = exp(-(x-p)^2 / (2 bw^2)) / (sqrt(2 pi) bw) and Aitchison-Aitken K = 1 - bw when x == p,
  // bw / (k - 1) otherwise.
  double pdf(const std::vector<double>& x) const;

  std::size_t size() const { return m_points.size(); }
  std::size_t dimension() const { return m_cardinalities.size(); }
  const std::vector<double>& point(std::size_t i) const { return m_points[i]; }
  const std::vector<double>& bandwidths() const { return m_bandwidths; }

private:
  std::vector<std::vector<double>> m_points;
  std::vector<std::size_t> m_cardinalities;
  std::vector<double> m_bandwidths;
};

// statsmodels' normal reference rule per column: 1.06 * std(column) * n^(-1/(4+d)).
std::vector<double> normal_reference_bandwidths(const std::vector<std::vector<double>>& points);

// HpBandSter's imputation of inactive (NaN) values, row by row: for the first NaN dimension of a row, copy the
// values of all its NaN dimensions from a random row of `points` that has that dimension active; when no row
// has it, draw a random valid value (uniform in [0,1] or a random choice index). Repeats until no NaN is left.
std::vector<std::vector<double>> impute_inactive(const std::vector<std::vector<double>>& points,
                                                 const std::vector<std::size_t>& cardinalities, core::Rng& rng);

// A draw from N(mean, sd) truncated to [0, 1] (rejection; mean in [0, 1]).
double truncated_normal01(double mean, double sd, core::Rng& rng);

} // namespace automl::hpo
