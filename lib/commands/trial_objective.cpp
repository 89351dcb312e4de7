#include "commands/trial_objective.hpp"

#include "core/error.hpp"
#include "core/hyperparameters.hpp"
#include "data/split.hpp"
#include "export/ensemble.hpp"
#include "train/runtime.hpp"
#include "train/scheduler.hpp"
#include "train/trainer.hpp"

#include <fmt/format.h>
#include <c10/core/DeviceGuard.h>
#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

namespace automl::commands {
namespace {

// The validation set a trial is scored on. Trials below an epoch and below the largest rung are validated on a
// stratified subset in proportion to their budget, at least steps::k_min_validation_samples: at 1/9 epoch a pass over
// the whole set can take longer than the training (a rung only ranks its own trials, all on the same subset).
// The largest rung, and every budget from one epoch, use the whole set. Thread safe.
class ValidationSubsets {
public:
  ValidationSubsets(const data::Dataset& validation, double max_budget, bool time_budget, std::uint64_t seed)
      : m_validation(validation), m_max_budget(max_budget), m_time_budget(time_budget), m_seed(seed) {}

  std::int64_t samples_for(double budget) const {
    const std::int64_t n = m_validation.size();
    if (m_time_budget || budget >= std::min(1.0, m_max_budget) * (1 - 1e-9)) return n;
    const auto share = static_cast<std::int64_t>(std::ceil(budget * static_cast<double>(n)));
    return std::clamp(share, std::min(n, steps::k_min_validation_samples), n);
  }

  const data::Dataset& for_budget(double budget) {
    const std::int64_t samples = samples_for(budget);
    if (samples >= m_validation.size()) return m_validation;
    std::lock_guard lock(m_mutex);
    auto it = m_subsets.find(samples);
    if (it == m_subsets.end()) {
      const double fraction = static_cast<double>(samples) / static_cast<double>(m_validation.size());
      it = m_subsets.emplace(samples, data::split_train_validation(m_validation, fraction, m_seed).validation).first;
    }
    return it->second;
  }

private:
  const data::Dataset& m_validation;
  double m_max_budget;
  bool m_time_budget;
  std::uint64_t m_seed;
  std::mutex m_mutex;
  std::map<std::int64_t, data::Dataset> m_subsets; // by size; nodes never move
};

class TrialObjective {
public:
  explicit TrialObjective(const TrialObjectiveSettings& settings)
      : m_settings(settings),
        m_validation_sets(settings.split->validation, settings.max_budget, settings.time_budget, settings.seed),
        m_largest_complete(settings.largest_complete) {}

