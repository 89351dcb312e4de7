#include "hpo/hyperband.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace automl::hpo {
namespace {

// Guards floor() against 1.9999999 where the exact value is 2 (log(9)/log(3), 27 * 3^-1, ...).
constexpr double k_floor_slack = 1e-9;

std::size_t floor_count(double x) { return static_cast<std::size_t>(std::floor(x + k_floor_slack)); }

} // namespace

void validate(const HyperbandOptions& options) {
  if (!(options.eta > 1.0)) throw InputError(fmt::format("eta: must be > 1, got {}", options.eta));
  if (!(options.min_budget > 0.0)) throw InputError(fmt::format("min_budget: must be > 0, got {}", options.min_budget));
  if (!(options.max_budget >= options.min_budget))
    throw InputError(fmt::format("max_budget: must be >= min_budget ({}), got {}", options.min_budget, options.max_budget));
  if (!(options.early_budget >= 0.0) || !std::isfinite(options.early_budget))
    throw InputError(fmt::format("early_budget: must be >= 0, got {}", options.early_budget));
}

std::size_t max_sh_iterations(const HyperbandOptions& options) {
  validate(options);
  return floor_count(-std::log(options.min_budget / options.max_budget) / std::log(options.eta)) + 1;
}

std::vector<double> hyperband_budgets(const HyperbandOptions& options) {
  const std::size_t n = max_sh_iterations(options);
  std::vector<double> budgets(n);
  for (std::size_t k = 0; k < n; ++k)
    budgets[k] = options.max_budget * std::pow(options.eta, -static_cast<double>(n - 1 - k));
  return budgets;
}

BracketShape hyperband_bracket(const HyperbandOptions& options, std::size_t iteration) {
  const std::size_t rungs = max_sh_iterations(options);
  const std::vector<double> all = hyperband_budgets(options);
  BracketShape shape;
  shape.s = rungs - 1 - iteration % rungs;
  const double eta_s = std::pow(options.eta, static_cast<double>(shape.s));
  const std::size_t n0 = floor_count(static_cast<double>(rungs / (shape.s + 1)) * eta_s);
  for (std::size_t i = 0; i <= shape.s; ++i) {
    shape.sizes.push_back(std::max<std::size_t>(floor_count(static_cast<double>(n0) * std::pow(options.eta, -static_cast<double>(i))), 1));
    shape.budgets.push_back(all[all.size() - 1 - shape.s + i]);
  }
  return shape;
}

std::size_t promoted_count(std::size_t next_size, std::size_t finished_without_failure) {
  return std::min(next_size, finished_without_failure);
}

BracketSchedule::BracketSchedule(const HyperbandOptions& options, bool hyperband)
    : m_options(options), m_hyperband(hyperband) {
  validate(options);
}

BracketSchedule BracketSchedule::hyperband(const HyperbandOptions& options) { return BracketSchedule(options, true); }

BracketSchedule BracketSchedule::full_budget(const HyperbandOptions& options) { return BracketSchedule(options, false); }

BracketShape BracketSchedule::bracket(std::size_t iteration) const {
  if (m_hyperband) return hyperband_bracket(m_options, iteration);
  BracketShape shape;
  shape.sizes = {1};
  shape.budgets = {m_options.max_budget};
  return shape;
}

} // namespace automl::hpo
