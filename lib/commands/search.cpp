#include "commands/search.hpp"

#include "commands/report.hpp"
#include "commands/study_report.hpp"
#include "config/preset.hpp"
#include "core/cpus.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/signals.hpp"
#include "data/source.hpp"
#include "exec/search.hpp"
#include "export/inference.hpp"
#include "export/model_file.hpp"
#include "export/trial_logs.hpp"
#include "hpo/fidelity.hpp"
#include "hpo/generator.hpp"
#include "study/storage.hpp"
#include "train/pace.hpp"
#include "train/preflight.hpp"
#include "train/runtime.hpp"
#include "train/trainer.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <torch/version.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <ostream>
#include <set>
#include <sstream>
#include <thread>

namespace automl::commands {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The longest --budget: a year. Beyond it the deadline arithmetic (steady_clock nanoseconds) would overflow.
constexpr double k_max_budget_s = 365.0 * 24 * 3600;
// What the end of a search costs per trial (removing the checkpoints no longer needed, reading the trials,
// writing trials.csv, configs.json and results.json): measured 0.6 s for 392 one-epoch trials of a 10 s search,
// 1.5 ms a trial, on the 2-core development machine (strace timestamps); kept with a margin in the export's
// reserve, which grows as trials start.
constexpr double k_log_seconds_per_trial = 2e-3;
// With --report, what the report costs (the analysis and the page, from trials already read): 0.04 s for 10,000
// trials on the development machine, 0.55 s with reading them in a fresh process (bench/README.md "report"),
// kept with a wide margin; plus Graphviz drawing the model.
constexpr double k_report_seconds_per_trial = 4e-4;
constexpr double k_report_graph_s = 1.0;
// A study database locked by another process is waited for at most this share of the budget (1-60 s) per
// operation, then the search fails: a 10 s search must not wait a minute for a lock.
constexpr double k_lock_wait_share = 0.05;
// Upper bound of --workers: enough for any machine, small enough that a typo (or -1, which a size_t would
// wrap) is an error instead of thousands of threads.
constexpr std::size_t k_max_workers = 256;
// Time kept back from the search for the export (loading the winner, saving and re-checking best_model.pt, the
// test evaluation, the logs): this share of the budget, within [k_export_min_s, k_export_max_s].
constexpr double k_export_share = 0.02;
constexpr double k_export_min_s = 0.5;
constexpr double k_export_max_s = 30.0;
// With --refit, this share of the budget is kept back for retraining the best configuration on train+validation.
constexpr double k_refit_share = 0.25;
// The refit's time is estimated from the best trial's own (and its ancestors') time, scaled by the data size,
// times this safety factor.
constexpr double k_refit_safety = 1.15;
// The export also needs time in proportion to the evaluation it runs (the test set): the search measures the
// validation passes (the pace probe's, then its trials') and, when k_export_min_s + k_export_safety x that
// estimate exceeds the reserve, brings its deadline forward. (A trial does not start a validation pass that
// would end after the deadline: it stops and is PRUNED instead.)
constexpr double k_export_safety = 1.5;
// How many raw samples the export check compares between the saved file and the model in memory.
constexpr std::int64_t k_check_samples = 64;
// How often the progress monitor looks at the study.
constexpr double k_live_poll_s = 0.5;
constexpr double k_log_poll_s = 1.0;
// How long the start samples /proc/stat to see how many cores other processes keep busy.
constexpr double k_cpu_sample_s = 0.3;
// The smallest rung trains at least this many samples (or one epoch of a smaller data set): less ranks
// configurations by their initialisation more than by what they learn.
constexpr double k_smallest_rung_samples = 2048;
// A trial may take this many times what the median pace of the completed trials gives for its budget: in
// tiny_cs a few configurations train 30-60x slower than the median (measured: 49 and 62 s for 1/9 epoch where
// the median trial took 1-3 s), and a short search cannot afford them.
constexpr double k_slow_trial_factor = 8.0;
// ...and at least this share of the search's time (and 2 s), once 5 trials have completed (the first is the
// default, often among the fastest).
constexpr double k_min_trial_limit_share = 0.02;
// Trials on less than an epoch are validated on at least this many samples (or the whole validation set).
constexpr std::int64_t k_min_validation_samples = 2000;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

Clock::time_point after(Clock::time_point t, double seconds) {
  return t + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

std::string iso_time(double unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

nlohmann::json number_or_null(std::optional<double> v) {
  return v && std::isfinite(*v) ? nlohmann::json(*v) : nlohmann::json();
}

void check_flags(const SearchOptions& o) {
  if (o.preset.empty() && o.space_file.empty())
    throw InputError("search: give a preset (--preset NAME|FILE) or a search-space file (--space FILE)");
  if (!o.budget) throw InputError("search: --budget SECONDS is required (wall-clock time for the whole command)");
  if (!(*o.budget > 0 && *o.budget <= k_max_budget_s))
    throw InputError(fmt::format("--budget: must be > 0 and at most {:.0f} seconds (a year), got {:g}", k_max_budget_s, *o.budget));
  if (o.budget_type && *o.budget_type != "epochs" && *o.budget_type != "time")
    throw InputError(fmt::format("--budget-type: expected epochs or time, got '{}'", *o.budget_type));
  if (o.min_budget && !(*o.min_budget > 0 && std::isfinite(*o.min_budget)))
    throw InputError(fmt::format("--min-budget: must be a finite number > 0, got {}", *o.min_budget));
  if (o.max_budget && !(*o.max_budget > 0 && std::isfinite(*o.max_budget)))
    throw InputError(fmt::format("--max-budget: must be a finite number > 0, got {}", *o.max_budget));
  if (o.eta && !(*o.eta > 1 && std::isfinite(*o.eta)))
    throw InputError(fmt::format("--eta: must be a finite number > 1, got {}", *o.eta));
  if (o.validation_split && !(*o.validation_split > 0 && *o.validation_split < 1))
    throw InputError(fmt::format("--validation-split: must be in (0, 1), got {}", *o.validation_split));
  if (o.workers && !(*o.workers >= 1 && *o.workers <= k_max_workers))
    throw InputError(fmt::format("--workers: must be between 1 and {}, got {}", k_max_workers, *o.workers));
  if (!(o.threads >= 0 && o.threads <= train::k_max_threads))
    throw InputError(fmt::format("--threads: must be between 0 and {}, got {}", train::k_max_threads, o.threads));
  if (o.iterations && *o.iterations < 1) throw InputError("--iterations: must be >= 1, got 0");
  if (o.trace_test && o.test.empty()) throw InputError("--trace-test needs --test SOURCE");
  if (o.fail_under && !(*o.fail_under >= 0 && *o.fail_under <= 1))
    throw InputError(fmt::format("--fail-under: must be in [0, 1], got {}", *o.fail_under));
  const auto names = hpo::optimizer_names();
  if (std::find(names.begin(), names.end(), o.optimizer) == names.end())
    throw InputError(fmt::format("--optimizer: unknown '{}'; valid: {}", o.optimizer, fmt::join(names, ", ")));
}

std::string default_study_name(const SearchOptions& o) {
  return fs::path(o.preset.empty() ? o.space_file : o.preset).stem().string();
}

// The run settings of the preset with the flags on top.
void apply_flags(config::RunConfig& run, const SearchOptions& o) {
  if (o.validation_split) run.data.validation_split = *o.validation_split;
  if (o.budget_type) run.budget.budget_type = *o.budget_type == "time" ? config::BudgetType::time : config::BudgetType::epochs;
  if (o.min_budget) run.budget.min_budget = *o.min_budget;
  if (o.max_budget) run.budget.max_budget = *o.max_budget;
  if (o.eta) run.budget.eta = *o.eta;
  if (run.budget.min_budget > run.budget.max_budget)
    throw InputError(fmt::format("--min-budget {} > --max-budget {} (after the preset's values)", run.budget.min_budget,
                                 run.budget.max_budget));
}

nlohmann::json options_json(const SearchOptions& o) {
  const auto opt = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  return {{"preset", o.preset},       {"budget", opt(o.budget)},
          {"data", o.data},           {"target", o.target},
          {"test", o.test},           {"flatten", o.flatten},
          {"space", o.space_file},    {"space_update", o.space_updates},
          {"budget_type", opt(o.budget_type)}, {"min_budget", opt(o.min_budget)},
          {"max_budget", opt(o.max_budget)},   {"eta", opt(o.eta)},
          {"validation_split", opt(o.validation_split)}, {"optimizer", o.optimizer},
          {"iterations", opt(o.iterations)},   {"workers", opt(o.workers)},
          {"threads", o.threads},     {"device", o.device},
          {"seed", o.seed},           {"storage", o.storage},
          {"study", o.study},         {"resume", o.resume},
          {"refit", o.refit},         {"portfolio", o.portfolio}, {"out", o.out},
          {"fail_under", opt(o.fail_under)}, {"trace_test", o.trace_test}};
}

// Adds <out>/search.log to the default logger for the duration of the command (at info level or finer, whatever
// the console shows) and quiets the console to warnings when asked; restores everything on destruction. Made
// before any worker thread starts and destroyed after they end.
class LogSession {
public:
  LogSession(const fs::path& file, bool quiet_console) : m_logger(spdlog::default_logger()), m_path(file) {
    m_level = m_logger->level();
    m_flush_level = m_logger->flush_level();
    for (const auto& sink : m_logger->sinks()) {
      m_sink_levels.push_back(sink->level());
      if (quiet_console) sink->set_level(std::max<spdlog::level::level_enum>(m_level, spdlog::level::warn));
    }
    // Kept in memory until commit(): a run refused before it starts leaves no trace in the directory.
    m_file = std::make_shared<spdlog::sinks::ostream_sink_mt>(m_buffer);
    m_file->set_pattern(k_pattern);
    m_file_level = std::min<spdlog::level::level_enum>(m_level, spdlog::level::info);
    m_file->set_level(m_file_level);
    m_logger->sinks().push_back(m_file);
    m_logger->set_level(m_file_level);
    m_logger->flush_on(spdlog::level::info);
  }
  // From here on the log goes to the file (appended), starting with what was logged so far.
  void commit() {
    m_logger->flush();
    {
      std::ofstream out(m_path, std::ios::app);
      out << m_buffer.str();
      if (!out) throw Error(fmt::format("{}: cannot write", m_path.string()));
    }
    auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(m_path.string());
    file->set_pattern(k_pattern);
    file->set_level(m_file_level);
    auto& sinks = m_logger->sinks();
    std::replace(sinks.begin(), sinks.end(), m_file, spdlog::sink_ptr(file));
    m_file = file;
  }
  ~LogSession() {
    m_logger->flush();
    auto& sinks = m_logger->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), m_file), sinks.end());
    for (std::size_t i = 0; i < sinks.size() && i < m_sink_levels.size(); ++i) sinks[i]->set_level(m_sink_levels[i]);
    m_logger->set_level(m_level);
    m_logger->flush_on(m_flush_level);
  }
  LogSession(const LogSession&) = delete;
  LogSession& operator=(const LogSession&) = delete;

private:
  static constexpr const char* k_pattern = "[%Y-%m-%d %H:%M:%S.%e] %l %v";
  std::shared_ptr<spdlog::logger> m_logger;
  fs::path m_path;
  std::ostringstream m_buffer;
  spdlog::sink_ptr m_file;
  spdlog::level::level_enum m_file_level = spdlog::level::info;
  spdlog::level::level_enum m_level;
  spdlog::level::level_enum m_flush_level;
  std::vector<spdlog::level::level_enum> m_sink_levels;
};

