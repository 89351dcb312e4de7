#pragma once
// A quick measurement of how fast one configuration trains and evaluates here, with the threads in effect, for
// sizing a search's rungs at its start (hpo/fidelity.hpp). It fits the configuration's preprocessing on the whole
// training set (train/preprocessing caches the fit, so the search's trials reuse it), trains a few batches and
// evaluates part of the validation set.

#include "core/hyperparameters.hpp"
#include "data/dataset.hpp"
#include "train/runtime.hpp"

#include <torch/types.h>

#include <cstdint>

namespace automl::train {

struct MeasuredPace {
  double first_setup_seconds = 0;      // building the first trainer: the preprocessing fit included
  double setup_seconds = 0;            // what every trial pays besides training and validation: building a trainer
                                       // once the fit is cached, and saving its checkpoint
  double train_seconds_per_sample = 0; // training, after one warm-up batch
  double eval_seconds_per_sample = 0;  // a validation pass
  std::int64_t samples_trained = 0;
  std::int64_t samples_evaluated = 0;
};

// Example: measure_pace(hp, split.train, split.validation, seed, torch::kCPU, {4, 512, 5.0})
struct PaceOptions {
  std::int64_t batches = 4;              // trained batches, the first of them a warm-up
  std::int64_t eval_samples = 512;       // validation samples evaluated (at most)
  double max_seconds = 5;                // the training part stops after this, with what it measured
  std::int64_t eval_batch_size = 1024;   // as the search's validation passes
  Precision precision = Precision::fp32; // as the search's trials
};

// Throws what the Trainer throws for a configuration that cannot be built (the search would fail it too).
MeasuredPace measure_pace(const core::Hyperparameters& hp, const data::Dataset& train, const data::Dataset& validation,
                          std::uint64_t seed, torch::Device device, const PaceOptions& options = {});

} // namespace automl::train
