#include "commands/search.hpp"

#include "commands/report.hpp"
#include "commands/search_ensemble.hpp"
#include "commands/search_refit.hpp"
#include "export/ensemble.hpp"
#include "commands/search_steps.hpp"
#include "commands/trial_objective.hpp"
#include "commands/study_report.hpp"
#include "config/preset.hpp"
#include "core/blas.hpp"
#include "core/cpus.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/signals.hpp"
#include "data/source.hpp"
#include "exec/checkpoints.hpp"
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

using namespace steps;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

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
// Time kept back from the search for the export (loading the winner, saving and re-checking best_model.pt, the
// test evaluation, the logs): this share of the budget, within [k_export_min_s, k_export_max_s].
constexpr double k_export_share = 0.02;
constexpr double k_export_min_s = 0.5;
constexpr double k_export_max_s = 30.0;
// With --refit, this share of the budget is kept back for retraining the exported trials (the best, or the
// ensemble's members) on train+validation (commands/search_refit.hpp).
constexpr double k_refit_share = 0.25;
// The export also needs time in proportion to the evaluation it runs (the test set): the search measures the
// validation passes (the pace probe's, then its trials') and, when k_export_min_s + k_export_safety x that
// estimate (for several models with an ensemble: export_evaluation_seconds) exceeds the reserve, brings its
// deadline forward. (A trial does not start a validation pass that would end after the deadline: it stops and
// is PRUNED instead.)
constexpr double k_export_safety = 1.5;
// How many raw samples the export check compares between the saved file and the model in memory.
constexpr std::int64_t k_check_samples = 64;
// How often the progress monitor looks at the study.
constexpr double k_live_poll_s = 0.5;
constexpr double k_log_poll_s = 1.0;

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

// Removes the checkpoints nothing can use any more, their folders in `dir` and their records in the storage:
// those of trials on the largest budget and of trials that a completed promotion continued from, except those in
// `keep` (the exported trial, the ensemble's members). A checkpoint a pruned (to be rerun) promotion still needs,
// or one that a later promotion may need on resume, stays.
void prune_checkpoints(study::Storage& storage, const fs::path& dir, const std::vector<study::Trial>& trials,
                       const std::set<std::int64_t>& keep, double max_budget) {
  std::set<std::int64_t> continued;
  for (const auto& t : trials)
    if (t.parent_id && t.state == study::TrialState::complete) continued.insert(*t.parent_id);
  std::vector<std::int64_t> useless;
  for (const auto& t : trials) {
    if (keep.count(t.id) || t.state == study::TrialState::running) continue;
    if (t.state != study::TrialState::complete || continued.count(t.id) || t.budget >= max_budget * (1 - 1e-9))
      useless.push_back(t.id);
  }
  storage.drop_checkpoints(useless); // the records first: nothing looks for a folder after its record is gone
  for (const std::int64_t id : useless) {
    std::error_code ignored;
    core::remove_tree(dir / ("trial_" + std::to_string(id)), ignored);
  }
}

// The study whose results `out_dir` holds (its best_config.json's), if any can be read.
std::optional<std::string> study_of_results(const fs::path& out_dir) {
  std::ifstream in(out_dir / "best_config.json");
  if (!in) return std::nullopt;
  const auto json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("study") || !json["study"].is_string()) return std::nullopt;
  return json["study"].get<std::string>();
}

} // namespace