// While the search runs, turns the first SIGINT/SIGTERM into a stop of the search (core/signals.hpp): no new
// trials, the running ones cut at their next batch; the export and the files follow as at the deadline.
class SignalWatch {
public:
  SignalWatch(const core::StopSignals& signals, exec::Search& search)
      : m_thread([this, &signals, &search] {
          std::unique_lock lock(m_mutex);
          while (!m_done) {
            if (const int s = signals.received()) {
              spdlog::warn("{} received: stopping the running trials, then exporting the best so far and writing the "
                           "study's files (a second signal exits at once; --resume continues the study)",
                           core::StopSignals::name(s));
              search.request_stop();
              return;
            }
            m_wake.wait_for(lock, std::chrono::milliseconds(k_signal_poll_ms));
          }
        }) {}
  ~SignalWatch() {
    {
      std::lock_guard lock(m_mutex);
      m_done = true;
    }
    m_wake.notify_all();
    m_thread.join();
  }
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

private:
  static constexpr int k_signal_poll_ms = 50;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_done = false;
  std::thread m_thread; // last: started once the members above exist
};

// Watches the study while the search runs: one log line per finished trial and, on a terminal, one progress line
// redrawn on stderr. Reads the storage only (so it also sees trials of other processes on the same study).
class ProgressMonitor {
public:
  // `on_new_best` (may be empty) is called on the monitor's thread with each new incumbent.
  ProgressMonitor(study::Storage& storage, std::int64_t study_id, Clock::time_point start, double budget,
                  std::string unit, bool live, std::function<void(const study::Trial&)> on_new_best)
      : m_storage(storage), m_study_id(study_id), m_start(start), m_budget(budget), m_unit(std::move(unit)),
        m_live(live), m_on_new_best(std::move(on_new_best)) {
    for (const auto& t : m_storage.trials(m_study_id))
      if (t.state != study::TrialState::running) m_seen.insert({t.id, t.attempts});
    m_thread = std::thread([this] { loop(); });
  }
  ~ProgressMonitor() { stop(); }
  ProgressMonitor(const ProgressMonitor&) = delete;
  ProgressMonitor& operator=(const ProgressMonitor&) = delete;

