#pragma once
// Configuration generators: where the next configuration comes from. Each is a pure function of the evaluated
// history (the store is the truth: nothing is learned in memory), a budget and a seeded Rng, so that a resumed
// study or a second process proposes exactly what an uninterrupted run would.

#include "core/rng.hpp"
#include "hpo/hyperband.hpp"
#include "space/unit_cube.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace automl::hpo {

// One evaluated job as the generators see it. `unit` must outlive the call.
struct Observation {
  const space::UnitVector* unit = nullptr;
  double budget = 0.0;
  double loss = 0.0; // +inf for a failed evaluation (failures count as bad)
};

struct Proposal {
  space::UnitVector unit;
  bool model_based = false; // drawn from a model (BOHB's KDE) rather than the prior
};

// Thread safety: propose() is const and touches only its arguments; one generator may serve many threads.
// Ownership: a generator keeps a reference to the space it was made for; the space must outlive it.
class ConfigGenerator {
public:
  virtual ~ConfigGenerator() = default;
  virtual Proposal propose(const std::vector<Observation>& history, double budget, core::Rng& rng) const = 0;
};

// Example: BohbOptions bohb; bohb.num_samples = 128; bohb.random_fraction = 0.2;
struct BohbOptions {
  std::optional<std::size_t> min_points_in_model; // default (and lower bound) d + 1
  double top_n_percent = 15.0;                    // share of the observations that make the "good" density
  std::size_t num_samples = 64;                   // candidates drawn around good points; the best l/g is kept
  double random_fraction = 1.0 / 3.0;             // share of proposals drawn from the prior
  double bandwidth_factor = 3.0;                  // widens numerical bandwidths when drawing candidates
  double min_bandwidth = 1e-3;                    // floor on every bandwidth
};

// Throws InputError naming the field for values out of range.
void validate(const BohbOptions& options);

// Draws every configuration from the space's prior.
class PriorGenerator final : public ConfigGenerator {
public:
  explicit PriorGenerator(const space::UnitCubeSpace& space) : m_space(space) {}
  Proposal propose(const std::vector<Observation>& history, double budget, core::Rng& rng) const override;

private:
  const space::UnitCubeSpace& m_space;
};

// BOHB (Falkner et al. 2018) as HpBandSter implements it: a good and a bad KDE on the largest budget that has
// enough observations, candidates drawn around good points, the best l(x)/g(x) kept; random_fraction of the
// proposals (and all of them until a model exists) come from the prior.
class BohbGenerator final : public ConfigGenerator {
public:
  BohbGenerator(const space::UnitCubeSpace& space, const BohbOptions& options);
  Proposal propose(const std::vector<Observation>& history, double budget, core::Rng& rng) const override;

  // The budget whose observations the model would be built on now, if any: the largest budget whose good and
  // bad sets (top_n_percent split, each at least min_points_in_model) both hold more than d points.
  std::optional<double> model_budget(const std::vector<Observation>& history) const;
  std::size_t min_points_in_model() const { return m_min_points; }

private:
  const space::UnitCubeSpace& m_space;
  BohbOptions m_options;
  std::size_t m_min_points;
  std::vector<std::size_t> m_cardinalities;
};

// An optimizer by name: which bracket schedule it runs on and which generator fills the brackets.
// Example: OptimizerOptions o; o.hyperband.max_budget = 27; o.bohb.top_n_percent = 20;
struct OptimizerOptions {
  HyperbandOptions hyperband;
  BohbOptions bohb;
};

struct Optimizer {
  std::string name;
  BracketSchedule schedule;
  std::unique_ptr<ConfigGenerator> generator;
};

// bohb: Hyperband brackets + BohbGenerator; hyperband: Hyperband brackets + prior; random: every trial at
// max_budget from the prior. Unknown name: InputError listing the valid ones.
Optimizer make_optimizer(const std::string& name, const space::UnitCubeSpace& space, const OptimizerOptions& options);
std::vector<std::string> optimizer_names();

// Unit-cube value <-> KDE coordinate of one dimension: categorical (i + 0.5) / k <-> i, numerical unchanged.
// NaN (inactive) stays NaN.
double to_kde_coordinate(double unit_value, std::size_t cardinality);
double from_kde_coordinate(double kde_value, std::size_t cardinality);

} // namespace automl::hpo
