#pragma once
// A trial: one configuration evaluated on one budget (one job of a Hyperband bracket), as stored.

#include "space/unit_cube.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace automl::study {

enum class TrialState {
  running,  // claimed by a worker (which may have died: see exec/owner.hpp)
  complete, // reached its budget; has a loss
  pruned,   // stopped before its budget (deadline, stop request); has what it reached
  fail,     // threw, or gave a non-finite loss; `error` says why
};

std::string to_string(TrialState state);
// Throws automl::Error for an unknown name (a corrupt or foreign database).
TrialState parse_trial_state(const std::string& name);

// One validation report: after `step` (an epoch, a batch count, a draw count), the metric the objective gave.
struct Metric {
  double step = 0.0;
  double value = 0.0;
};

struct Trial {
  std::int64_t id = 0;
  std::int64_t study_id = 0;
  std::size_t iteration = 0; // Hyperband iteration (HpBandSter's config_id[0])
  std::size_t bracket = 0;   // s of that iteration's bracket
  std::size_t rung = 0;      // 0 for a new configuration, r after r promotions
  std::size_t slot = 0;      // configuration index within the iteration (config_id[2])
  double budget = 0.0;       // in the search's budget unit (epochs by default)
  double cost = 0.0;         // budget this trial spends (budget minus the parent's when it continues training)
  space::UnitVector unit;    // the configuration as the optimizer sees it; NaN = inactive
  std::string config;        // the configuration as JSON text, given by the caller (the search space)
  std::string info;          // JSON object: how it was proposed ({"model_based_pick": true, ...})
  std::optional<std::int64_t> parent_id; // the lower-rung trial it was promoted from
  TrialState state = TrialState::running;
  std::optional<double> loss; // lower is better (1 - validation accuracy)
  std::vector<Metric> metrics;
  double submitted_at = 0.0; // seconds since the Unix epoch
  double started_at = 0.0;
  std::optional<double> finished_at;
  std::string worker; // the owner token of the worker that ran (or runs) it
  std::uint64_t seed = 0;
  std::string error;
  int attempts = 1; // > 1 when it was run again after its worker died or the search stopped it
  // A RUNNING trial belongs to its claimer until its lease expires (claim() and renew_lease() set it, on the
  // database's clock): then any worker may run it again as attempt + 1. Seconds since the Unix epoch.
  std::optional<double> lease_expires_at;
  bool lease_expired = false; // RUNNING and past its lease when it was read (judged by the database's clock)

  // HpBandSter's config id [iteration, 0, slot] as JSON text.
  std::string config_id() const;
};

// Validation accuracy of a trial: 1 - loss, or 1 - the last reported metric when it has no loss yet.
std::optional<double> trial_accuracy(const Trial& trial);
// The trial's configuration as a JSON object (an empty object when the stored text is not one).
nlohmann::json config_object(const Trial& trial);

// What the optimizer decides to run; the storage assigns id, seed and timestamps.
struct NewTrial {
  std::size_t iteration = 0;
  std::size_t bracket = 0;
  std::size_t rung = 0;
  std::size_t slot = 0;
  double budget = 0.0;
  double cost = 0.0;
  space::UnitVector unit;
  std::string config = "{}";
  std::string info = "{}";
  std::optional<std::int64_t> parent_id;
};

// A trial's seed: a SplitMix64 mix of the study seed and the job's place in the schedule (iteration, slot,
// rung), not of the trial id: with several workers the ids follow the order of the claims, which timing
// decides, while the same job must train with the same seed in every run (and when run again after a crash).
std::uint64_t trial_seed(std::uint64_t study_seed, std::int64_t iteration, std::int64_t slot, std::int64_t rung);
// The SplitMix64 mix behind it: independent streams for different keys of one seed.
std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t key);

// The unit vector as JSON text: an array of numbers, null for NaN (JSON has no NaN); exact round trip.
std::string unit_to_json(const space::UnitVector& unit);
// Throws automl::Error on malformed text.
space::UnitVector unit_from_json(const std::string& text);

// Metrics as the storages keep them: [[step, value], ...].
std::string metrics_to_json(const std::vector<Metric>& metrics);
std::vector<Metric> metrics_from_json(const std::string& text);

} // namespace automl::study