  void stop() {
    {
      std::lock_guard lock(m_mutex);
      if (m_stopped) return;
      m_stopped = true;
    }
    m_wake.notify_all();
    m_thread.join();
    try {
      poll(); // the trials that ended with the search
    } catch (const std::exception& e) {
      spdlog::debug("progress: cannot read the study: {}", e.what());
    }
    if (m_live && m_drawn) std::cerr << "\r\033[K" << std::flush;
  }

private:
  void loop() {
    std::unique_lock lock(m_mutex);
    while (!m_stopped) {
      lock.unlock();
      try {
        poll();
      } catch (const std::exception& e) {
        spdlog::debug("progress: cannot read the study: {}", e.what());
      }
      lock.lock();
      m_wake.wait_for(lock, std::chrono::duration<double>(m_live ? k_live_poll_s : k_log_poll_s), [this] { return m_stopped; });
    }
  }

  void poll() {
    const auto trials = m_storage.trials(m_study_id);
    const auto best = exec::best_trial(trials);
    const double now = core::unix_now();
    if (m_live && m_drawn) std::cerr << "\r\033[K";
    for (const auto& t : trials) {
      if (t.state == study::TrialState::running || !m_seen.insert({t.id, t.attempts}).second) continue;
      const auto acc = trial_accuracy(t);
      std::string what;
      if (t.state == study::TrialState::fail) what = "failed: " + t.error;
      else if (t.state == study::TrialState::pruned) what = fmt::format("pruned at the deadline after {:g} {}", t.metrics.empty() ? 0.0 : t.metrics.back().step, m_unit);
      else what = fmt::format("complete, val_acc {:.4f}", acc.value_or(std::nan("")));
      spdlog::info("trial {} {} budget {:g} {}: {} ({:.1f} s){}", t.id, t.config_id(), t.budget, m_unit, what,
                   trial_seconds(t, now),
                   best ? fmt::format("; best {:.4f} (trial {}, {:g} {})", 1.0 - *best->loss, best->id, best->budget, m_unit) : "");
    }
    if (best && best->id != m_best_id && m_on_new_best) {
      m_best_id = best->id;
      try {
        m_on_new_best(*best);
      } catch (const std::exception& e) {
        spdlog::warn("trial {}: {}", best->id, e.what());
      }
    }
    if (!m_live) return;
    const auto c = count_trials(trials);
    std::string bracket;
    for (const auto& t : trials)
      if (t.state == study::TrialState::running)
        bracket = fmt::format(" | iteration {} bracket s={} rung {}", t.iteration, t.bracket, t.rung);
    std::cerr << fmt::format("[{:5.0f}/{:.0f} s] trials {} running, {} complete, {} pruned, {} failed | best val_acc {}{}",
                             seconds_since(m_start), m_budget, c.running, c.complete, c.pruned, c.failed,
                             best ? fmt::format("{:.4f} (trial {})", 1.0 - *best->loss, best->id) : std::string("-"), bracket)
              << std::flush;
    m_drawn = true;
  }

  study::Storage& m_storage;
  std::int64_t m_study_id;
  Clock::time_point m_start;
  double m_budget;
  std::string m_unit;
  bool m_live;
  std::function<void(const study::Trial&)> m_on_new_best;
  std::int64_t m_best_id = -1;
  bool m_drawn = false;
  std::set<std::pair<std::int64_t, int>> m_seen; // (trial id, attempt) already logged
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stopped = false;
  std::thread m_thread;
};

// Seconds the best trial's training took, its ancestors' included when it continued from their checkpoints.
double chain_seconds(const std::vector<study::Trial>& trials, const study::Trial& best) {
  double seconds = 0;
  std::optional<std::int64_t> id = best.id;
  while (id) {
    const auto it = std::find_if(trials.begin(), trials.end(), [&](const study::Trial& t) { return t.id == *id; });
    if (it == trials.end()) break;
    seconds += trial_seconds(*it, core::unix_now());
    id = it->parent_id;
  }
  return seconds;
}

// Removes the checkpoints nothing can use any more: those of trials on the largest budget and of trials that a
// completed promotion continued from, except the best trial's. A checkpoint a pruned (to be rerun) promotion still
// needs, or one that a later promotion may need on resume, stays.
void prune_checkpoints(const fs::path& dir, const std::vector<study::Trial>& trials, std::int64_t keep, double max_budget) {
  std::set<std::int64_t> continued;
  for (const auto& t : trials)
    if (t.parent_id && t.state == study::TrialState::complete) continued.insert(*t.parent_id);
  for (const auto& t : trials) {
    const auto path = dir / ("trial_" + std::to_string(t.id));
    std::error_code ec;
    if (t.id == keep || !fs::exists(path, ec) || t.state == study::TrialState::running) continue;
    const bool useless = t.state != study::TrialState::complete || continued.count(t.id) ||
                         t.budget >= max_budget * (1 - 1e-9);
    if (useless) fs::remove_all(path, ec);
  }
}

// The slowest evaluation seen so far, in seconds per sample (validation passes of all trials: the exported
// model is not known before the end). Thread safe.
class EvalPace {
public:
  void observe(double seconds, std::int64_t samples) {
    if (!(seconds > 0) || samples <= 0) return;
    std::lock_guard lock(m_mutex);
    m_per_sample = std::max(m_per_sample, seconds / static_cast<double>(samples));
  }
  double seconds_for(std::int64_t samples) const {
    std::lock_guard lock(m_mutex);
    return m_per_sample * static_cast<double>(samples);
  }

private:
  mutable std::mutex m_mutex;
  double m_per_sample = 0;
};

// The stored settings of study `name` in `storage`, when it exists.
std::optional<study::StudyRecord> stored_study(study::Storage& storage, const std::string& name) {
  for (auto& s : storage.studies())
    if (s.name == name) return s;
  return std::nullopt;
}

// What the pace probe measured and the rungs chosen from it, for the log and effective_config.json.
struct BudgetPlan {
  hpo::FidelityPlan plan;
  nlohmann::json json;
};

// The pace per trial of a measured configuration, on this split.
hpo::TrialPace trial_pace(const train::MeasuredPace& m, const data::TrainValidation& split, bool time_budget) {
  hpo::TrialPace pace;
  pace.time_budget = time_budget;
  pace.setup_seconds = m.setup_seconds;
  pace.epoch_seconds = m.train_seconds_per_sample * static_cast<double>(split.train.size());
  pace.eval_seconds = m.eval_seconds_per_sample * static_cast<double>(split.validation.size());
  pace.min_eval_fraction = std::min(1.0, static_cast<double>(k_min_validation_samples) /
                                             static_cast<double>(std::max<std::int64_t>(1, split.validation.size())));
  return pace;
}

nlohmann::json pace_json(const hpo::TrialPace& pace) {
  return {{"setup_s", pace.setup_seconds}, {"epoch_s", pace.epoch_seconds}, {"validation_pass_s", pace.eval_seconds}};
}

