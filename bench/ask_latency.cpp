// Ask latency with many trials in the study, for bench/scale_workers: fills a BOHB study on the tiny_cs search
// space (its budgets: 1 to 27 epochs, eta 3) to --trials trials through the real search loop (exec::Search::ask,
// then run_trial with an instant synthetic objective that reports after every epoch, as training does), then
// times --asks asks of a new Search on that study, each followed (untimed) by its trial's run. One ask is what a
// worker waits for between trials: the claim transaction (reading the study's trials, rebuilding the bracket
// state, fitting BOHB's KDEs and scoring candidates for a new configuration, writing the claimed trial).
//
//   ask_latency --storage URL [--study NAME] [--trials 10000] [--asks 200] [--seed 1] [--no-fill]
//
// The asks run on a new connection, as in a new worker process: its first ask reads the whole study (reported
// apart, first_ask_ms); the storages' later claims read only what changed since (study/claim_cache.hpp). A study
// that already holds --trials trials is not filled again (--no-fill: never fill; measure what is there). Prints
// one JSON object.

#include "config/preset.hpp"
#include "core/error.hpp"
#include "core/rng.hpp"
#include "exec/search.hpp"
#include "space/config.hpp"
#include "study/storage.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

using namespace automl;

namespace {

using Ms = std::chrono::duration<double, std::milli>;

// CPU time of the calling thread: what an ask costs on a machine whose cores are shared (for PostgreSQL, without
// the server's side).
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// A loss landscape over the unit cube with a minimum inside it, lower on larger budgets, with seeded noise: the
// KDE has something to learn and the rungs something to rank.
exec::TrialResult synthetic_trial(const exec::TrialContext& ctx) {
  double distance = 0.0;
  for (std::size_t i = 0; i < ctx.unit->size(); ++i) {
    const double x = (*ctx.unit)[i];
    const double best = 0.3 + 0.05 * static_cast<double>(i);
    if (!std::isnan(x)) distance += (x - best) * (x - best);
  }
  core::Rng rng(ctx.seed);
  exec::TrialResult result;
  for (double epoch = 1; epoch <= ctx.budget; ++epoch) {
    result.loss = 0.02 + 0.2 * distance + 0.3 / (1.0 + epoch) + 0.01 * rng.uniform01();
    ctx.report(epoch, result.loss);
  }
  return result;
}

nlohmann::json stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
  };
  return nlohmann::json{{"count", v.size()},
                        {"median_ms", at(0.5)},
                        {"p95_ms", at(0.95)},
                        {"max_ms", v.back()},
                        {"mean_ms", std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size())}};
}

int run(int argc, char** argv) {
  std::string url, study_name = "ask_latency";
  std::size_t n_trials = 10000, n_asks = 200;
  std::uint64_t seed = 1;
  bool fill = true;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--no-fill") {
      fill = false;
      continue;
    }
    if (i + 1 >= argc) throw InputError("flag " + flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--storage") url = value;
    else if (flag == "--study") study_name = value;
    else if (flag == "--trials") n_trials = std::stoul(value);
    else if (flag == "--asks") n_asks = std::stoul(value);
    else if (flag == "--seed") seed = std::stoull(value);
    else throw InputError("unknown flag " + flag + " (valid: --storage, --study, --trials, --asks, --seed, --no-fill)");
  }
  if (url.empty() || n_asks == 0)
    throw InputError("usage: ask_latency --storage URL [--study NAME] [--trials N] [--asks N]");

  config::LoadOptions load;
  load.preset = "tiny_cs";
  const config::LoadedSetup setup = config::load_setup(load);
  exec::SearchTask task;
  task.space = &setup.space;
  task.space_fingerprint = setup.space.fingerprint();
  task.describe = [&](const space::UnitVector& unit) { return space::to_json(setup.space.decode(unit)); };
  task.objective = synthetic_trial;
  exec::SearchOptions options;
  options.study_name = study_name;
  options.optimizer = "bohb";
  options.seed = seed;
  options.optimizer_options.hyperband.eta = setup.run.budget.eta;
  options.optimizer_options.hyperband.min_budget = setup.run.budget.min_budget;
  options.optimizer_options.hyperband.max_budget = setup.run.budget.max_budget;
  // A search has a deadline, and with one every ask also judges what fits in the time left (the pace of the
  // completed trials): a day, which everything fits in.
  options.deadline = exec::deadline_in(86400);

  nlohmann::json out{{"storage", url.substr(0, url.find(':'))},
                     {"space", "tiny_cs (" + std::to_string(setup.space.dimension()) + " dimensions)"},
                     {"optimizer", "bohb"},
                     {"budgets",
                      {options.optimizer_options.hyperband.min_budget, options.optimizer_options.hyperband.max_budget,
                       options.optimizer_options.hyperband.eta}}};
  {
    const auto storage = study::open_storage(url);
    exec::Search filler(*storage, task, options);
    std::size_t have = storage->trials(filler.study().id).size();
    out["trials_before_fill"] = have;
    const auto start = std::chrono::steady_clock::now();
    for (; fill && have < n_trials; ++have) {
      const auto asked = filler.ask("fill");
      if (!asked.trial) throw Error("ask_latency: the study gave no trial to fill with");
      filler.run_trial(*asked.trial);
    }
    out["fill_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  // A new connection, as a new worker process has: its first ask reads the whole study.
  const auto storage = study::open_storage(url);
  exec::Search search(*storage, task, options);
  const std::int64_t study_id = search.study().id;
  std::vector<double> read_ms;
  std::size_t in_study = 0;
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    in_study = storage->trials(study_id).size();
    read_ms.push_back(Ms(std::chrono::steady_clock::now() - start).count());
  }
  out["trials_at_start"] = in_study;
  out["read_all_trials"] = stats(read_ms);

  std::vector<double> ask_ms, cpu_ms, new_config_ms;
  std::size_t model_based = 0;
  for (std::size_t i = 0; i < n_asks; ++i) {
    const double cpu_start = thread_cpu_ms();
    const auto start = std::chrono::steady_clock::now();
    const auto asked = search.ask("bench");
    const double ms = Ms(std::chrono::steady_clock::now() - start).count();
    const double cpu = thread_cpu_ms() - cpu_start;
    if (!asked.trial) throw Error("ask_latency: the study gave no trial");
    if (i == 0) {
      out["first_ask_ms"] = ms; // a new process's first ask
      out["first_ask_cpu_ms"] = cpu;
    } else {
      ask_ms.push_back(ms);
      cpu_ms.push_back(cpu);
    }
    if (asked.trial->rung == 0 && i > 0) {
      new_config_ms.push_back(ms);
      model_based += asked.trial->info.find("\"model_based_pick\":true") != std::string::npos;
    }
    search.run_trial(*asked.trial);
  }
  out["asks_after_the_first"] = stats(ask_ms);
  out["asks_after_the_first_cpu"] = stats(cpu_ms);
  if (!new_config_ms.empty()) out["new_configuration_asks"] = stats(new_config_ms);
  out["model_based_new_configurations"] = model_based;
  std::cout << out.dump() << std::endl;
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  return run_reporting_errors("ask_latency", [&] { return run(argc, argv); });
}
