// A search process for the end-to-end tests and bench/scale_workers: runs exec::run_search with a synthetic
// objective (Counting Ones, whose trials sleep --step-ms per budget unit, in 10 ms batches, and report after each
// unit) against a storage URL, writes the trial logs, and prints a JSON summary. Usage:
//   search_driver --storage URL [--study NAME] [--optimizer bohb] [--workers N] [--iterations N] [--seed N]
//                 [--budget SECONDS] [--step-ms MS | --trial-ms MS] [--min-budget B] [--max-budget B] [--eta E]
//                 [--barrier DIR --barrier-count N]
//                 [--space ones|ones-wide] [--log-dir DIR]
// --trial-ms MS: every trial sleeps MS in all, whatever its budget (MS / floor(budget) per budget unit), as an
// objective of fixed duration does. --budget counts from the barrier's release when there is a barrier.

#include "core/error.hpp"
#include "exec/search.hpp"
#include "export/trial_logs.hpp"
#include "study/storage.hpp"
#include "support/toy_space.hpp"

#include <nlohmann/json.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>

namespace {

// CPU seconds this process has used (all threads, user + system).
double process_cpu_s() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

std::map<std::string, std::string> parse_args(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (key.rfind("--", 0) != 0 || i + 1 >= argc) throw automl::InputError("bad argument '" + key + "'");
    args[key.substr(2)] = argv[++i];
  }
  return args;
}

int run(int argc, char** argv) {
  auto start = std::chrono::steady_clock::now();
  auto args = parse_args(argc, argv);
  const auto get = [&](const std::string& key, const std::string& fallback) {
    const auto it = args.find(key);
    return it == args.end() ? fallback : it->second;
  };
  if (!args.count("storage")) throw automl::InputError("--storage is required");
  // --barrier DIR --barrier-count N: announce this process in DIR and wait (up to 60 s) until N processes
  // have, so that processes started together really search the study at the same time.
  if (args.count("barrier")) {
    const std::filesystem::path dir = args["barrier"];
    std::filesystem::create_directories(dir);
    std::ofstream(dir / std::to_string(::getpid())) << "ready\n";
    const auto count = static_cast<std::ptrdiff_t>(std::stoi(get("barrier-count", "2")));
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()) < count &&
           std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    start = std::chrono::steady_clock::now();
  }
  const std::string space_name = get("space", "ones");
  if (space_name != "ones" && space_name != "ones-wide")
    throw automl::InputError("--space: expected ones or ones-wide, got '" + space_name + "'");
  const automl::test::ToySpace space(space_name == "ones" ? std::vector<std::size_t>{2, 2, 2, 0, 0, 0}
                                                          : std::vector<std::size_t>{2, 2, 2, 0, 0, 0, 0});
  const double step_ms = std::stod(get("step-ms", "0"));
  const std::optional<double> trial_ms =
      args.count("trial-ms") ? std::optional<double>(std::stod(args["trial-ms"])) : std::nullopt;
  if (trial_ms && args.count("step-ms")) throw automl::InputError("--trial-ms and --step-ms exclude each other");

  automl::exec::SearchTask task;
  task.space = &space;
  task.space_fingerprint = automl::exec::unit_space_fingerprint(space);
  task.objective = [&](const automl::exec::TrialContext& ctx) {
    automl::exec::TrialResult result;
    result.loss = std::nan(""); // nothing reached yet
    const double value = automl::test::counting_ones_value(space, *ctx.unit);
    const double unit_ms = trial_ms ? *trial_ms / std::max(1.0, std::floor(ctx.budget)) : step_ms;
    for (double step = 1; step <= ctx.budget; ++step) {
      // One budget unit (an "epoch") is made of 10 ms "batches"; a stop request is honoured between batches.
      for (double slept = 0; slept < unit_ms; slept += 10) {
        if (ctx.stop_requested()) {
          result.stopped = true;
          return result;
        }
        std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(std::min(10.0, unit_ms - slept)));
      }
      result.loss = value + 1.0 / step;
      if (!ctx.report(step, result.loss) && step < ctx.budget) {
        result.stopped = true;
        break;
      }
    }
    return result;
  };

  automl::exec::SearchOptions options;
  options.study_name = get("study", "s");
  options.optimizer = get("optimizer", "bohb");
  options.workers = std::stoul(get("workers", "1"));
  options.seed = std::stoull(get("seed", "1"));
  options.optimizer_options.hyperband.min_budget = std::stod(get("min-budget", "1"));
  options.optimizer_options.hyperband.max_budget = std::stod(get("max-budget", "9"));
  options.optimizer_options.hyperband.eta = std::stod(get("eta", "3"));
  if (args.count("iterations")) options.max_iterations = std::stoul(args["iterations"]);
  if (args.count("budget")) options.deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                           std::chrono::duration<double>(std::stod(args["budget"])));

  const double cpu_at_start = process_cpu_s();
  const auto storage = automl::study::open_storage(args["storage"]);
  automl::exec::Search search(*storage, task, options);
  const auto summary = search.run();
  const double search_cpu_s = process_cpu_s() - cpu_at_start;
  if (args.count("log-dir")) automl::export_::write_trial_logs(args["log-dir"], storage->trials(search.study().id));
  const nlohmann::json out{
      {"trials_run", summary.trials_run},
      {"complete", summary.complete},
      {"pruned", summary.pruned},
      {"failed", summary.failed},
      {"finished_iterations", summary.finished_iterations},
      {"deadline_reached", summary.deadline_reached},
      {"resumed", summary.resumed},
      {"best_loss", summary.best && summary.best->loss ? nlohmann::json(*summary.best->loss) : nlohmann::json(nullptr)},
      {"elapsed_s", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()},
      {"search_cpu_s", search_cpu_s}, // from opening the storage to the end of the search
  };
  std::cout << out.dump() << std::endl;
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  return automl::run_reporting_errors("search_driver", [&] { return run(argc, argv); });
}
