#include "commands/search_refit.hpp"

#include "core/hyperparameters.hpp"
#include "exec/search.hpp"
#include "train/scheduler.hpp"
#include "train/trainer.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <mutex>
#include <thread>

namespace automl::commands {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// How many times more samples the refit trains on than the trials did.
double data_growth(const RefitSettings& s) {
  const auto trained = std::max<std::int64_t>(1, s.all->size() - s.validation->size());
  return static_cast<double>(s.all->size()) / static_cast<double>(trained);
}

// The budget the model was trained to: a trial cut at the deadline got only as far as its last report.
double trained_budget(const study::Trial& t) {
  if (t.state == study::TrialState::pruned && !t.metrics.empty()) return t.metrics.back().step;
  return t.budget;
}

void refit_one(const study::Trial& t, const RefitSettings& s, torch::Device device, RefitOutcome& out) {
  const auto start = Clock::now();
  const core::Hyperparameters hp(nlohmann::json::parse(t.config));
  const auto& all = *s.all;
  train::Trainer trainer(hp, all, all.subset({}), t.seed, device);
  trainer.set_precision(s.precision);
  trainer.set_schedule_scale(train::shrunk_schedule_scale(hp, s.schedule_scale, s.max_budget));
  train::TrainBudget budget;
  if (s.time_budget) budget.seconds = trained_budget(t) * data_growth(s);
  else budget.epochs = trained_budget(t);
  train::TrainCallbacks callbacks;
  callbacks.should_stop = [&] { return Clock::now() >= s.deadline || (s.stop_requested && s.stop_requested()); };
  const auto r = trainer.train(budget, callbacks);
  out.epochs = trainer.epochs_done();
  if (r.status == train::TrainStatus::failed) {
    out.reason = r.message;
  } else if (r.status != train::TrainStatus::budget_reached) {
    out.reason = fmt::format("stopped at the deadline after {:.2f} epochs", trainer.epochs_done());
  } else {
    // Trained on these samples, it should get about as many right as the trial did without seeing them, or more.
    // Less by more than k_refit_fit_margin standard errors of the trial's accuracy on them: it went wrong.
    out.fit_accuracy = trainer.evaluate(*s.validation).accuracy;
    const double trial_accuracy = 1.0 - t.loss.value_or(1.0);
    const double n = static_cast<double>(std::max<std::int64_t>(1, s.validation->size()));
    const double margin = k_refit_fit_margin * std::sqrt(trial_accuracy * (1.0 - trial_accuracy) / n);
    if (out.fit_accuracy < trial_accuracy - margin)
      out.reason = fmt::format("its accuracy on the validation samples it trained on, {:.4f}, is below the trial's "
                               "{:.4f} on them unseen (by more than {:.4f}): not kept", out.fit_accuracy, trial_accuracy, margin);
    else
      out.pipeline = trainer.pipeline();
  }
  out.seconds = seconds_between(start, Clock::now());
}

} // namespace

std::vector<RefitOutcome> refit_models(const std::vector<const study::Trial*>& models,
                                       const std::vector<study::Trial>& trials, const RefitSettings& s) {
  std::vector<RefitOutcome> outcomes(models.size());
  // With budgets in seconds the refit trains for the trial's seconds times the growth too.
  const double scale = data_growth(s);
  for (std::size_t i = 0; i < models.size(); ++i) {
    outcomes[i].trial_id = models[i]->id;
    outcomes[i].estimate_s = k_refit_safety * exec::chain_seconds(trials, *models[i]) * scale;
  }
  std::mutex mutex;
  std::size_t next = 0;
  // The next model whose estimate fits in the time left; those that do not are skipped with the reason.
  const auto take = [&]() -> std::optional<std::size_t> {
    std::lock_guard lock(mutex);
    while (next < models.size()) {
      const std::size_t i = next++;
      const double left = seconds_between(Clock::now(), s.deadline);
      if (s.stop_requested && s.stop_requested()) {
        outcomes[i].reason = "stopped by a signal";
      } else if (outcomes[i].estimate_s > left) {
        outcomes[i].reason = fmt::format("needs about {:.1f} s, {:.1f} s left", outcomes[i].estimate_s, std::max(0.0, left));
      } else {
        spdlog::info("refit: training trial {}'s configuration on all {} samples for {:g} {} (about {:.0f} s of {:.0f} "
                     "s left)", models[i]->id, s.all->size(), trained_budget(*models[i]),
                     s.time_budget ? "s of training" : "epochs", outcomes[i].estimate_s, left);
        return i;
      }
    }
    return std::nullopt;
  };
  const auto work = [&](torch::Device device) {
    while (const auto i = take()) {
      auto& out = outcomes[*i];
      try {
        refit_one(*models[*i], s, device, out);
      } catch (const std::exception& e) {
        out.reason = e.what();
        std::replace(out.reason.begin(), out.reason.end(), '\n', ' ');
      }
      if (out.pipeline)
        spdlog::info("refit: trial {} done in {:.1f} s (accuracy {:.4f} on the validation samples it trained on)",
                     out.trial_id, out.seconds, out.fit_accuracy);
      else
        spdlog::warn("refit: trial {} keeps its own weights: {}", out.trial_id, out.reason);
    }
  };
  const std::size_t workers = std::max<std::size_t>(1, std::min(s.workers, models.size()));
  std::vector<std::thread> threads;
  for (std::size_t w = 1; w < workers; ++w) threads.emplace_back(work, s.devices[w % s.devices.size()]);
  work(s.devices.front());
  for (auto& t : threads) t.join();
  return outcomes;
}

nlohmann::json refit_json(const std::vector<RefitOutcome>& outcomes, std::int64_t samples, double seconds) {
  nlohmann::json models = nlohmann::json::array();
  bool all_done = !outcomes.empty();
  std::string first_reason;
  for (const auto& o : outcomes) {
    nlohmann::json m{{"trial_id", o.trial_id}, {"done", o.pipeline.has_value()}, {"seconds", o.seconds},
                     {"epochs", o.epochs}, {"estimate_s", o.estimate_s}};
    if (!std::isnan(o.fit_accuracy)) m["fit_accuracy"] = o.fit_accuracy;
    if (!o.pipeline) {
      m["reason"] = o.reason;
      all_done = false;
      if (first_reason.empty()) first_reason = fmt::format("trial {}: {}", o.trial_id, o.reason);
    }
    models.push_back(m);
  }
  nlohmann::json j{{"requested", true}, {"done", all_done}, {"samples", samples}, {"seconds", seconds}, {"models", models}};
  if (!first_reason.empty()) j["reason"] = first_reason;
  return j;
}

} // namespace automl::commands