// Sizes the rungs to the time the search has (hpo::plan_fidelity) from `first`, the measured pace of the default
// configuration (the study's first trial). Budgets set by flags stay as they are.
BudgetPlan plan_budgets(const SearchOptions& o, const config::LoadedSetup& setup, const data::TrainValidation& split,
                        std::size_t workers, double search_seconds, const train::MeasuredPace& first) {
  const auto& budget = setup.run.budget;
  const bool time_budget = budget.budget_type == config::BudgetType::time;
  hpo::FidelityInputs in;
  in.search_seconds = search_seconds;
  in.workers = workers;
  in.pace = trial_pace(first, split, time_budget);
  in.min_budget = budget.min_budget;
  in.max_budget = budget.max_budget;
  in.eta = budget.eta;
  in.min_fixed = o.min_budget.has_value();
  in.max_fixed = o.max_budget.has_value();
  const double smallest_samples = std::min(k_smallest_rung_samples, static_cast<double>(split.train.size()));
  in.smallest_budget = time_budget ? in.pace.eval_seconds + smallest_samples * first.train_seconds_per_sample
                                   : smallest_samples / static_cast<double>(split.train.size());
  in.hyperband = o.optimizer != "random";
  BudgetPlan result;
  result.plan = hpo::plan_fidelity(in);
  result.json = {{"measured",
                  {{"first_setup_s", first.first_setup_seconds},
                   {"default", pace_json(in.pace)},
                   {"samples_trained", first.samples_trained},
                   {"samples_evaluated", first.samples_evaluated}}},
                 {"search_s", search_seconds},
                 {"workers", workers},
                 {"preset", {{"min_budget", budget.min_budget}, {"max_budget", budget.max_budget}}},
                 {"min_budget", result.plan.min_budget},
                 {"max_budget", result.plan.max_budget},
                 {"first_trial_s", result.plan.first_trial_seconds},
                 {"cycle_s", result.plan.cycle_seconds},
                 {"reason", result.plan.reason}};
  return result;
}

// The validation set a trial is scored on. Trials below an epoch and below the largest rung are validated on a
// stratified subset in proportion to their budget, at least k_min_validation_samples: at 1/9 epoch a pass over
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
    return std::clamp(share, std::min(n, k_min_validation_samples), n);
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

// The rungs of a search, set in setup.run.budget, and what goes with them.
struct RungPlan {
  nlohmann::json fidelity;           // for effective_config.json
  double prior_seconds_per_unit = 0; // the measured pace, for the first trials' deadline checks
  double schedule_scale = 1;         // Trainer::set_schedule_scale
  std::vector<space::Config> portfolio; // the preset's portfolio entries that fit the time (new studies)
};

// The portfolio entries that can reach the largest rung in their share of the time (hpo::portfolio_entry_fits),
// each measured like the default; the others are left out with a log line. `fidelity` gets what was measured.
std::vector<space::Config> portfolio_that_fits(const config::LoadedSetup& setup, const data::TrainValidation& split,
                                               const SearchOptions& o, torch::Device device, std::size_t workers,
                                               double search_seconds, nlohmann::json& fidelity) {
  const auto& budget = setup.run.budget;
  const bool time_budget = budget.budget_type == config::BudgetType::time;
  std::vector<space::Config> kept;
  nlohmann::json measured = nlohmann::json::array();
  train::PaceOptions probe;
  probe.eval_batch_size = setup.run.training.eval_batch_size;
  // Cheaper than the default's probe (whose first batch also pays the preprocessing fit): two batches and a few
  // validation samples tell whether an entry is 4x or 20x the default's pace, which is all the choice needs,
  // and in a 90 s search every second of probing is a second less for the trials.
  probe.batches = 2;
  probe.eval_samples = 32;
  probe.max_seconds = 1;
  for (std::size_t i = 0; i < setup.portfolio.size(); ++i) {
    const auto& entry = setup.portfolio[i];
    const auto m = train::measure_pace(core::Hyperparameters(space::to_json(entry)), split.train, split.validation, o.seed,
                                       device, probe);
    const double seconds = trial_pace(m, split, time_budget).with_largest_rung(budget.max_budget).seconds(budget.max_budget);
    const bool fits = hpo::portfolio_entry_fits(seconds, search_seconds, workers);
    measured.push_back({{"entry", i}, {"largest_rung_s", seconds}, {"kept", fits}});
    if (fits) {
      kept.push_back(entry);
    } else {
      spdlog::info("portfolio: entry {} left out: it would take about {:.0f} s to reach {:g} {}, more than {:.0f}% of the "
                   "{:.0f} worker-seconds of the search",
                   i + 1, seconds, budget.max_budget, time_budget ? "s" : "epochs", 100 * hpo::k_portfolio_share,
                   search_seconds * static_cast<double>(workers));
    }
  }
  fidelity["portfolio"] = measured;
  return kept;
}

// A resumed study keeps the rungs it was planned with (a flag that asks for others makes the resume refuse, as
// any changed setting does); a new one measures the pace of the space's default configuration and sizes them to
// the time left for the search (`search_seconds`, asked after the measurement; budgets set by flags stay). Rungs
// shrunk to the time shrink the learning-rate schedule with them: a cosine over 10 epochs meant for rungs up to
// 9 epochs anneals within 0.2 epochs when the rungs end at 0.18. Throws Error (exit 1) when not even the smallest
// trial fits.
// `stored`: the settings of the study being resumed, if any.
RungPlan plan_rungs(const SearchOptions& o, config::LoadedSetup& setup, const data::TrainValidation& split,
                    const std::optional<nlohmann::json>& stored, torch::Device device, std::size_t workers,
                    EvalPace& eval_pace, const std::function<double()>& search_seconds) {
  auto& budget = setup.run.budget;
  const double preset_max_budget = budget.max_budget;
  RungPlan plan;
  if (stored && stored->contains("min_budget") && stored->contains("max_budget")) {
    if (!o.min_budget) budget.min_budget = stored->at("min_budget").get<double>();
    if (!o.max_budget) budget.max_budget = stored->at("max_budget").get<double>();
    plan.fidelity = {{"resumed", true}, {"min_budget", budget.min_budget}, {"max_budget", budget.max_budget}};
  } else {
    // The default configuration: the study's first trial. (Sampled configurations were tried too: a handful of
    // them says too little about a space whose sizes vary a hundredfold, and the search's deadline checks use
    // the pace of the trials themselves once they run.)
    train::PaceOptions probe;
    probe.eval_batch_size = setup.run.training.eval_batch_size;
    const auto first = train::measure_pace(core::Hyperparameters(space::to_json(setup.space.default_config())),
                                           split.train, split.validation, o.seed, device, probe);
    eval_pace.observe(first.eval_seconds_per_sample * static_cast<double>(first.samples_evaluated),
                      first.samples_evaluated);
    const double seconds_for_search = search_seconds();
    const auto planned = plan_budgets(o, setup, split, workers, seconds_for_search, first);
    if (!planned.plan.fits)
      throw Error(fmt::format("search: no trial can finish within --budget {:g}: {}", *o.budget, planned.plan.reason));
    spdlog::info("rungs: {}", planned.plan.reason);
    budget.min_budget = planned.plan.min_budget;
    budget.max_budget = planned.plan.max_budget;
    plan.prior_seconds_per_unit = planned.plan.first_trial_seconds / planned.plan.min_budget; // the default goes first
    plan.fidelity = planned.json;
    if (o.portfolio && !setup.portfolio.empty())
      plan.portfolio = portfolio_that_fits(setup, split, o, device, workers, seconds_for_search, plan.fidelity);
  }
  if (budget.budget_type == config::BudgetType::epochs) plan.schedule_scale = budget.max_budget / preset_max_budget;
  plan.fidelity["schedule_scale"] = plan.schedule_scale;
  if (plan.schedule_scale != 1.0)
    spdlog::info("learning-rate schedules run {:.3g}x faster, as the rungs do (an epoch of the schedule is {:.3g} epochs)",
                 1.0 / plan.schedule_scale, plan.schedule_scale);
  return plan;
}

