#pragma once
// The refit step of `automl search --refit`: the exported trials (the best alone, or the ensemble's members)
// trained again from scratch on train+validation at their budgets, several at once (one per worker), the
// heaviest ensemble members first, each only when its measured time fits in what is left. A refit model cannot
// be validated (it trained on the validation samples); one that scores clearly lower on those samples than its
// trial did without seeing them has gone wrong (diverged) and is not kept. Internal to lib/commands.

#include "data/dataset.hpp"
#include "study/trial.hpp"
#include "train/pipeline.hpp"
#include "train/runtime.hpp"

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace automl::commands {

// The refit's time is estimated from the trial's own (and its ancestors') time, scaled by the data size, with
// this margin.
constexpr double k_refit_safety = 1.15;
// A refit model is kept unless its accuracy on the validation samples (which it trained on) is below the trial's
// on them (unseen) by more than this many standard errors of the trial's accuracy: on small data a refit of a few
// epochs lands a little lower by chance (measured: 84.4% against 85.6% on 90 samples, 1.3 standard errors); a
// diverged one lands far lower.
constexpr double k_refit_fit_margin = 2.0;

struct RefitSettings {
  const data::Dataset* all = nullptr;        // train + validation: what the models are trained on
  const data::Dataset* validation = nullptr; // the validation part, for the divergence check
  std::vector<torch::Device> devices{torch::kCPU}; // worker i trains on devices[i % size]
  std::size_t workers = 1;
  train::Precision precision = train::Precision::fp32;
  double schedule_scale = 1;    // the search's (train::shrunk_schedule_scale is applied per configuration)
  double max_budget = 1;        // the search's largest rung
  bool time_budget = false;     // budgets in seconds: scaled by the data size like the estimate
  std::chrono::steady_clock::time_point deadline;
  std::function<bool()> stop_requested; // a signal: the running refits stop, the rest do not start
};

struct RefitOutcome {
  std::int64_t trial_id = 0;
  std::optional<train::Pipeline> pipeline; // the refit model, when done and kept
  double estimate_s = 0;
  double seconds = 0;
  double epochs = 0;
  double fit_accuracy = std::numeric_limits<double>::quiet_NaN(); // on the validation samples it trained on
  std::string reason; // why there is no refit model
};

// Refits `models` (in order of importance: the first start first) in `settings.workers` threads. A model whose
// estimate (k_refit_safety x its chain's seconds, scaled by the data size) does not fit in the time left when a
// worker is free is skipped, and the next tried. One outcome per model, in the order given.
std::vector<RefitOutcome> refit_models(const std::vector<const study::Trial*>& models,
                                       const std::vector<study::Trial>& trials, const RefitSettings& settings);

// best_config.json's "refit": requested, done (every model refit), samples, seconds (wall), and per model its
// trial, whether it was refit, seconds, epochs and the reason when not; "reason" is the first model's.
nlohmann::json refit_json(const std::vector<RefitOutcome>& outcomes, std::int64_t samples, double seconds);

} // namespace automl::commands
