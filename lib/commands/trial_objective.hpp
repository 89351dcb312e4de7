#pragma once
// The objective of a search's trials, shared by `automl search` and `automl worker`: train the configuration for
// its budget in epochs (or seconds), continuing from the lower rung's checkpoint when promoted, reporting
// 1 - validation accuracy after each epoch; PRUNED when the deadline cuts it, and then evaluated where it was cut
// when it got further than every finished trial (exec::model_to_export may export it).

#include "commands/search_steps.hpp"
#include "config/run_config.hpp"
#include "data/dataset.hpp"
#include "exec/objective.hpp"

#include <torch/types.h>

#include <cstdint>
#include <functional>

namespace automl::commands {

// Example: see commands/search.cpp and commands/worker.cpp.
struct TrialObjectiveSettings {
  const data::TrainValidation* split = nullptr; // required; outlives the objective
  torch::Device device = torch::kCPU;
  config::TrainingConfig training;              // patience, best over epochs, validation batch size
  bool time_budget = false;                     // budgets are seconds of training, else epochs
  double max_budget = 1;                        // the largest rung (trials below an epoch validate on subsets)
  std::uint64_t seed = 0;                       // the study's: the validation subsets
  double schedule_scale = 1;                    // Trainer::set_schedule_scale
  double largest_complete = 0;                  // the largest budget a stored trial completed
  steps::EvalPace* eval_pace = nullptr;         // required: every validation pass is observed
  std::function<void()> on_trial_start;         // optional, called as each trial starts
  std::function<void()> after_epoch;            // optional, called after each epoch's report
};

// The settings for the trials of a search (or a worker) on `in`: its split, device, training settings and budget
// type, the study's seed, the rungs' schedule scale, and the largest budget the study has completed so far.
TrialObjectiveSettings objective_settings(const steps::SearchInputs& in, std::uint64_t seed, double schedule_scale,
                                          double largest_complete, steps::EvalPace& eval_pace);

// The objective; thread safe (trials run on several worker threads at once).
exec::Objective make_trial_objective(const TrialObjectiveSettings& settings);

} // namespace automl::commands