// The study's first configurations. A new study: the space's default (the configuration the pace probe
// measured), then the portfolio entries that fit the time and differ from it and from each other. A resumed
// study: the ones it started with (stored with its settings), whatever the preset's portfolio says now.
std::vector<space::UnitVector> initial_configs(const config::LoadedSetup& setup, const std::vector<space::Config>& portfolio,
                                               const std::optional<nlohmann::json>& stored_settings) {
  std::vector<space::Config> configs;
  if (stored_settings && stored_settings->contains("initial_configs")) {
    for (const auto& c : stored_settings->at("initial_configs")) configs.push_back(space::config_from_json(c));
  } else {
    configs.push_back(setup.space.default_config());
    for (const auto& dropped : setup.portfolio_dropped) spdlog::warn("portfolio: {}", dropped);
    for (const auto& entry : portfolio)
      if (std::find(configs.begin(), configs.end(), entry) == configs.end()) configs.push_back(entry);
    if (configs.size() > 1) spdlog::info("portfolio: {} configurations go first, after the default", configs.size() - 1);
  }
  std::vector<space::UnitVector> units;
  for (const auto& c : configs) units.push_back(setup.space.encode(c));
  return units;
}

struct ExportResult {
  nlohmann::json refit;
  std::optional<double> test_accuracy;
  double export_seconds = 0;
};

} // namespace

