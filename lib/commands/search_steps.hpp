#pragma once
// The steps of `automl search` that `automl worker` takes too, in the order the search takes them: the flags
// checked, the data and the preset loaded (load_inputs), the study looked up, the rungs planned from a pace probe
// (or taken from the stored study), and the first configurations. Internal to lib/commands.

#include "commands/search.hpp"
#include "core/error.hpp"
#include "core/signals.hpp"
#include "exec/search.hpp"
#include "config/preset.hpp"
#include "core/cpus.hpp"
#include "data/dataset.hpp"
#include "hpo/fidelity.hpp"
#include "space/search_space.hpp"
#include "study/storage.hpp"
#include "train/runtime.hpp"
#include "train/pace.hpp"

#include <nlohmann/json.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <torch/types.h>

#include <cstddef>
#include <cstdint>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace automl::commands::steps {

// The longest --budget: a year. Beyond it the deadline arithmetic (steady_clock nanoseconds) would overflow.
constexpr double k_max_budget_s = 365.0 * 24 * 3600;
// Upper bound of --workers: enough for any machine, small enough that a typo (or -1, which a size_t would
// wrap) is an error instead of thousands of threads.
constexpr std::size_t k_max_workers = 256;
// The most rounds of ensemble selection --ensemble-size takes (Auto-PyTorch and auto-sklearn use 50).
constexpr int k_max_ensemble_size = 1000;
// The most seed replicas --replicas takes.
constexpr int k_max_replicas = 16;
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
// How long the start samples /proc/stat to see how many cores other processes keep busy.
constexpr double k_cpu_sample_s = 0.3;
// Trials on less than an epoch are validated on at least this many samples (or the whole validation set).
constexpr std::int64_t k_min_validation_samples = 2000;

// InputError naming the first bad flag.
void check_flags(const SearchOptions& o);
std::string default_study_name(const SearchOptions& o);
// The run settings of the preset with the flags on top.
void apply_flags(config::RunConfig& run, const SearchOptions& o);
// The options as JSON (effective_config.json, and the study's record for workers), and back: what a worker
// needs to load the same data and space (data, target, flatten, preset, space files and updates, budget flags,
// validation split, optimizer, iterations, seed, portfolio). InputError naming the key when it is malformed.
nlohmann::json options_json(const SearchOptions& o);
SearchOptions options_from_json(const nlohmann::json& j);

// What a search reads before it trains: the data (split into train and validation with the study's seed), the
// test set, the preset with the flags on top, the device. Every error is an InputError, before any training.
struct SearchInputs {
  data::Dataset dataset;
  std::optional<data::Dataset> test;
  config::LoadedSetup setup;
  std::vector<torch::Device> devices{torch::kCPU}; // where trials train (--device cuda:0,1: several GPUs)
  train::Precision precision = train::Precision::fp32;
  // The first of `devices`: the probes' and the export's.
  torch::Device device() const { return devices.front(); }
  // The GPUs the trials share, for core::choose_parallelism (0 on the CPU).
  std::size_t accelerators() const { return device().is_cuda() ? devices.size() : 0; }
  data::TrainValidation split;
  bool time_budget = false;
  std::string unit; // "s" or "epochs"
};
SearchInputs load_inputs(const SearchOptions& o);
// The log line naming the devices and the precision.
void log_devices(const SearchInputs& in);
// The log line of the cores read and the workers and threads chosen, and its warning when there is one.
void log_cores(const core::Parallelism& parallel);

// The export evaluates the best models (the best trial; the ensemble's members), whose evaluation pace is
// measured by their validation passes; it keeps time for the slowest of this many best models (the largest
// budget, then the lowest validation loss), the number of models it keeps time for with an ensemble
// (k_ensemble_reserve_members). The ensemble's own members are timed again at the export, and those that do not
// fit are left out. Keeping time for the slowest network of the whole search instead (any configuration, on a
// worker sharing the cores) ended a 2000 s ConvNet search 134.4 s early for an export that took 5.6 s.
constexpr std::size_t k_export_pace_models = 4;

// Evaluation paces in seconds per sample: each trial's slowest validation pass, and the slowest of all. Thread safe.
class EvalPace {
public:
  // A validation pass of `samples` took `seconds`; `trial`: the trial whose network it was (none: another, as the
  // pace probe's).
  void observe(double seconds, std::int64_t samples, std::optional<std::int64_t> trial = std::nullopt);
  // `trial` ended with a model that the export may evaluate: trained to `budget`, validation loss `loss`.
  void model(std::int64_t trial, double budget, double loss);
  // Seconds the slowest network seen needs for `samples`.
  double seconds_for(std::int64_t samples) const;
  // Seconds the export's models need for `samples`: the slowest of the k_export_pace_models best models that have
  // a measured pace; seconds_for() while there are none.
  double model_seconds_for(std::int64_t samples) const;

private:
  struct Model {
    std::int64_t trial;
    double budget, loss;
  };
  mutable std::mutex m_mutex;
  double m_per_sample = 0;
  std::map<std::int64_t, double> m_trial_per_sample;
  std::vector<Model> m_models; // best first
};

// The stored settings of study `name` in `storage`, when it exists.
std::optional<study::StudyRecord> stored_study(study::Storage& storage, const std::string& name);

