#pragma once
// Logs of a study that other tools read: trials.csv (one row per trial, i.e. per configuration and budget) and
// HpBandSter's JSON-lines logs, so that hpbandster.core.result.logged_results_to_HBS_result() loads them:
//   configs.json: [config_id, config, info]                    one line per configuration
//   results.json: [config_id, budget, timestamps, result, exception]  one line per finished trial
// where result is {"loss": ..., "info": {...}} (null for a failed trial) and timestamps are seconds since the
// study's first trial was submitted. Pure formatting plus file writes; no torch.

#include "study/trial.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace automl::export_ {

// Columns: trial_id, config_id, iteration, bracket, rung, slot, budget, state, loss, attempts, worker, seed,
// submitted_at, started_at, finished_at, duration_s, metrics, error, then one column per top-level key of the
// configurations (in order of first appearance).
std::string trials_csv(const std::vector<study::Trial>& trials);
std::string configs_json_lines(const std::vector<study::Trial>& trials);
std::string results_json_lines(const std::vector<study::Trial>& trials);

// Writes trials.csv, configs.json and results.json into `dir` (created when missing). Throws Error on I/O failure.
void write_trial_logs(const std::filesystem::path& dir, const std::vector<study::Trial>& trials);

} // namespace automl::export_