int search(const SearchOptions& o, std::ostream& out) {
  const auto start = Clock::now() - std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(std::clamp(o.started_ago, 0.0, 60.0)));
  const core::StopSignals signals;
  const double started_unix = core::unix_now();
  check_flags(o);
  if (!o.log_level.empty()) core::set_log_level(o.log_level);
  const double budget = *o.budget;
  const auto end = after(start, budget);

  // Everything that can be wrong with the input is found before any training.
  steps::SearchInputs inputs = steps::load_inputs(o);
  const data::Dataset& dataset = inputs.dataset;
  const std::optional<data::Dataset>& test = inputs.test;
  config::LoadedSetup& setup = inputs.setup;
  auto& run = setup.run;
  const bool time_budget = inputs.time_budget;
  const std::string& unit = inputs.unit;
  const torch::Device device = inputs.device();
  const data::TrainValidation& split = inputs.split;

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
    throw InputError(fmt::format("study '{}' already exists in {}: pass --resume to continue it, or --out DIR for a "
                                 "new one",
                                 study_name, storage_url));
  // The files of --out belong to one study: another study's would be replaced by this one's.
  if (const auto other = study_of_results(out_dir); other && *other != study_name)
    throw InputError(fmt::format("--out {} holds the results of study '{}' ({}): this search (study '{}') would "
                                 "replace them; choose another --out DIR",
                                 out_dir.string(), *other, (out_dir / "best_config.json").string(), study_name));
  if (o.resume && !stored) spdlog::info("--resume: no study '{}' in {} yet; starting it", study_name, storage_url);
  // What makes a resume impossible is found now, before the pace probe spends time (the other settings are
  // compared when the study is opened, below: still before anything is written).
  const std::string data_fingerprint = data::fingerprint(dataset);
  if (stored) {
    study::check_same_space_and_seed(*stored, setup.space.fingerprint(), o.seed, storage_url);
    steps::check_same_inputs(*stored, inputs, data_fingerprint, storage_url);
  }
  const auto existing = stored ? std::optional<nlohmann::json>(stored->settings) : std::nullopt;

  // Workers and threads from the cores that are free now; flags override.
  const auto cpus = core::read_cpus(k_cpu_sample_s);
  const auto parallel = core::choose_parallelism(cpus, o.workers, o.threads > 0 ? std::optional<int>(o.threads) : std::nullopt,
                                                 inputs.accelerators());
  steps::log_cores(parallel);
  steps::log_devices(inputs);
  if (const auto blas = core::blas_description(); !blas.empty()) spdlog::info("BLAS: {}", blas);
  train::configure_threads(parallel.threads);

  // The time plan: the search ends early enough for the refit (when asked) and the export. The export's
  // reserve grows when the evaluations (the pace probe's, then the trials') show that the test evaluation needs
  // more (see EvalPace).
  const double static_export_reserve = std::clamp(k_export_share * budget, k_export_min_s, k_export_max_s);
  const double refit_reserve = o.refit ? k_refit_share * budget : 0.0;
  EvalPace eval_pace;
  const std::int64_t test_samples = test ? test->size() : 0;
  // The files written after the search (trials.csv, configs.json, results.json) grow with the trials.
  const auto stored_trials = stored ? storage->trials(stored->id) : std::vector<study::Trial>{};
  std::atomic<std::size_t> trials_known{stored_trials.size()};
  // The largest budget a trial has completed: a trial cut at the deadline after getting further is evaluated there.
  const double largest_complete_stored = exec::largest_complete_budget(stored_trials);
  const auto end_costs = [&] { // what follows the export: the logs and the report
    const double per_trial = k_log_seconds_per_trial + (o.report ? k_report_seconds_per_trial : 0.0);
    return (o.report ? k_report_graph_s : 0.0) + per_trial * static_cast<double>(trials_known.load());
  };
  const auto export_reserve = [&] {
    const double measured =
        k_export_min_s + export_evaluation_seconds(k_export_safety * eval_pace.model_seconds_for(test_samples), o.ensemble_size, budget);
    return std::max(static_export_reserve, measured) + end_costs();
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
               o.refit ? fmt::format(", {:.1f} s for refitting the exported trials on train+validation", refit_reserve) : "",
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
                             {"reason", parallel.reason},
                             {"blas", core::blas_description()}}},
                           {"fidelity", rungs.fidelity},
                           {"started_at", iso_time(started_unix)}};

  // The objective (commands/trial_objective): the trials' validation passes tell how long the export's
  // evaluation will take, so each one may bring the search's deadline forward.
  exec::Search* running_search = nullptr; // set before the search runs: the objective moves its deadline
  auto objective_settings = commands::objective_settings(inputs, o.seed, schedule_scale, largest_complete_stored, eval_pace);
  objective_settings.on_trial_start = [&] { ++trials_known; };
  objective_settings.after_epoch = [&] {
    if (running_search) running_search->move_deadline(after(end, -(export_reserve() + refit_reserve)));
  };
  const exec::Objective objective = make_trial_objective(objective_settings);

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
      const auto checkpoint = exec::local_checkpoint(*storage, t.id, (out_dir / "checkpoints").string());
      if (!checkpoint) return;
      // On the search's device, as the validation passes whose pace sized the check above.
      auto pipeline = train::load_checkpoint_pipeline(checkpoint->dir(), device);
      pipeline.module.eval();
      const auto probabilities =
          export_::predict_probabilities(pipeline.module, test->features.to(device), run.training.eval_batch_size).to(torch::kCPU);
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
  exec::SearchOptions search_options = exec_options(o, run, study_name, parallel, o.resume ? existing : std::nullopt,
                                                    task.initial_configs.size() - 1);
  search_options.deadline = search_deadline;
  search_options.new_study = !o.resume;
  if (const double early = search_options.optimizer_options.hyperband.early_budget; early > 0)
    spdlog::info("anytime: the default configuration goes on to {:g} epochs as soon as it has finished its first rung, "
                 "without waiting for the rest of the rung", early);
  if (const std::size_t entries = search_options.optimizer_options.hyperband.early_portfolio; entries > 0)
    spdlog::info("portfolio: {} on to the largest rung ({:g} {}) as soon as {} finished each rung "
                 "(budget.portfolio_to_largest_rung)",
                 entries == 1 ? std::string("its entry goes") : fmt::format("its {} entries go", entries),
                 run.budget.max_budget, run.budget.budget_type == config::BudgetType::time ? "s" : "epochs",
                 entries == 1 ? "it has" : "they have");
  // Absolute: the storage records each checkpoint's path, and workers (automl worker) run elsewhere.
  search_options.checkpoint_dir = fs::absolute(out_dir / "checkpoints").string();
  search_options.pack_checkpoints = !study::one_machine_storage(storage_url);
  search_options.prior_seconds_per_unit = rungs.prior_seconds_per_unit;
  search_options.min_trial_limit_s =
      std::max(2.0, k_min_trial_limit_share * std::chrono::duration<double>(search_deadline - Clock::now()).count());

  exec::SearchSummary summary;
  std::int64_t study_id = 0;
  {
    exec::Search search(*storage, task, search_options); // a study that cannot be resumed is refused here
    // What a killed run (or a full disk) left half written under temporary names.
    if (const auto stale = core::remove_stale_temporaries(out_dir) + core::remove_stale_temporaries(out_dir / "checkpoints"))
      spdlog::info("removed {} temporary file{} left by an earlier run that was stopped while writing", stale, stale == 1 ? "" : "s");
    core::write_file_atomic(out_dir / "effective_config.json", effective.dump(2) + "\n");
    log_session.commit();
    running_search = &search;
    study_id = search.study().id;
    // What `automl worker` needs to join (commands/worker.hpp), renewed by each search that resumes the study.
    nlohmann::json worker_record = steps::recorded_inputs(inputs, data_fingerprint);
    worker_record.update({{"options", options_json(o)},
                          {"deadline_unix", started_unix + std::chrono::duration<double>(search_deadline - start).count()},
                          {"prior_seconds_per_unit", search_options.prior_seconds_per_unit},
                          {"min_trial_limit_s", search_options.min_trial_limit_s}});
    storage->set_study_setting(study_id, "worker", worker_record);
    if (search.study().resumed) spdlog::info("resuming study '{}' ({} trials so far)", study_name, storage->trials(study_id).size());
    ProgressMonitor monitor(*storage, study_id, start, budget, unit, o.live_progress && !o.quiet, trace_test);
    {
      const SignalWatch watch(signals, search, "exporting the best so far and writing the study's files");
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
  // The export's evaluations (the ensemble's members on the test set) run alone: the cores the workers had.
  const int threads = train::configure_threads(core::export_threads(cpus, parallel));
  spdlog::info("export: {} intra-op thread{}", threads, threads == 1 ? "" : "s");
  auto trials = storage->trials(study_id);
  const auto best = exec::model_to_export(trials, [&](const study::Trial& t) { return storage->checkpoint(t.id).has_value(); });
  const fs::path model_path = out_dir / "best_model.pt";
  nlohmann::json best_config;
  std::optional<double> test_accuracy;
  std::optional<report::ConfusionMatrix> test_confusion;
  double exported_val_accuracy = std::nan(""); // the exported model's: the ensemble's or the best trial's
  if (best) {
    const auto export_start = Clock::now();
    const core::Hyperparameters hp(nlohmann::json::parse(best->config));
    nlohmann::json refit{{"requested", o.refit}, {"done", false}};
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
    // The ensemble, when it beats the best trial on validation, with the members that the time left can evaluate
    // (the export's check and the test set; the reserve was sized for one model, with a margin). With --refit the
    // time until the refit's deadline is the refit's.
    std::optional<EnsembleExport> ensemble;
    if (o.ensemble_size > 0) {
      EnsembleSettings settings;
      settings.size = o.ensemble_size;
      settings.fetch_dir = search_options.checkpoint_dir;
      // Budgets from one epoch (or the largest rung) are validated on the whole set (commands/trial_objective.cpp).
      settings.min_budget = time_budget ? 0.0 : std::min(1.0, run.budget.max_budget);
      const auto evaluations_from = o.refit ? std::max(Clock::now(), refit_deadline) : Clock::now();
      settings.seconds = std::chrono::duration<double>(end - evaluations_from).count() - end_costs() - k_export_min_s;
      settings.samples = test_samples + 2 * k_check_samples;
      settings.incumbent_id = best->id;
      std::string why;
      try {
        ensemble = choose_ensemble(*storage, trials, split.validation, settings, why);
      } catch (const std::exception& e) { // the single model is still there to export
        why = e.what();
        std::replace(why.begin(), why.end(), '\n', ' ');
      }
      if (ensemble)
        spdlog::info("ensemble ({}): {} members, validation accuracy {:.4f} (best trial alone {:.4f})",
                     ensemble->description["method"].get<std::string>(), ensemble->member_ids.size(),
                     ensemble->val_accuracy, ensemble->description["best_single"]["val_accuracy"].get<double>());
      else
        spdlog::info("ensemble: none, exporting trial {} alone: {}", best->id, why);
    }
    if (o.refit) {
      // The ensemble's members, heaviest first, or the best trial alone; each keeps its weight in the ensemble.
      std::vector<const study::Trial*> models;
      for (const auto id : ensemble ? ensemble->member_ids : std::vector<std::int64_t>{best->id})
        for (const auto& t : trials)
          if (t.id == id) models.push_back(&t);
      RefitSettings settings;
      settings.all = &dataset;
      settings.validation = &split.validation;
      settings.devices = inputs.devices;
      settings.workers = parallel.workers;
      settings.precision = inputs.precision;
      settings.schedule_scale = schedule_scale;
      settings.max_budget = run.budget.max_budget;
      settings.time_budget = time_budget;
      settings.deadline = refit_deadline;
      settings.stop_requested = [&] { return signals.received() != 0; };
      const auto refit_start = Clock::now();
      train::configure_threads(parallel.threads); // as the search's workers
      auto outcomes = refit_models(models, trials, settings);
      train::configure_threads(threads);
      refit = refit_json(outcomes, dataset.size(), seconds_since(refit_start));
      if (ensemble) {
        for (std::size_t i = 0; i < outcomes.size() && i < ensemble->members.size(); ++i) {
          ensemble->description["members"][i]["refit"] = outcomes[i].pipeline.has_value();
          if (!outcomes[i].pipeline) continue;
          outcomes[i].pipeline->module.to(torch::kCPU);
          ensemble->members[i] = outcomes[i].pipeline->module;
        }
      } else if (!outcomes.empty() && outcomes.front().pipeline) {
        pipeline = std::move(outcomes.front().pipeline);
      }
      if (!refit["done"].get<bool>()) {
        const auto done = std::count_if(outcomes.begin(), outcomes.end(), [](const RefitOutcome& r) { return r.pipeline.has_value(); });
        spdlog::warn("refit: {} of {} model{} refit on train+validation ({}); the others keep their trials' weights", done,
                     outcomes.size(), outcomes.size() == 1 ? "" : "s", refit["reason"].get<std::string>());
      }
    }
    training["refit"] = refit;
    const auto check = split.validation.features.narrow(0, 0, std::min(k_check_samples, split.validation.size()));
    if (ensemble) {
      auto ensemble_training = training;
      ensemble_training["val_accuracy"] = ensemble->val_accuracy;
      ensemble_training["ensemble_members"] = ensemble->member_ids;
      try {
        auto module = export_::ensemble_of(ensemble->members, ensemble->weights);
        export_::save_model(module, {hp.json(), dataset.schema, ensemble->architecture, ensemble_training, {}, ensemble->description},
                            model_path, check);
      } catch (const std::exception& e) { // the best trial alone still is a model
        spdlog::warn("ensemble: not exported ({}); exporting trial {} alone", e.what(), best->id);
        ensemble.reset();
      }
    }
    if (!ensemble) {
      if (!pipeline) {
        // Where this machine has it, else unpacked from the storage (a trial that a worker ran elsewhere).
        const auto checkpoint = exec::local_checkpoint(*storage, best->id, search_options.checkpoint_dir);
        if (!checkpoint) throw Error(fmt::format("trial {} has no checkpoint to export", best->id));
        try {
          pipeline = train::load_checkpoint_pipeline(checkpoint->dir());
        } catch (const Error& e) { // e.g. its folder removed by hand: a SQLite study records the path alone
          throw e.with_context(fmt::format("exporting trial {} from its checkpoint", best->id));
        }
      }
      pipeline->module.to(torch::kCPU);
      export_::save_model(pipeline->module, {hp.json(), dataset.schema, train::describe(*pipeline), training, {}, {}}, model_path, check);
    }
    if (test) {
      // Exactly what `automl predict --model best_model.pt --data TEST` computes.
      // On the search's device: a GPU evaluates in a fraction of a CPU's time, as the validation passes that
      // sized the time kept for this did.
      auto loaded = export_::load_model(model_path);
      loaded.module.to(device);
      const auto probabilities = export_::predict_probabilities(loaded.module, test->features.to(device)).to(torch::kCPU);
      const auto labels = export_::labels_for_model(loaded.info.schema, *test);
      const auto predicted = probabilities.argmax(1);
      test_accuracy = predicted.eq(labels).to(torch::kFloat64).mean().item<double>();
      test_confusion = report::confusion_matrix(export_::to_indices(labels), export_::to_indices(predicted),
                                                loaded.info.schema.class_names);
      test_confusion->source = o.test;
    }
    const double finished = core::unix_now();
    exported_val_accuracy = ensemble ? ensemble->val_accuracy : 1.0 - *best->loss;
    best_config = {{"study", study_name},
                   {"storage", storage_url},
                   {"trial_id", best->id},
                   {"config_id", nlohmann::json::parse(best->config_id())},
                   {"config", nlohmann::json::parse(best->config)},
                   {"budget", best->budget},
                   {"budget_type", config::to_string(run.budget.budget_type)},
                   {"schedule_scale", schedule_scale},
                   {"val_accuracy", exported_val_accuracy},
                   {"ensemble", ensemble ? ensemble->description : nlohmann::json()},
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
    std::set<std::int64_t> keep{best->id};
    if (ensemble) keep.insert(ensemble->member_ids.begin(), ensemble->member_ids.end());
    prune_checkpoints(*storage, out_dir / "checkpoints", trials, keep, run.budget.max_budget);
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
    if (o.test.empty()) page.test_note = "The search had no --test set.";
    else if (!best) page.test_note = "No model was exported.";
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
  else if (!test && best) checked = exported_val_accuracy;
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
    j["val_accuracy"] = best ? nlohmann::json(exported_val_accuracy) : nlohmann::json();
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