// What a search records of its inputs for a resume and for `automl worker` (the study setting "worker", with the
// options and the deadline): the data's fingerprint, the effective validation split and budget type.
nlohmann::json recorded_inputs(const SearchInputs& in, const std::string& data_fingerprint);
// Throws InputError when study `stored` (in `where`) was made on other inputs than `in` (its data, validation
// split or budget type; what its record holds): resumed, its trials would be compared with and continued on
// others. A study whose record predates a key is not checked on it.
void check_same_inputs(const study::StudyRecord& stored, const SearchInputs& in, const std::string& data_fingerprint,
                       const std::string& where);

// What the pace probe measured and the rungs chosen from it, for the log and effective_config.json.
struct BudgetPlan {
  hpo::FidelityPlan plan;
  nlohmann::json json;
};

// The pace per trial of a measured configuration, on this split.
hpo::TrialPace trial_pace(const train::MeasuredPace& m, const data::TrainValidation& split, bool time_budget);

// Sizes the rungs to the time the search has (hpo::plan_fidelity) from `first`, the measured pace of the default
// configuration (the study's first trial). Budgets set by flags stay as they are.
BudgetPlan plan_budgets(const SearchOptions& o, const config::LoadedSetup& setup, const data::TrainValidation& split,
                        std::size_t workers, double search_seconds, const train::MeasuredPace& first);

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
                                               double search_seconds, nlohmann::json& fidelity);

// A resumed study keeps the rungs it was planned with (a flag that asks for others makes the resume refuse, as
// any changed setting does); a new one measures the pace of the space's default configuration and sizes them to
// the time left for the search (`search_seconds`, asked after the measurement; budgets set by flags stay). Rungs
// shrunk to the time shrink the learning-rate schedule with them: a cosine over 10 epochs meant for rungs up to
// 9 epochs anneals within 0.2 epochs when the rungs end at 0.18. Throws Error (exit 1) when not even the smallest
// trial fits.
// `stored`: the settings of the study being resumed, if any.
RungPlan plan_rungs(const SearchOptions& o, config::LoadedSetup& setup, const data::TrainValidation& split,
                    const std::optional<nlohmann::json>& stored, torch::Device device, std::size_t workers,
                    EvalPace& eval_pace, const std::function<double()>& search_seconds);

// The exec::Search options of a search or a worker on study `study`: optimizer, rungs, seed and iterations from
// `o` and `run` (the storage compares them with the study's), workers and threads from `parallel`, and the
// limits on slow trials. The caller sets the deadline, checkpoint folder and prior pace. A study that exists
// (`stored`: its settings) keeps the anytime budget it was created with: an earlier version of automl chose it
// from the same rungs differently (one epoch where it is now the rung above), and the resume must not be refused.
// `portfolio_entries`: how many configurations follow the default among a new study's first ones; with
// budget.portfolio_to_largest_rung they go on early to the largest rung (a study that exists keeps its own).
exec::SearchOptions exec_options(const SearchOptions& o, const config::RunConfig& run, const std::string& study,
                                 const core::Parallelism& parallel,
                                 const std::optional<nlohmann::json>& stored = std::nullopt,
                                 std::size_t portfolio_entries = 0);

// The study's first configurations. A new study: the space's default (the configuration the pace probe
// measured), then the portfolio entries that fit the time and differ from it and from each other. A resumed
// study: the ones it started with (stored with its settings), whatever the preset's portfolio says now.
std::vector<space::UnitVector> initial_configs(const config::LoadedSetup& setup, const std::vector<space::Config>& portfolio,
                                               const std::optional<nlohmann::json>& stored_settings);

// While the search runs, turns the first SIGINT/SIGTERM into a stop of the search (core/signals.hpp): no new
// trials, the running ones cut at their next batch; the export and the files follow as at the deadline.
class SignalWatch {
public:
  SignalWatch(const core::StopSignals& signals, exec::Search& search, std::string then)
      : m_then(std::move(then)), m_thread([this, &signals, &search] {
          std::unique_lock lock(m_mutex);
          while (!m_done) {
            if (const int s = signals.received()) {
              spdlog::warn("{} received: stopping the running trials, then {} (a second signal exits at once; the "
                           "stopped trials run again when the study resumes)", core::StopSignals::name(s), m_then);
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
  std::string m_then;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_done = false;
  std::thread m_thread; // last: started once the members above exist
};

// Adds <out>/search.log to the default logger for the duration of the command (at info level or finer, whatever
// the console shows) and quiets the console to warnings when asked; restores everything on destruction. Made
// before any worker thread starts and destroyed after they end.
class LogSession {
public:
  LogSession(const std::filesystem::path& file, bool quiet_console) : m_logger(spdlog::default_logger()), m_path(file) {
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
  std::filesystem::path m_path;
  std::ostringstream m_buffer;
  spdlog::sink_ptr m_file;
  spdlog::level::level_enum m_file_level = spdlog::level::info;
  spdlog::level::level_enum m_level;
  spdlog::level::level_enum m_flush_level;
  std::vector<spdlog::level::level_enum> m_sink_levels;
};

} // namespace automl::commands::steps
