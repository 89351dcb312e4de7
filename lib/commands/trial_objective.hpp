#pragma once
// The objective of a search's trials, shared by `automl search` and `automl worker`: train the configuration for
// its budget in epochs (or seconds), continuing from the lower rung's checkpoint when promoted, reporting
// 1 - validation accuracy after each epoch; PRUNED when the deadline cuts it, and then evaluated where it was cut
// when it got further than every finished trial (exec::model_to_export may export it).

#include "commands/search_steps.hpp"
#include "config/run_config.hpp"
#include "data/dataset.hpp"
#include "exec/objective.hpp"
#include "train/runtime.hpp"

#include <torch/types.h>

#include <cstdint>
#include <mutex>
#include <functional>
#include <vector>

namespace automl::commands {

// Example: see commands/search.cpp and commands/worker.cpp.
struct TrialObjectiveSettings {
  const data::TrainValidation* split = nullptr; // required; outlives the objective
  // Where trials train: each trial takes the device with the fewest trials running at its start (one device:
  // all of them there; "--device cuda:0,1" with 4 workers: two on each GPU).
  std::vector<torch::Device> devices{torch::kCPU};
  train::Precision precision = train::Precision::fp32;
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

// The objective; thread safe (trials run on several worker threads at once). A trial that runs out of device
// memory FAILs with LibTorch's message; its memory is given back to the device before the next trial starts.
// For the tests, AUTOML_TEST_INJECT_OOM=<trial id> makes that trial run out of memory after its first epoch.
exec::Objective make_trial_objective(const TrialObjectiveSettings& settings);

// Spreads trials over devices: acquire() returns the index of the device with the fewest trials holding a
// slot (the lowest index among equals); the slot is held until release(). Thread safe.
class DeviceSlots {
public:
  explicit DeviceSlots(std::size_t devices);
  std::size_t acquire();
  void release(std::size_t device);
  std::vector<std::size_t> running() const;

private:
  mutable std::mutex m_mutex;
  std::vector<std::size_t> m_running;
};

} // namespace automl::commands
