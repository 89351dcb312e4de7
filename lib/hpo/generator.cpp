#include "hpo/generator.hpp"

#include "core/error.hpp"
#include "core/suggest.hpp"
#include "hpo/kde.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <functional>
#include <limits>
#include <map>
#include <utility>

namespace automl::hpo {
namespace {

// Floor on l(x) and g(x) in the ratio g/l, as in HpBandSter: keeps it finite where a density underflows.
constexpr double k_density_floor = 1e-32;

} // namespace

double to_kde_coordinate(double unit_value, std::size_t cardinality) {
  if (cardinality == 0 || std::isnan(unit_value)) return unit_value;
  const double index = std::floor(unit_value * static_cast<double>(cardinality));
  return std::clamp(index, 0.0, static_cast<double>(cardinality - 1));
}

double from_kde_coordinate(double kde_value, std::size_t cardinality) {
  if (cardinality == 0 || std::isnan(kde_value)) return kde_value;
  return (kde_value + 0.5) / static_cast<double>(cardinality);
}

void validate(const BohbOptions& options) {
  if (!(options.top_n_percent > 0.0 && options.top_n_percent < 100.0))
    throw InputError(fmt::format("top_n_percent: must be in (0, 100), got {}", options.top_n_percent));
  if (options.num_samples == 0) throw InputError("num_samples: must be > 0, got 0");
  if (!(options.random_fraction >= 0.0 && options.random_fraction <= 1.0))
    throw InputError(fmt::format("random_fraction: must be in [0, 1], got {}", options.random_fraction));
  if (!(options.bandwidth_factor > 0.0))
    throw InputError(fmt::format("bandwidth_factor: must be > 0, got {}", options.bandwidth_factor));
  if (!(options.min_bandwidth > 0.0))
    throw InputError(fmt::format("min_bandwidth: must be > 0, got {}", options.min_bandwidth));
}

Proposal PriorGenerator::propose(const std::vector<Observation>&, double, core::Rng& rng) const {
  return Proposal{m_space.sample_prior(rng), false};
}

BohbGenerator::BohbGenerator(const space::UnitCubeSpace& space, const BohbOptions& options)
    : m_space(space), m_options(options) {
  validate(options);
  const std::size_t d = space.dimension();
  m_min_points = std::max(options.min_points_in_model.value_or(d + 1), d + 1);
  for (std::size_t j = 0; j < d; ++j) m_cardinalities.push_back(space.cardinality(j));
}

namespace {

// Observations of one budget, best first (ties: earlier first), split into good and bad as HpBandSter does.
struct Split {
  std::vector<const Observation*> good;
  std::vector<const Observation*> bad;
};

Split split_good_bad(std::vector<const Observation*> at_budget, double top_n_percent, std::size_t min_points) {
  std::stable_sort(at_budget.begin(), at_budget.end(),
                   [](const Observation* a, const Observation* b) { return a->loss < b->loss; });
  const std::size_t n = at_budget.size();
  const auto n_good = std::max(min_points, static_cast<std::size_t>(std::floor(top_n_percent * static_cast<double>(n) / 100.0)));
  const auto n_bad = std::max(min_points, static_cast<std::size_t>(std::floor((100.0 - top_n_percent) * static_cast<double>(n) / 100.0)));
  Split split;
  for (std::size_t i = 0; i < n; ++i) {
    if (i < n_good) split.good.push_back(at_budget[i]);
    else if (i < n_good + n_bad) split.bad.push_back(at_budget[i]);
  }
  return split;
}

std::map<double, std::vector<const Observation*>, std::greater<>> by_budget(const std::vector<Observation>& history) {
  std::map<double, std::vector<const Observation*>, std::greater<>> result;
  for (const Observation& o : history) result[o.budget].push_back(&o);
  return result;
}

} // namespace

std::optional<double> BohbGenerator::model_budget(const std::vector<Observation>& history) const {
  const std::size_t d = m_cardinalities.size();
  for (const auto& [budget, observations] : by_budget(history)) {
    if (observations.size() < m_min_points) continue;
    const Split split = split_good_bad(observations, m_options.top_n_percent, m_min_points);
    if (split.good.size() > d && split.bad.size() > d) return budget;
  }
  return std::nullopt;
}

Proposal BohbGenerator::propose(const std::vector<Observation>& history, double, core::Rng& rng) const {
  const std::optional<double> budget = model_budget(history);
  if (!budget || rng.uniform01() < m_options.random_fraction) return Proposal{m_space.sample_prior(rng), false};

  std::vector<const Observation*> at_budget;
  for (const Observation& o : history)
    if (o.budget == *budget) at_budget.push_back(&o);
  const Split split = split_good_bad(at_budget, m_options.top_n_percent, m_min_points);
  const auto kde_points = [&](const std::vector<const Observation*>& observations) {
    std::vector<std::vector<double>> points;
    for (const Observation* o : observations) {
      std::vector<double> p(m_cardinalities.size());
      for (std::size_t j = 0; j < p.size(); ++j) p[j] = to_kde_coordinate((*o->unit)[j], m_cardinalities[j]);
      points.push_back(std::move(p));
    }
    return impute_inactive(points, m_cardinalities, rng);
  };
  const KdeModel good(kde_points(split.good), m_cardinalities, m_options.min_bandwidth);
  const KdeModel bad(kde_points(split.bad), m_cardinalities, m_options.min_bandwidth);

  // Candidates with their g/l ratio; the smallest ratio wins. All are kept so that a candidate the space
  // rejects (a forbidden combination) falls back to the next best.
  std::vector<std::pair<double, std::vector<double>>> candidates;
  for (std::size_t i = 0; i < m_options.num_samples; ++i) {
    const std::vector<double>& datum = good.point(rng.uniform_index(good.size()));
    std::vector<double> x(datum.size());
    for (std::size_t j = 0; j < x.size(); ++j) {
      const double bw = std::max(good.bandwidths()[j], m_options.min_bandwidth);
      if (m_cardinalities[j] == 0) {
        x[j] = truncated_normal01(datum[j], m_options.bandwidth_factor * bw, rng);
      } else if (rng.uniform01() < 1.0 - bw) {
        x[j] = datum[j];
      } else {
        x[j] = static_cast<double>(rng.uniform_index(m_cardinalities[j]));
      }
    }
    const double l = good.pdf(x);
    const double g = bad.pdf(x);
    const double ratio = std::max(k_density_floor, g) / std::max(l, k_density_floor);
    candidates.emplace_back(std::isfinite(ratio) ? ratio : std::numeric_limits<double>::infinity(), std::move(x));
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [ratio, x] : candidates) {
    space::UnitVector unit(x.size());
    for (std::size_t j = 0; j < x.size(); ++j) unit[j] = from_kde_coordinate(x[j], m_cardinalities[j]);
    if (auto valid = m_space.make_valid(unit)) return Proposal{std::move(*valid), true};
  }
  return Proposal{m_space.sample_prior(rng), false};
}

namespace {

struct OptimizerEntry {
  const char* name;
  bool hyperband_schedule;
  std::unique_ptr<ConfigGenerator> (*make_generator)(const space::UnitCubeSpace&, const OptimizerOptions&);
};

const OptimizerEntry k_optimizers[] = {
    {"bohb", true,
     [](const space::UnitCubeSpace& s, const OptimizerOptions& o) -> std::unique_ptr<ConfigGenerator> {
       return std::make_unique<BohbGenerator>(s, o.bohb);
     }},
    {"hyperband", true,
     [](const space::UnitCubeSpace& s, const OptimizerOptions&) -> std::unique_ptr<ConfigGenerator> {
       return std::make_unique<PriorGenerator>(s);
     }},
    {"random", false,
     [](const space::UnitCubeSpace& s, const OptimizerOptions&) -> std::unique_ptr<ConfigGenerator> {
       return std::make_unique<PriorGenerator>(s);
     }},
};

} // namespace

std::vector<std::string> optimizer_names() {
  std::vector<std::string> names;
  for (const auto& entry : k_optimizers) names.emplace_back(entry.name);
  return names;
}

Optimizer make_optimizer(const std::string& name, const space::UnitCubeSpace& space, const OptimizerOptions& options) {
  for (const auto& entry : k_optimizers) {
    if (name != entry.name) continue;
    return Optimizer{name,
                     entry.hyperband_schedule ? BracketSchedule::hyperband(options.hyperband)
                                              : BracketSchedule::full_budget(options.hyperband),
                     entry.make_generator(space, options)};
  }
  const auto names = optimizer_names();
  std::string message = "unknown optimizer '" + name + "'";
  if (auto guess = core::closest_match(name, names)) message += "; did you mean '" + *guess + "'?";
  message += "; valid: " + fmt::format("{}", fmt::join(names, ", "));
  throw InputError(message);
}

} // namespace automl::hpo
