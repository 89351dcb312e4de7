#include "support/toy_space.hpp"

#include <algorithm>
#include <cmath>

namespace automl::test {

ToySpace::ToySpace(std::vector<std::size_t> cardinalities, std::optional<Condition> condition)
    : m_cardinalities(std::move(cardinalities)), m_condition(condition) {}

space::UnitVector ToySpace::sample_prior(core::Rng& rng) const {
  space::UnitVector x(m_cardinalities.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const auto k = m_cardinalities[i];
    x[i] = k == 0 ? rng.uniform01() : (static_cast<double>(rng.uniform_index(k)) + 0.5) / static_cast<double>(k);
  }
  return *make_valid(x);
}

std::optional<space::UnitVector> ToySpace::make_valid(const space::UnitVector& proposal) const {
  space::UnitVector x = proposal;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const auto k = m_cardinalities[i];
    if (std::isnan(x[i])) x[i] = k == 0 ? 0.5 : 0.5 / static_cast<double>(k);
    x[i] = std::clamp(x[i], 0.0, 1.0);
    if (k > 0) {
      const double index = std::min(std::floor(x[i] * static_cast<double>(k)), static_cast<double>(k - 1));
      x[i] = (index + 0.5) / static_cast<double>(k);
    }
  }
  if (m_condition) {
    const auto k = m_cardinalities[m_condition->parent];
    const auto choice = static_cast<std::size_t>(std::floor(x[m_condition->parent] * static_cast<double>(k)));
    if (choice != m_condition->choice) x[m_condition->child] = std::nan("");
  }
  return x;
}

double counting_ones_value(const ToySpace& space, const space::UnitVector& unit) {
  double sum = 0.0;
  for (std::size_t i = 0; i < unit.size(); ++i) {
    if (std::isnan(unit[i])) continue;
    sum += space.cardinality(i) == 0 ? unit[i] : std::floor(unit[i] * static_cast<double>(space.cardinality(i)));
  }
  return -sum;
}

} // namespace automl::test