  exec::TrialResult run(const exec::TrialContext& ctx) {
    if (m_settings.on_trial_start) m_settings.on_trial_start();
    train::configure_threads(ctx.threads);
    const std::size_t slot = m_slots.acquire();
    const torch::Device device = m_settings.devices[slot];
    struct Release {
      DeviceSlots& slots;
      std::size_t slot;
      ~Release() { slots.release(slot); }
    } release{m_slots, slot};
    try {
      return run_on(ctx, device);
    } catch (const std::exception& e) {
      if (!train::is_out_of_memory(e)) throw;
      // The trial's tensors are gone with its trainer; what the allocator still caches goes back to the device.
      train::release_cached_memory(device);
      std::string message = e.what();
      if (const auto eol = message.find('\n'); eol != std::string::npos) message.resize(eol);
      throw Error(fmt::format("out of memory on {} (its memory was released): {}", device.str(), message));
    }
  }

private:
  exec::TrialResult run_on(const exec::TrialContext& ctx, torch::Device device) {
    c10::OptionalDeviceGuard device_guard;
    if (device.is_cuda()) device_guard.reset_device(device);
    const core::Hyperparameters hp(*ctx.config);
    std::optional<train::Trainer> trainer;
    const data::Dataset& validation = m_validation_sets.for_budget(ctx.budget);
    if (ctx.resume_from) trainer.emplace(train::Trainer::resume(*ctx.resume_from, hp, m_settings.split->train, validation, device));
    else trainer.emplace(hp, m_settings.split->train, validation, ctx.seed, device);
    trainer->set_precision(m_settings.precision);
    const bool inject_oom = injected_oom(ctx.trial_id);
    trainer->set_eval_batch_size(m_settings.training.eval_batch_size);
    trainer->set_schedule_scale(train::shrunk_schedule_scale(hp, m_settings.schedule_scale, m_settings.max_budget));
    train::TrainBudget train_budget;
    if (m_settings.time_budget) train_budget.seconds = ctx.budget;
    else train_budget.epochs = ctx.budget;
    double best_accuracy = -1, last_accuracy = std::nan("");
    std::int64_t since_best = 0;
    bool early_stopped = false;
    train::TrainCallbacks callbacks;
    callbacks.on_epoch = [&](const train::EpochReport& r) {
      if (inject_oom)
        TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory. Tried to allocate 20.00 GiB (injected for trial ",
                         ctx.trial_id, " by AUTOML_TEST_INJECT_OOM)");
      m_settings.eval_pace->observe(r.eval_seconds, validation.size(), ctx.trial_id);
      if (m_settings.after_epoch) m_settings.after_epoch();
      last_accuracy = r.val_accuracy;
      if (r.val_accuracy > best_accuracy) {
        best_accuracy = r.val_accuracy;
        since_best = 0;
      } else {
        ++since_best;
      }
      const bool go_on = ctx.report(r.epoch, 1.0 - (m_settings.training.best_over_epochs ? best_accuracy : r.val_accuracy));
      const auto patience = m_settings.training.early_stopping_patience;
      if (patience > 0 && since_best >= patience) {
        early_stopped = true;
        return false;
      }
      return go_on;
    };
    // Out of time: the deadline has passed, or the validation pass that ends the epoch could not end before it.
    bool out_of_time = false;
    callbacks.should_stop = [&] {
      out_of_time = ctx.stop && ctx.stop->seconds_left() < m_settings.eval_pace->seconds_for(validation.size());
      return ctx.stop_requested() || out_of_time || ctx.time_limit_reached();
    };
    // Out of time, the trial becomes PRUNED and is run again on resume. When it got further than every finished
    // trial, its weights at the cut are evaluated (the time for that pass is what was left) and kept: the export
    // takes them when they beat the finished trials' best (exec::model_to_export), so that a deadline falling
    // inside the largest trial does not leave the search with a smaller model than it trained.
    const auto reached = [&] { return m_settings.time_budget ? trainer->seconds_trained() : trainer->epochs_done(); };
    bool evaluated_at_cut = false;
    callbacks.evaluate_on_stop = [&] {
      evaluated_at_cut = out_of_time && !ctx.stop_requested() && reached() > m_largest_complete.load() + 1e-9;
      return evaluated_at_cut;
    };
    const auto r = trainer->train(train_budget, callbacks);
    if (r.status == train::TrainStatus::failed) throw Error(r.message);
    const double accuracy = m_settings.training.best_over_epochs ? best_accuracy : last_accuracy;
    exec::TrialResult result;
    result.loss = 1.0 - accuracy;
    const bool finished = m_settings.time_budget ? trainer->seconds_trained() >= ctx.budget : trainer->epochs_done() >= ctx.budget - 1e-9;
    const bool cut = r.status == train::TrainStatus::stopped && !early_stopped && !finished;
    result.info = {{"val_accuracy", accuracy},
                   {"epochs", trainer->epochs_done()},
                   {"train_seconds", trainer->seconds_trained()},
                   {"early_stopped", early_stopped}};
    if (cut) {
      result.stopped = true;
      result.out_of_time = out_of_time;
      if (!evaluated_at_cut || ctx.checkpoint_dir.empty()) return result;
      result.info["cut_at"] = reached();
      result.checkpoint_budget = reached();
      spdlog::info("trial {} cut at the deadline after {:.3g} of its {:g} {}: validation accuracy {:.4f} there", ctx.trial_id,
                   reached(), ctx.budget, m_settings.time_budget ? "seconds" : "epochs", accuracy);
      m_settings.eval_pace->model(ctx.trial_id, reached(), result.loss);
    } else {
      m_settings.eval_pace->model(ctx.trial_id, ctx.budget, result.loss);
      for (double seen = m_largest_complete.load(); ctx.budget > seen && !m_largest_complete.compare_exchange_weak(seen, ctx.budget);) {
      }
    }
    if (!ctx.checkpoint_dir.empty()) {
      trainer->save_checkpoint(ctx.checkpoint_dir, !ctx.largest_budget);
      // What ensemble selection at the export reads (export/ensemble.hpp): this trial's probabilities on the
      // whole validation set, from the weights the checkpoint holds. Trials validated on a subset have none.
      const auto& probabilities = trainer->validation_probabilities();
      if (probabilities.defined() && validation.size() == m_settings.split->validation.size() &&
          probabilities.size(0) == validation.size() && probabilities.numel() <= export_::k_max_stored_probabilities)
        export_::save_probabilities(probabilities, std::filesystem::path(ctx.checkpoint_dir) / export_::k_validation_probabilities_file);
      result.checkpoint = ctx.checkpoint_dir;
    }
    return result;
  }

  static bool injected_oom(std::int64_t trial_id) {
    const char* v = std::getenv("AUTOML_TEST_INJECT_OOM");
    return v && *v && std::to_string(trial_id) == v;
  }

  TrialObjectiveSettings m_settings;
  DeviceSlots m_slots{m_settings.devices.size()};
  ValidationSubsets m_validation_sets;
  // The largest budget a trial has completed: a trial cut at the deadline after getting further is evaluated there.
  std::atomic<double> m_largest_complete;
};

} // namespace

TrialObjectiveSettings objective_settings(const steps::SearchInputs& in, std::uint64_t seed, double schedule_scale,
                                          double largest_complete, steps::EvalPace& eval_pace) {
  TrialObjectiveSettings s;
  s.split = &in.split;
  s.devices = in.devices;
  s.precision = in.precision;
  s.training = in.setup.run.training;
  s.time_budget = in.time_budget;
  s.max_budget = in.setup.run.budget.max_budget;
  s.seed = seed;
  s.schedule_scale = schedule_scale;
  s.largest_complete = largest_complete;
  s.eval_pace = &eval_pace;
  return s;
}

DeviceSlots::DeviceSlots(std::size_t devices) : m_running(devices, 0) {
  if (devices == 0) throw Error("DeviceSlots: no device");
}

std::size_t DeviceSlots::acquire() {
  std::lock_guard lock(m_mutex);
  const auto least = static_cast<std::size_t>(std::min_element(m_running.begin(), m_running.end()) - m_running.begin());
  ++m_running[least];
  return least;
}

void DeviceSlots::release(std::size_t device) {
  std::lock_guard lock(m_mutex);
  if (device < m_running.size() && m_running[device] > 0) --m_running[device];
}

std::vector<std::size_t> DeviceSlots::running() const {
  std::lock_guard lock(m_mutex);
  return m_running;
}

exec::Objective make_trial_objective(const TrialObjectiveSettings& settings) {
  if (!settings.split || !settings.eval_pace) throw Error("make_trial_objective: split and eval_pace are required");
  if (settings.devices.empty()) throw Error("make_trial_objective: no device");
  auto objective = std::make_shared<TrialObjective>(settings);
  return [objective](const exec::TrialContext& ctx) { return objective->run(ctx); };
}

} // namespace automl::commands
