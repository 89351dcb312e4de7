#include "commands/worker.hpp"

#include "commands/search_steps.hpp"
#include "commands/trial_objective.hpp"
#include "core/clock.hpp"
#include "core/cpus.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/signals.hpp"
#include "exec/search.hpp"
#include "space/search_space.hpp"
#include "study/storage.hpp"
#include "train/runtime.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <ostream>
#include <thread>

namespace automl::commands {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A worker waits at most this long for a lock on the study's database per operation.
constexpr double k_lock_wait_s = 30;
// How often a worker started with --wait looks for the study.
constexpr int k_wait_poll_ms = 1000;

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "host";
  return name;
}

// The study's record for workers (written by automl search), or an InputError saying why there is none.
nlohmann::json worker_record(const study::StudyRecord& study, const std::string& where) {
  const auto it = study.settings.find("worker");
  if (it == study.settings.end() || !it->is_object())
    throw InputError(fmt::format("study '{}' in {} has no record for workers: it was made by an automl search older "
                                 "than automl worker (resume it with automl search --resume first)",
                                 study.name, where));
  for (const char* key : {"options", "data_fingerprint", "deadline_unix"})
    if (!it->contains(key))
      throw InputError(fmt::format("study '{}' in {}: the record for workers lacks '{}'", study.name, where, key));
  return *it;
}

} // namespace

