#include "train/pace.hpp"

#include "core/files.hpp"
#include "train/trainer.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <optional>
#include <vector>

namespace automl::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

} // namespace

MeasuredPace measure_pace(const core::Hyperparameters& hp, const data::Dataset& train, const data::Dataset& validation,
                          std::uint64_t seed, torch::Device device, const PaceOptions& options) {
  std::vector<std::int64_t> head(static_cast<std::size_t>(std::min(options.eval_samples, validation.size())));
  std::iota(head.begin(), head.end(), 0);
  const data::Dataset probe_validation = validation.subset(head);

  MeasuredPace pace;
  auto start = Clock::now();
  std::optional<Trainer> trainer;
  trainer.emplace(hp, train, probe_validation, seed, device);
  pace.first_setup_seconds = seconds_since(start);
  start = Clock::now();
  trainer.emplace(hp, train, probe_validation, seed, device);
  pace.setup_seconds = seconds_since(start);
  trainer->set_eval_batch_size(options.eval_batch_size);
  trainer->set_precision(options.precision);

  const auto batch = std::max<std::int64_t>(1, hp.get_int("", "batch_size", 128));
  const double batches_per_epoch = std::ceil(static_cast<double>(train.size()) / static_cast<double>(batch));
  const auto probe_start = Clock::now();
  TrainCallbacks callbacks;
  callbacks.should_stop = [&] { return seconds_since(probe_start) > options.max_seconds; };
  // One warm-up batch (first allocations), then the measured ones; each call ends with the validation pass.
  TrainBudget budget;
  budget.epochs = std::min(1.0, 1.0 / batches_per_epoch);
  const auto warm = trainer->train(budget, callbacks);
  const double warm_epochs = trainer->epochs_done(), warm_seconds = trainer->seconds_trained();
  budget.epochs = std::min(1.0, static_cast<double>(std::max<std::int64_t>(2, options.batches)) / batches_per_epoch);
  const auto measured = trainer->train(budget, callbacks);
  const auto& reports = !measured.history.empty() ? measured.history : warm.history;
  const double eval_seconds = reports.empty() ? 0.0 : reports.back().eval_seconds;
  double epochs = trainer->epochs_done() - warm_epochs;
  double train_seconds = trainer->seconds_trained() - warm_seconds - eval_seconds;
  if (!(epochs > 0)) { // stopped in the warm-up: use it
    epochs = warm_epochs;
    train_seconds = warm_seconds - eval_seconds;
  }
  pace.samples_trained = std::max<std::int64_t>(1, std::llround(epochs * static_cast<double>(train.size())));
  pace.train_seconds_per_sample = std::max(train_seconds, 1e-6) / static_cast<double>(pace.samples_trained);
  // The checkpoint every trial writes at its end.
  const auto dir = std::filesystem::temp_directory_path() /
                   ("automl-pace-" + std::to_string(::getpid()) + "-" + std::to_string(seed));
  start = Clock::now();
  trainer->save_checkpoint(dir);
  pace.setup_seconds += seconds_since(start);
  std::error_code ec;
  core::remove_tree(dir, ec);
  pace.samples_evaluated = probe_validation.size();
  pace.eval_seconds_per_sample = pace.samples_evaluated > 0 ? eval_seconds / static_cast<double>(pace.samples_evaluated) : 0.0;
  return pace;
}

} // namespace automl::train