int search(const SearchOptions& o, std::ostream& out) {
  const auto start = Clock::now();
  const core::StopSignals signals;
  const double started_unix = core::unix_now();
  check_flags(o);
  if (!o.log_level.empty()) core::set_log_level(o.log_level);
  const double budget = *o.budget;
  const auto end = after(start, budget);

  // Everything that can be wrong with the input is found before any training.
  const data::SourceOptions source_options{o.target, o.data_dir};
  const data::Dataset dataset = data::load_source(o.data, source_options);
  std::optional<data::Dataset> test;
  if (!o.test.empty()) {
    test = data::load_source(o.test, source_options);
    export_::check_input(dataset.schema, *test);
    export_::labels_for_model(dataset.schema, *test);
  }
  config::LoadOptions load;
  load.preset = o.preset;
  load.space_file = o.space_file;
  load.space_updates = o.space_updates;
  load.data_kind = dataset.schema.kind == data::DataKind::image && !o.flatten ? config::DataKind::image : config::DataKind::feature;
  config::LoadedSetup setup = config::load_setup(load);
  apply_flags(setup.run, o);
  train::check_space_trainable(setup.space, dataset.schema);
  auto& run = setup.run;
  const bool time_budget = run.budget.budget_type == config::BudgetType::time;
  const std::string unit = time_budget ? "s" : "epochs";
  const torch::Device device = train::parse_device(o.device);
  const auto split = data::split_train_validation(dataset, run.data.validation_split, o.seed);
  if (split.validation.size() == 0)
    throw InputError(fmt::format("--validation-split {} of {} samples leaves no validation sample", run.data.validation_split,
                                 dataset.size()));

  const std::string study_name = o.study.empty() ? default_study_name(o) : o.study;
  const fs::path out_dir = o.out.empty() ? fs::path("runs") / study_name : fs::path(o.out);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec || !fs::is_directory(out_dir))
    throw InputError(fmt::format("--out {}: cannot create the directory ({})", out_dir.string(), ec.message()));
  const std::string storage_url = o.storage.empty() ? "sqlite:///" + (out_dir / "study.db").string() : o.storage;
  LogSession log_session(out_dir / "search.log", o.quiet || o.live_progress);
  study::StorageOptions storage_options;
  storage_options.lock_timeout_s = std::clamp(k_lock_wait_share * budget, 1.0, storage_options.lock_timeout_s);
  auto storage = study::open_storage(storage_url, storage_options);
  const auto stored = stored_study(*storage, study_name);
  if (stored && !o.resume)
    throw InputError(fmt::format("study '{}' already exists in {}: pass --resume to continue it, or --study NAME "
                                 "(or --out DIR) for a new one",
                                 study_name, storage_url));
  // What makes a resume impossible is found now, before the pace probe spends time (the other settings are
  // compared when the study is opened, below: still before anything is written).
  if (stored) study::check_same_space_and_seed(*stored, setup.space.fingerprint(), o.seed, storage_url);
  const auto existing = stored ? std::optional<nlohmann::json>(stored->settings) : std::nullopt;

  // Workers and threads from the cores that are free now; flags override.
  const auto cpus = core::read_cpus(k_cpu_sample_s);
  const auto parallel = core::choose_parallelism(cpus, o.workers, o.threads > 0 ? std::optional<int>(o.threads) : std::nullopt,
                                                 device.is_cuda());
  spdlog::info("cores: {}", parallel.reason);
  train::configure_threads(parallel.threads);

  // The time plan: the search ends early enough for the refit (when asked) and the export. The export's
  // reserve grows when the evaluations (the pace probe's, then the trials') show that the test evaluation needs
  // more (see EvalPace).
  const double static_export_reserve = std::clamp(k_export_share * budget, k_export_min_s, k_export_max_s);
  const double refit_reserve = o.refit ? k_refit_share * budget : 0.0;
  EvalPace eval_pace;
  const std::int64_t test_samples = test ? test->size() : 0;
  // The files written after the search (trials.csv, configs.json, results.json) grow with the trials.
  std::atomic<std::size_t> trials_known{stored ? storage->trials(stored->id).size() : 0};
  // The largest budget a trial has completed: a trial cut at the deadline after getting further is evaluated there.
  std::atomic<double> largest_complete{stored ? exec::largest_complete_budget(storage->trials(stored->id)) : 0.0};
  const auto export_reserve = [&] {
    const double measured = k_export_min_s + k_export_safety * eval_pace.seconds_for(test_samples);
    const double per_trial = k_log_seconds_per_trial + (o.report ? k_report_seconds_per_trial : 0.0);
    return std::max(static_export_reserve, measured) + (o.report ? k_report_graph_s : 0.0) +
           per_trial * static_cast<double>(trials_known.load());
  };

  const auto deadline_for_search = [&] { return after(end, -(export_reserve() + refit_reserve)); };
  const RungPlan rungs = plan_rungs(o, setup, split, o.resume ? existing : std::nullopt, device, parallel.workers,
                                    eval_pace, [&] {
    return std::chrono::duration<double>(deadline_for_search() - Clock::now()).count();
  });
  const auto search_deadline = deadline_for_search();
  const double schedule_scale = rungs.schedule_scale;
  spdlog::info("search '{}': {} samples from {} ({} train, {} validation), space {} ({} dimensions), {}, trial "
               "budgets {:g}-{:g} {}, eta {:g}",
               study_name, dataset.size(), o.data, split.train.size(), split.validation.size(),
               setup.space.fingerprint(), setup.space.dimension(), o.optimizer, run.budget.min_budget,
               run.budget.max_budget, time_budget ? "seconds of training" : "epochs", run.budget.eta);
  spdlog::info("time: {:g} s in all; {:.1f} s reserved for the export (more if the trials' evaluations show that "
               "it needs more){}; the search ends {:.1f} s after the start",
               budget, static_export_reserve,
               o.refit ? fmt::format(", {:.1f} s for refitting the best configuration on train+validation", refit_reserve) : "",
               std::chrono::duration<double>(search_deadline - start).count());

  nlohmann::json effective{{"command", "search"},
                           {"options", options_json(o)},
                           {"study", study_name},
                           {"storage", storage_url},
                           {"out", out_dir.string()},
                           {"preset_file", setup.preset_file},
                           {"files", setup.files},
                           {"run", config::to_json(run)},
                           {"fingerprint", setup.space.fingerprint()},
                           {"space", setup.space.to_json()},
                           {"data",
                            {{"source", o.data},
                             {"kind", data::to_string(dataset.schema.kind)},
                             {"sample_shape", dataset.schema.sample_shape},
                             {"classes", dataset.schema.class_names},
                             {"samples", dataset.size()},
                             {"train", split.train.size()},
                             {"validation", split.validation.size()},
                             {"test", o.test}}},
                           {"time",
                            {{"budget_s", budget},
                             {"export_reserve_s", static_export_reserve},
                             {"refit_reserve_s", refit_reserve},
                             {"search_s", std::chrono::duration<double>(search_deadline - start).count()}}},
                           {"cpus",
                            {{"online", cpus.online},
                             {"affinity", cpus.affinity},
                             {"quota", number_or_null(cpus.quota)},
                             {"busy", number_or_null(cpus.busy_sampled)},
                             {"load_average", number_or_null(cpus.load_average)},
                             {"workers", parallel.workers},
                             {"threads", parallel.threads},
                             {"reason", parallel.reason}}},
                           {"fidelity", rungs.fidelity},
                           {"started_at", iso_time(started_unix)}};

  // The objective: train the configuration for `budget` epochs (or seconds), continuing from the lower rung's
  // checkpoint when promoted, reporting 1 - validation accuracy after each epoch.
  ValidationSubsets validation_sets(split.validation, run.budget.max_budget, time_budget, o.seed);
  const auto patience = run.training.early_stopping_patience;
  const bool best_over_epochs = run.training.best_over_epochs;
  exec::Search* running_search = nullptr; // set before the search runs: the objective moves its deadline
  const auto replan = [&] {
    if (running_search) running_search->bring_deadline_forward(after(end, -(export_reserve() + refit_reserve)));
  };
  exec::Objective objective = [&](const exec::TrialContext& ctx) {
    ++trials_known;
    train::configure_threads(ctx.threads);
    const core::Hyperparameters hp(*ctx.config);
    std::optional<train::Trainer> trainer;
    const data::Dataset& validation = validation_sets.for_budget(ctx.budget);
    if (ctx.resume_from) trainer.emplace(train::Trainer::resume(*ctx.resume_from, hp, split.train, validation, device));
    else trainer.emplace(hp, split.train, validation, ctx.seed, device);
    trainer->set_eval_batch_size(run.training.eval_batch_size);
    trainer->set_schedule_scale(schedule_scale);
    train::TrainBudget train_budget;
    if (time_budget) train_budget.seconds = ctx.budget;
    else train_budget.epochs = ctx.budget;
    double best_accuracy = -1, last_accuracy = std::nan("");
    std::int64_t since_best = 0;
    bool early_stopped = false;
    train::TrainCallbacks callbacks;
    callbacks.on_epoch = [&](const train::EpochReport& r) {
      eval_pace.observe(r.eval_seconds, validation.size());
      replan();
      last_accuracy = r.val_accuracy;
      if (r.val_accuracy > best_accuracy) {
        best_accuracy = r.val_accuracy;
        since_best = 0;
      } else {
        ++since_best;
      }
      const bool go_on = ctx.report(r.epoch, 1.0 - (best_over_epochs ? best_accuracy : r.val_accuracy));
      if (patience > 0 && since_best >= patience) {
        early_stopped = true;
        return false;
      }
      return go_on;
    };
    // Out of time: the deadline has passed, or the validation pass that ends the epoch could not end before it.
    bool out_of_time = false;
    callbacks.should_stop = [&] {
      out_of_time = ctx.stop && ctx.stop->seconds_left() < eval_pace.seconds_for(validation.size());
      return ctx.stop_requested() || out_of_time || ctx.time_limit_reached();
    };
    // Out of time, the trial becomes PRUNED and is run again on resume. When it got further than every finished
    // trial, its weights at the cut are evaluated (the time for that pass is what was left) and kept: the export
    // takes them when they beat the finished trials' best (exec::model_to_export), so that a deadline falling
    // inside the largest trial does not leave the search with a smaller model than it trained.
    const auto reached = [&] { return time_budget ? trainer->seconds_trained() : trainer->epochs_done(); };
    bool evaluated_at_cut = false;
    callbacks.evaluate_on_stop = [&] {
      evaluated_at_cut = out_of_time && !ctx.stop_requested() && reached() > largest_complete.load() + 1e-9;
      return evaluated_at_cut;
    };
    const auto r = trainer->train(train_budget, callbacks);
    if (r.status == train::TrainStatus::failed) throw Error(r.message);
    const double accuracy = best_over_epochs ? best_accuracy : last_accuracy;
    exec::TrialResult result;
    result.loss = 1.0 - accuracy;
    const bool finished = time_budget ? trainer->seconds_trained() >= ctx.budget : trainer->epochs_done() >= ctx.budget - 1e-9;
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
                   reached(), ctx.budget, time_budget ? "seconds" : "epochs", accuracy);
    } else {
      for (double seen = largest_complete.load(); ctx.budget > seen && !largest_complete.compare_exchange_weak(seen, ctx.budget);) {
      }
    }
    if (!ctx.checkpoint_dir.empty()) {
      trainer->save_checkpoint(ctx.checkpoint_dir);
      result.checkpoint = ctx.checkpoint_dir;
    }
    return result;
  };

  // --trace-test: each new incumbent's own weights (its checkpoint) evaluated on the test set, for benchmarks
  // that plot test accuracy over time. Written to test_trace.csv only; selection never sees it.
  std::ofstream trace_file;
  std::function<void(const study::Trial&)> trace_test;
  if (o.trace_test) {
    trace_file.open(out_dir / "test_trace.csv", std::ios::app);
    if (!trace_file) throw InputError(fmt::format("{}: cannot write", (out_dir / "test_trace.csv").string()));
    if (trace_file.tellp() == 0) trace_file << "elapsed_s,trial_id,budget,val_accuracy,test_accuracy\n";
    trace_test = [&, labels = export_::labels_for_model(dataset.schema, *test)](const study::Trial& t) {
      // Past the search's deadline the time belongs to the export, which evaluates the final model anyway;
      // an evaluation that would end after it would take the export's time.
      const auto deadline = running_search ? running_search->deadline() : std::nullopt;
      if (deadline && after(Clock::now(), eval_pace.seconds_for(test->size())) >= *deadline) return;
      const auto checkpoint = storage->checkpoint(t.id);
      if (!checkpoint) return;
      auto pipeline = train::load_checkpoint_pipeline(*checkpoint);
      pipeline.module.eval();
      const auto probabilities = export_::predict_probabilities(pipeline.module, test->features, run.training.eval_batch_size);
      const double accuracy = probabilities.argmax(1).eq(labels).to(torch::kFloat64).mean().item<double>();
      const double found = t.finished_at.value_or(core::unix_now()) - started_unix;
      trace_file << fmt::format("{:.3f},{},{:g},{:.6f},{:.6f}\n", found, t.id, t.budget, 1.0 - *t.loss, accuracy) << std::flush;
      spdlog::info("test trace: incumbent trial {} (found at {:.1f} s) has test accuracy {:.4f}", t.id, found, accuracy);
    };
  }

  exec::SearchTask task;
  task.space = &setup.space;
  task.space_fingerprint = setup.space.fingerprint();
  task.describe = [&](const space::UnitVector& unit_point) { return space::to_json(setup.space.decode(unit_point)); };
  task.objective = objective;
  task.initial_configs = initial_configs(setup, rungs.portfolio, o.resume ? existing : std::nullopt);
  exec::SearchOptions search_options;
  search_options.study_name = study_name;
  search_options.optimizer = o.optimizer;
  search_options.optimizer_options.hyperband.eta = run.budget.eta;
  search_options.optimizer_options.hyperband.min_budget = run.budget.min_budget;
  search_options.optimizer_options.hyperband.max_budget = run.budget.max_budget;
  search_options.seed = o.seed;
  search_options.workers = parallel.workers;
  search_options.threads_per_worker = static_cast<std::size_t>(parallel.threads);
  search_options.max_iterations = o.iterations;
  search_options.deadline = search_deadline;
  search_options.checkpoint_dir = (out_dir / "checkpoints").string();
  search_options.prior_seconds_per_unit = rungs.prior_seconds_per_unit;
  search_options.slow_trial_factor = k_slow_trial_factor;
  search_options.min_trial_limit_s =
      std::max(2.0, k_min_trial_limit_share * std::chrono::duration<double>(search_deadline - Clock::now()).count());

  exec::SearchSummary summary;
  std::int64_t study_id = 0;
  {
    exec::Search search(*storage, task, search_options); // a study that cannot be resumed is refused here
    core::write_file_atomic(out_dir / "effective_config.json", effective.dump(2) + "\n");
    log_session.commit();
    running_search = &search;
    study_id = search.study().id;
    if (search.study().resumed) spdlog::info("resuming study '{}' ({} trials so far)", study_name, storage->trials(study_id).size());
    ProgressMonitor monitor(*storage, study_id, start, budget, unit, o.live_progress && !o.quiet, trace_test);
    {
      const SignalWatch watch(signals, search);
      summary = search.run();
    }
    monitor.stop();
    running_search = nullptr;
  }
  const double final_export_reserve = export_reserve();
  if (final_export_reserve > static_export_reserve)
    spdlog::info("time for the export raised to {:.1f} s (from {:.1f} s): the trials' validation passes show that the "
                 "evaluations need it", final_export_reserve, static_export_reserve);
  const auto refit_deadline = after(end, -final_export_reserve);
  const double search_seconds = seconds_since(start);
  spdlog::info("search ended after {:.1f} s: {} trials run ({} complete, {} pruned, {} failed){}", search_seconds,
               summary.trials_run, summary.complete, summary.pruned, summary.failed,
               summary.deadline_reached ? ", stopped by the deadline" : "");

  // The export: the best trial's configuration, refit on train+validation or with its own weights.
  const int threads = train::configure_threads(core::default_threads(cpus, o.threads));
  auto trials = storage->trials(study_id);
  const auto best = exec::model_to_export(trials, [&](const study::Trial& t) { return storage->checkpoint(t.id).has_value(); });
  const fs::path model_path = out_dir / "best_model.pt";
  nlohmann::json best_config;
  std::optional<double> test_accuracy;
  std::optional<report::ConfusionMatrix> test_confusion;
  if (best) {
    const auto export_start = Clock::now();
    const core::Hyperparameters hp(nlohmann::json::parse(best->config));
    nlohmann::json refit{{"requested", o.refit}, {"done", false}};
    std::string refit_skipped; // why the refit did not happen, when asked
    std::optional<train::Pipeline> pipeline;
    nlohmann::json training{{"trial_id", best->id}, {"budget", best->budget}, {"budget_type", config::to_string(run.budget.budget_type)},
                            {"val_accuracy", 1.0 - *best->loss}};
    // A trial cut at the deadline and evaluated there (exec::model_to_export): how far it got.
    const bool cut = best->state == study::TrialState::pruned;
    const nlohmann::json cut_at = cut && !best->metrics.empty() ? nlohmann::json{{"epochs", best->metrics.back().step}} : nlohmann::json();
    if (cut) {
      training["cut_at_deadline"] = cut_at;
      spdlog::info("exporting trial {}, cut at the deadline after {:g} epochs (budget {:g} {}): it scored better than "
                   "every finished trial", best->id, best->metrics.empty() ? 0.0 : best->metrics.back().step, best->budget, unit);
    }
    if (o.refit) {
      const double scale = static_cast<double>(dataset.size()) / static_cast<double>(split.train.size());
      const double estimate = k_refit_safety * chain_seconds(trials, *best) * (time_budget ? 1.0 : scale);
      const double left = std::chrono::duration<double>(refit_deadline - Clock::now()).count();
      if (estimate > left) {
        refit_skipped = fmt::format("needs about {:.0f} s, {:.0f} s left", estimate, left);
      } else {
        spdlog::info("refit: training trial {}'s configuration on all {} samples for {:g} {} (about {:.0f} s of {:.0f} s left)",
                     best->id, dataset.size(), best->budget, unit, estimate, left);
        const auto refit_start = Clock::now();
        train::Trainer trainer(hp, dataset, dataset.subset({}), best->seed, device);
        trainer.set_schedule_scale(schedule_scale);
        train::TrainBudget train_budget;
        if (time_budget) train_budget.seconds = best->budget * scale;
        else train_budget.epochs = best->budget;
        train::TrainCallbacks callbacks;
        callbacks.should_stop = [&] { return Clock::now() >= refit_deadline || signals.received() != 0; };
        const auto r = trainer.train(train_budget, callbacks);
        refit["seconds"] = seconds_since(refit_start);
        if (r.status == train::TrainStatus::budget_reached) {
          refit["done"] = true;
          refit["epochs"] = trainer.epochs_done();
          refit["samples"] = dataset.size();
          pipeline = trainer.pipeline();
        } else {
          refit_skipped = r.status == train::TrainStatus::failed
                              ? r.message
                              : fmt::format("stopped at the deadline after {:.2f} epochs", trainer.epochs_done());
        }
      }
      if (!pipeline) {
        refit["reason"] = refit_skipped;
        spdlog::warn("refit skipped ({}); exporting trial {}'s own weights", refit_skipped, best->id);
      }
    }
    if (!pipeline) {
      const auto checkpoint = storage->checkpoint(best->id);
      if (!checkpoint) throw Error(fmt::format("trial {} has no checkpoint to export", best->id));
      pipeline = train::load_checkpoint_pipeline(*checkpoint);
    }
    training["refit"] = refit;
    auto& module = pipeline->module;
    module.to(torch::kCPU);
    const auto check = split.validation.features.narrow(0, 0, std::min(k_check_samples, split.validation.size()));
    export_::ModelInfo info{hp.json(), dataset.schema, train::describe(*pipeline), training, {}};
    export_::save_model(module, info, model_path, check);
    if (test) {
      // Exactly what `automl predict --model best_model.pt --data TEST` computes.
      auto loaded = export_::load_model(model_path);
      const auto probabilities = export_::predict_probabilities(loaded.module, test->features);
      const auto labels = export_::labels_for_model(loaded.info.schema, *test);
      const auto predicted = probabilities.argmax(1);
      test_accuracy = predicted.eq(labels).to(torch::kFloat64).mean().item<double>();
      test_confusion = report::confusion_matrix(export_::to_indices(labels), export_::to_indices(predicted),
                                                loaded.info.schema.class_names);
      test_confusion->source = o.test;
    }
    const double finished = core::unix_now();
    best_config = {{"study", study_name},
                   {"storage", storage_url},
                   {"trial_id", best->id},
                   {"config_id", nlohmann::json::parse(best->config_id())},
                   {"config", nlohmann::json::parse(best->config)},
                   {"budget", best->budget},
                   {"budget_type", config::to_string(run.budget.budget_type)},
                   {"schedule_scale", schedule_scale},
                   {"val_accuracy", 1.0 - *best->loss},
                   {"cut_at_deadline", cut_at},
                   {"test", o.test},
                   {"test_accuracy", number_or_null(test_accuracy)},
                   {"test_confusion", test_confusion ? report::to_json(*test_confusion) : nlohmann::json()},
                   {"refit", refit},
                   {"seed", o.seed},
                   {"trial_seed", best->seed},
                   {"model", model_path.string()},
                   {"data", o.data},
                   {"times",
                    {{"started_at", iso_time(started_unix)},
                     {"finished_at", iso_time(finished)},
                     {"search_seconds", search_seconds},
                     {"export_seconds", seconds_since(export_start)},
                     {"export_reserve_s", final_export_reserve},
                     {"total_seconds", seconds_since(start)},
                     {"trial_started_at", iso_time(best->started_at)},
                     {"trial_seconds", trial_seconds(*best, finished)}}},
                   {"versions", {{"automl", AUTOML_VERSION}, {"libtorch", TORCH_VERSION}}}};
    core::write_file_atomic(out_dir / "best_config.json", best_config.dump(2) + "\n");
    prune_checkpoints(out_dir / "checkpoints", trials, best->id, run.budget.max_budget);
  } else {
    spdlog::error("no trial completed within the budget of {:g} s", budget);
  }
  trials = storage->trials(study_id);
  export_::write_trial_logs(out_dir, trials);
  storage.reset(); // closing checkpoints the SQLite WAL (an fsync): inside the budget, before the time is taken
  StudyReport report;
  report.study = study_name;
  report.storage = storage_url;
  report.budget_unit = unit;
  report.trials = trials;
  report.best = best;
  report.best_config = best_config;
  report.out_dir = out_dir.string();
  for (const char* f : {"best_model.pt", "best_config.json", "effective_config.json", "trials.csv", "configs.json",
                        "results.json", "study.db", "search.log", "test_trace.csv"})
    if (fs::exists(out_dir / f)) report.files.push_back(f);
  if (o.report) {
    auto page = report_input(report, effective);
    page.test_confusion = test_confusion;
    page.test_note = o.test.empty() ? "The search had no --test set." : "No model was exported.";
    // Graphviz only when its share of the reserve is still there: the budget comes first.
    const double left = std::chrono::duration<double>(end - Clock::now()).count();
    const double page_seconds = k_report_seconds_per_trial * static_cast<double>(trials.size());
    if (left > page_seconds + k_report_graph_s) add_model_graph(page, best ? model_path : fs::path());
    else page.model_graph_note = fmt::format("Not drawn: {:.1f} s of the budget were left for the report.", left);
    write_report(page, out_dir / "report.html");
    report.files.push_back("report.html");
  }

  // --fail-under looks at the test accuracy when there is a test set, else at the validation accuracy.
  double checked = std::nan("");
  if (test && test_accuracy) checked = *test_accuracy;
  else if (!test && best) checked = 1.0 - *best->loss;
  int code = best ? 0 : static_cast<int>(ExitCode::failure);
  const bool missed = best && o.fail_under && !(checked >= *o.fail_under);
  if (missed) code = static_cast<int>(ExitCode::below_threshold);
  if (const int s = signals.received()) {
    code = core::StopSignals::exit_code(s);
    spdlog::warn("stopped by {}: exit {}; every file is written, and --resume continues the study", core::StopSignals::name(s), code);
  }
  const double elapsed = seconds_since(start);
  spdlog::info("done in {:.1f} s of {:g} s", elapsed, budget);
  if (o.json) {
    auto j = summary_json(report);
    j["budget_s"] = budget;
    j["elapsed_s"] = elapsed;
    j["search_s"] = search_seconds;
    j["trials_run"] = summary.trials_run;
    j["resumed"] = summary.resumed;
    j["threads"] = threads;
    j["workers"] = parallel.workers;
    j["test"] = o.test;
    j["test_accuracy"] = number_or_null(test_accuracy);
    j["val_accuracy"] = best ? nlohmann::json(1.0 - *best->loss) : nlohmann::json();
    j["model"] = best ? nlohmann::json(model_path.string()) : nlohmann::json();
    if (o.fail_under) {
      j["fail_under"] = *o.fail_under;
      j["passed"] = !missed && best.has_value();
    }
    j["exit_code"] = code;
    out << j.dump(2) << "\n";
  } else {
    print_summary(out, report);
    fmt::print(out, "Time: {:.1f} s of the {:g} s budget (search {:.1f} s)\n", elapsed, budget, search_seconds);
    if (o.fail_under && best)
      fmt::print(out, "{}: {} accuracy {:.4f} {} --fail-under {:.4f}\n", missed ? "FAILED" : "passed",
                 test ? "test" : "validation", checked, missed ? "<" : ">=", *o.fail_under);
  }
  return code;
}

} // namespace automl::commands