int worker(const WorkerOptions& w, std::ostream& out) {
  const auto start = Clock::now();
  const core::StopSignals signals;
  if (!w.log_level.empty()) core::set_log_level(w.log_level);
  if (w.storage.empty()) throw InputError("worker: --storage URL is required (the study's storage)");
  if (w.study.empty()) throw InputError("worker: --study NAME is required");
  if (w.workers && !(*w.workers >= 1 && *w.workers <= steps::k_max_workers))
    throw InputError(fmt::format("--workers: must be between 1 and {}, got {}", steps::k_max_workers, *w.workers));
  if (!(w.threads >= 0 && w.threads <= train::k_max_threads))
    throw InputError(fmt::format("--threads: must be between 0 and {}, got {}", train::k_max_threads, w.threads));
  if (!(w.lease_s >= 1 && w.lease_s <= 86400))
    throw InputError(fmt::format("--lease: must be between 1 and 86400 seconds, got {}", w.lease_s));

  study::StorageOptions storage_options;
  storage_options.lock_timeout_s = k_lock_wait_s;
  if (!(w.wait_s >= 0 && w.wait_s <= 86400))
    throw InputError(fmt::format("--wait: must be between 0 and 86400 seconds, got {}", w.wait_s));
  auto storage = study::open_storage(w.storage, storage_options);
  // Workers started together with the search wait (--wait) until it has created the study and recorded what they
  // need (after its pace probe).
  const auto give_up = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(w.wait_s));
  auto stored = steps::stored_study(*storage, w.study);
  while ((!stored || !stored->settings.contains("worker")) && Clock::now() < give_up) {
    if (signals.received()) return core::StopSignals::exit_code(signals.received());
    std::this_thread::sleep_for(std::chrono::milliseconds(k_wait_poll_ms));
    stored = steps::stored_study(*storage, w.study);
  }
  if (!stored)
    throw InputError(fmt::format("worker: no study '{}' in {} (automl search creates it{})", w.study, w.storage,
                                 w.wait_s > 0 ? fmt::format("; waited {:g} s", w.wait_s) : ", --wait SECONDS waits for it"));
  const auto record = worker_record(*stored, w.storage);

  // The search's options, with this machine's own data folder, device, workers and threads.
  SearchOptions o = steps::options_from_json(record.at("options"));
  o.data_dir = w.data_dir;
  o.device = w.device;
  o.precision = w.precision;
  o.workers = w.workers;
  o.threads = w.threads;
  o.test.clear(); // the search evaluates the test set; a worker never does
  o.resume = true;

  const fs::path out_dir = fs::absolute(w.out.empty() ? fs::path("runs") / w.study / fmt::format("worker-{}-{}", host_name(), getpid())
                                                      : fs::path(w.out));
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec || !fs::is_directory(out_dir))
    throw InputError(fmt::format("--out {}: cannot create the directory ({})", out_dir.string(), ec.message()));
  steps::LogSession log_session(out_dir / "worker.log", w.quiet);

  const double deadline_unix = record.at("deadline_unix").get<double>();
  const double seconds_left = deadline_unix - core::unix_now();
  nlohmann::json result{{"study", w.study}, {"storage", w.storage}, {"trials_run", 0}, {"complete", 0},
                        {"pruned", 0},      {"failed", 0},          {"exit_code", 0}};
  const auto finish = [&](int code) {
    result["exit_code"] = code;
    result["elapsed_s"] = std::chrono::duration<double>(Clock::now() - start).count();
    if (w.json) out << result.dump(2) << "\n";
    else
      fmt::print(out, "worker: {} trials run ({} complete, {} pruned, {} failed) on study '{}' in {:.1f} s\n",
                 result["trials_run"].get<std::size_t>(), result["complete"].get<std::size_t>(),
                 result["pruned"].get<std::size_t>(), result["failed"].get<std::size_t>(), w.study,
                 result["elapsed_s"].get<double>());
    return code;
  };
  if (seconds_left <= 0) {
    log_session.commit();
    spdlog::info("study '{}': its deadline passed {:.0f} s ago; nothing to do", w.study, -seconds_left);
    result["reason"] = "deadline passed";
    return finish(0);
  }

  // The same data and space as the search's, or a refusal saying what differs.
  steps::SearchInputs inputs = steps::load_inputs(o);
  const std::string fingerprint = data::fingerprint(inputs.dataset);
  const std::string recorded = record.at("data_fingerprint").get<std::string>();
  if (fingerprint != recorded)
    throw InputError(fmt::format("worker: the data here differs from the study's: {} (data dir '{}') has fingerprint {} "
                                 "({} samples), the study recorded {}; every worker needs the same data at the recorded "
                                 "source",
                                 o.data, w.data_dir, fingerprint, inputs.dataset.size(), recorded));
  config::LoadedSetup& setup = inputs.setup;
  if (setup.space.fingerprint() != stored->space_fingerprint)
    throw InputError(fmt::format("worker: the search space here ({} from preset '{}') differs from the study's ({}): "
                                 "the presets or space files on this machine are not the search's",
                                 setup.space.fingerprint(), o.preset, stored->space_fingerprint));

  const auto cpus = core::read_cpus(steps::k_cpu_sample_s);
  const auto parallel =
      core::choose_parallelism(cpus, o.workers, o.threads > 0 ? std::optional<int>(o.threads) : std::nullopt, inputs.accelerators());
  steps::log_cores(parallel);
  steps::log_devices(inputs);
  train::configure_threads(parallel.threads);

  steps::EvalPace eval_pace;
  const steps::RungPlan rungs = steps::plan_rungs(o, setup, inputs.split, stored->settings, inputs.device(), parallel.workers,
                                                  eval_pace, [&] { return seconds_left; });
  auto& run = setup.run;

  const auto objective = make_trial_objective(objective_settings(
      inputs, o.seed, rungs.schedule_scale, exec::largest_complete_budget(storage->trials(stored->id)), eval_pace));

  exec::SearchTask task;
  task.space = &setup.space;
  task.space_fingerprint = setup.space.fingerprint();
  task.describe = [&](const space::UnitVector& unit_point) { return space::to_json(setup.space.decode(unit_point)); };
  task.objective = objective;
  task.initial_configs = steps::initial_configs(setup, {}, stored->settings);
  o.lease_s = w.lease_s;
  exec::SearchOptions search_options = steps::exec_options(o, run, w.study, parallel, stored->settings);
  // The study's deadline, on this machine's clocks.
  search_options.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                               std::chrono::duration<double>(deadline_unix - core::unix_now()));
  // Absolute: the storage records each checkpoint's path, and other processes read it from their own directory.
  search_options.checkpoint_dir = fs::absolute(out_dir / "checkpoints").string();
  search_options.pack_checkpoints = !study::one_machine_storage(w.storage);
  search_options.prior_seconds_per_unit = record.value("prior_seconds_per_unit", 0.0);
  search_options.min_trial_limit_s = record.value("min_trial_limit_s", 2.0);

  exec::SearchSummary summary;
  {
    exec::Search search(*storage, task, search_options); // a study whose settings differ is refused here
    log_session.commit();
    spdlog::info("worker on study '{}' in {}: {} x {} thread(s), {:.0f} s to the study's deadline; checkpoints in {}",
                 w.study, w.storage, parallel.workers, parallel.threads, deadline_unix - core::unix_now(),
                 search_options.checkpoint_dir);
    const steps::SignalWatch watch(signals, search, "exiting (other workers run the stopped trials again)");
    summary = search.run();
  }
  spdlog::info("worker done: {} trials run ({} complete, {} pruned, {} failed){}", summary.trials_run, summary.complete,
               summary.pruned, summary.failed, summary.deadline_reached ? ", stopped by the study's deadline" : "");
  result["trials_run"] = summary.trials_run;
  result["complete"] = summary.complete;
  result["pruned"] = summary.pruned;
  result["failed"] = summary.failed;
  result["deadline_reached"] = summary.deadline_reached;
  if (const int s = signals.received()) return finish(core::StopSignals::exit_code(s));
  return finish(0);
}

} // namespace automl::commands
