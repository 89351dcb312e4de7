#pragma once
// What `automl search` prints at its end and `automl show` prints for any study: trials by state, the best
// trial with its parameters one per line, validation and test accuracy, where the files are; plus (show) a
// table of the trials and the errors of the failed ones. Formatting only: the caller reads the storage.

#include "study/trial.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace automl::commands {

struct TrialCounts {
  std::size_t total = 0;
  std::size_t complete = 0;
  std::size_t pruned = 0;
  std::size_t failed = 0;
  std::size_t running = 0;
};

TrialCounts count_trials(const std::vector<study::Trial>& trials);

// Seconds the trial's last attempt ran (until now while it runs).
double trial_seconds(const study::Trial& trial, double now);

using study::trial_accuracy;

struct StudyReport {
  std::string study;
  std::string storage;
  std::string budget_unit = "epochs";          // what trial budgets count
  std::vector<study::Trial> trials;
  std::optional<study::Trial> best;
  nlohmann::json best_config;                  // best_config.json of the output directory, null when none
  std::string out_dir;                         // where the files are; empty when unknown
  std::vector<std::string> files;              // the files written there, by name
};

// The keys whose values differ between the trials' configurations, in name order: the "key parameters".
std::vector<std::string> varying_parameters(const std::vector<study::Trial>& trials);

void print_summary(std::ostream& out, const StudyReport& report);
// One row per trial: id, config id, state, budget, accuracy, seconds, and the varying parameters.
void print_trial_table(std::ostream& out, const StudyReport& report, double now);
// The message of every failed trial.
void print_failures(std::ostream& out, const StudyReport& report);

// The summary as JSON: study, storage, trials by state, best (trial id, config id, budget, val accuracy,
// params), best_config.json's content when present, out_dir and files.
nlohmann::json summary_json(const StudyReport& report);

} // namespace automl::commands
