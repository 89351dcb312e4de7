#pragma once
// The settings of a search besides its space: data handling, budgets and training constants. Presets give
// them defaults; `automl search` flags override them. Read from YAML through one key table (run_config.cpp),
// which also prints them and documents them.

#include "data/split.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace YAML {
class Node;
}

namespace automl::config {

// The kind of data a preset is made for. Feature presets flatten images into feature vectors.
enum class DataKind { feature, image };
std::string to_string(DataKind kind);

// What a trial's budget counts: epochs (fractions allowed) or seconds of training.
enum class BudgetType { epochs, time };
std::string to_string(BudgetType type);

// Example: DataConfig{.validation_split = 0.3}
struct DataConfig {
  double validation_split = data::k_default_validation_split; // stratified, seeded hold-out fraction, in (0, 1)
};

// Hyperband budgets: rungs min_budget, min_budget * eta, ..., max_budget.
// Example: BudgetConfig{.budget_type = BudgetType::epochs, .min_budget = 1, .max_budget = 27, .eta = 3}
struct BudgetConfig {
  BudgetType budget_type = BudgetType::epochs;
  double min_budget = 1;  // > 0, <= max_budget
  double max_budget = 27;
  double eta = 3;         // > 1
  // How many times the space's default configuration's training time a sampled configuration takes, on
  // average: the anytime rungs cost a Hyperband cycle with it (hpo/fidelity.hpp, TrialPace::typical). > 0.
  double typical_pace = 4;
  // The portfolio's entries (config/preset.hpp) go on up the rungs of the study's first bracket to the largest as
  // soon as they have finished each, without waiting for the rest of their rung (hpo::HyperbandOptions::
  // early_portfolio); they then share a third of the search's worker-seconds, not a third each. For a space whose
  // entries are known to do well when trained fully: in a short search, successive halving alone would rank them
  // on their first epochs and rarely train one to the end.
  bool portfolio_to_largest_rung = false;
};

// Example: TrainingConfig{.early_stopping_patience = 5}
struct TrainingConfig {
  std::int64_t early_stopping_patience = 0; // stop a trial after this many epochs without improvement; 0 = never
  bool best_over_epochs = false;            // report the best validation accuracy over epochs, not the last
  std::int64_t eval_batch_size = 1024;      // batch size when computing validation accuracy
};

// Example: RunConfig run; run.budget.max_budget = 9;
struct RunConfig {
  std::string description;
  DataKind kind = DataKind::feature;
  DataConfig data;
  BudgetConfig budget;
  TrainingConfig training;
};

// One row of the key table, for documentation and listings: "budget.eta", "number", "3", help.
struct RunConfigKey {
  std::string name;
  std::string type;
  std::string default_value;
  std::string help;
};
std::vector<RunConfigKey> run_config_keys();

// Sets the keys of one section (`data`, `budget` or `training`) of `file` from its map node. Unknown keys
// and bad values are InputErrors at file:line:col ("budget.eta: must be > 1, got 1").
void apply_section(RunConfig& run, const std::string& file, const std::string& section, const YAML::Node& node);
// Checks what no single key can (min_budget <= max_budget); `where` prefixes the message.
void check_run_config(const RunConfig& run, const std::string& where);

// "section.key" -> effective value text, in key-table order.
std::vector<std::pair<std::string, std::string>> describe(const RunConfig& run);
nlohmann::json to_json(const RunConfig& run);

} // namespace automl::config
