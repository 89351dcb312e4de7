// Synthetic benchmark of the optimizers (no neural network): Counting Ones and multi-fidelity Hartmann-6, for
// bohb, hyperband and random, several seeds each, through the real search loop (exec::Search on an SQLite
// study in a temporary folder). Records regret against cumulative budget, and the time to propose a
// configuration with 1000 trials in the study. Writes one JSON file; see bench/README.md.
//
// Usage: hpo_synthetic [--seeds N] [--budget-factor F] [--out FILE] [--machine TEXT]
//   --budget-factor: total budget per run, in multiples of max_budget (default 100)

#include "core/error.hpp"
#include "exec/search.hpp"
#include "study/sqlite_storage.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

using automl::space::UnitVector;

// A box of numerical and categorical dimensions, no conditions.
class BoxSpace : public automl::space::UnitCubeSpace {
public:
  explicit BoxSpace(std::vector<std::size_t> cardinalities) : m_cardinalities(std::move(cardinalities)) {}
  std::size_t dimension() const override { return m_cardinalities.size(); }
  std::string dimension_name(std::size_t i) const override {
    return (m_cardinalities[i] ? "c" : "x") + std::to_string(i);
  }
  std::size_t cardinality(std::size_t i) const override { return m_cardinalities[i]; }
  UnitVector sample_prior(automl::core::Rng& rng) const override {
    UnitVector x(dimension());
    for (std::size_t i = 0; i < x.size(); ++i) {
      const auto k = m_cardinalities[i];
      x[i] = k ? (static_cast<double>(rng.uniform_index(k)) + 0.5) / static_cast<double>(k) : rng.uniform01();
    }
    return x;
  }
  std::optional<UnitVector> make_valid(const UnitVector& proposal) const override {
    UnitVector x = proposal;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const auto k = m_cardinalities[i];
      if (std::isnan(x[i])) x[i] = 0.5;
      x[i] = std::clamp(x[i], 0.0, 1.0);
      if (k) x[i] = (std::min(std::floor(x[i] * static_cast<double>(k)), static_cast<double>(k - 1)) + 0.5) / static_cast<double>(k);
    }
    return x;
  }

private:
  std::vector<std::size_t> m_cardinalities;
};

std::uint64_t mix(std::uint64_t a, std::uint64_t b) { return automl::study::mix_seed(a, b); }

std::uint64_t hash_point(const UnitVector& x) {
  std::uint64_t h = 1469598103934665603ULL;
  for (double v : x) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    h = (h ^ bits) * 1099511628211ULL;
  }
  return h;
}

double standard_normal(automl::core::Rng& rng) {
  double u1 = rng.uniform01();
  while (u1 <= 0.0) u1 = rng.uniform01();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.14159265358979323846 * rng.uniform01());
}

struct Problem {
  std::string name;
  std::vector<std::size_t> cardinalities;
  double min_budget, max_budget;
  // Loss observed at `budget` (noisy/biased at low budgets), for a run seeded with `seed`.
  std::function<double(const UnitVector&, double budget, std::uint64_t seed)> loss;
  // Noise-free regret of a configuration at full fidelity.
  std::function<double(const UnitVector&)> regret;
};

// Counting Ones (Falkner et al. 2018): 8 binary categorical + 8 continuous dimensions; each continuous x_j is
// estimated from `budget` Bernoulli(x_j) draws. Loss = -(sum of categorical ones + sum of estimates), optimum -16.
Problem counting_ones() {
  Problem p;
  p.name = "counting_ones";
  p.cardinalities.assign(8, 2);
  p.cardinalities.resize(16, 0);
  p.min_budget = 9;
  p.max_budget = 729;
  p.loss = [](const UnitVector& x, double budget, std::uint64_t seed) {
    automl::core::Rng rng(mix(seed, hash_point(x) ^ static_cast<std::uint64_t>(budget)));
    const auto draws = static_cast<int>(std::lround(budget));
    double total = 0.0;
    for (std::size_t j = 0; j < 8; ++j) total += std::floor(x[j] * 2.0);
    for (std::size_t j = 8; j < 16; ++j) {
      int ones = 0;
      for (int d = 0; d < draws; ++d) ones += rng.uniform01() < x[j];
      total += static_cast<double>(ones) / draws;
    }
    return -total;
  };
  p.regret = [](const UnitVector& x) {
    double total = 0.0;
    for (std::size_t j = 0; j < 8; ++j) total += std::floor(x[j] * 2.0);
    for (std::size_t j = 8; j < 16; ++j) total += x[j];
    return 16.0 - total;
  };
  return p;
}

// Multi-fidelity Hartmann-6 as in mf-prior-bench (mfpbench/synthetic/hartmann, MFHartmann6Benchmark defaults):
// fidelity z in 3..100 of z_max = 100, s = log(z) / log(100); alpha' = alpha - bias * (1 - s) with bias 0.5;
// noise |N(0,1)| * 0.1 * (1 - s), fixed per (seed, z, x). At z = 100 it is the plain Hartmann-6, minimum -3.32237.
constexpr double k_alpha[4] = {1.0, 1.2, 3.0, 3.2};
constexpr double k_a[4][6] = {{10, 3, 17, 3.5, 1.7, 8}, {0.05, 10, 17, 0.1, 8, 14}, {3, 3.5, 1.7, 10, 17, 8}, {17, 8, 0.05, 10, 0.1, 14}};
constexpr double k_p[4][6] = {{1312, 1696, 5569, 124, 8283, 5886}, {2329, 4135, 8307, 3736, 1004, 9991},
                              {2348, 1451, 3522, 2883, 3047, 6650}, {4047, 8828, 8732, 5743, 1091, 381}};
constexpr double k_hartmann6_min = -3.32237;

double mf_hartmann6(const UnitVector& x, double z, std::uint64_t seed, bool noisy) {
  const double s = std::log(z) / std::log(100.0);
  double h = 0.0;
  for (int i = 0; i < 4; ++i) {
    double inner = 0.0;
    for (int j = 0; j < 6; ++j) inner += k_a[i][j] * (x[j] - 1e-4 * k_p[i][j]) * (x[j] - 1e-4 * k_p[i][j]);
    h -= (k_alpha[i] - 0.5 * (1.0 - s)) * std::exp(-inner);
  }
  if (!noisy) return h;
  automl::core::Rng rng(mix(seed, hash_point(x) ^ static_cast<std::uint64_t>(z)));
  return h + std::abs(standard_normal(rng)) * 0.1 * (1.0 - s);
}

Problem hartmann6() {
  Problem p;
  p.name = "mf_hartmann6";
  p.cardinalities.assign(6, 0);
  p.min_budget = 3;
  p.max_budget = 100;
  // Budgets are anchored at 100 (3.7, 11.1, 33.3, 100); the fidelity is an integer, as in mf-prior-bench.
  p.loss = [](const UnitVector& x, double budget, std::uint64_t seed) {
    return mf_hartmann6(x, std::clamp(std::round(budget), 3.0, 100.0), seed, true);
  };
  p.regret = [](const UnitVector& x) { return mf_hartmann6(x, 100.0, 0, false) - k_hartmann6_min; };
  return p;
}

struct TracePoint {
  double budget;
  double regret;
};

// One run: the search until the total budget is spent; the incumbent trajectory as HpBandSter defines it (a
// trial replaces the incumbent when its budget is larger, or equal with a lower loss).
std::vector<TracePoint> run_once(const Problem& problem, const std::string& optimizer, std::uint64_t seed,
                                 double total_budget, const std::filesystem::path& dir) {
  const BoxSpace space(problem.cardinalities);
  automl::exec::SearchTask task;
  task.space = &space;
  task.space_fingerprint = automl::exec::unit_space_fingerprint(space);
  task.describe = [](const UnitVector&) { return nlohmann::json::object(); };
  task.objective = [&](const automl::exec::TrialContext& ctx) {
    automl::exec::TrialResult r;
    r.loss = problem.loss(*ctx.unit, ctx.budget, seed);
    return r;
  };
  automl::exec::SearchOptions options;
  options.optimizer = optimizer;
  options.seed = seed;
  options.optimizer_options.hyperband.min_budget = problem.min_budget;
  options.optimizer_options.hyperband.max_budget = problem.max_budget;
  options.continue_promoted = false; // HpBandSter and the BOHB paper: every evaluation pays its full budget
  options.max_total_budget = total_budget;
  const auto db = dir / (problem.name + "-" + optimizer + "-" + std::to_string(seed) + ".db");
  automl::study::SqliteStorage storage(db.string());
  automl::exec::Search search(storage, task, options);
  search.run();
  std::vector<TracePoint> trace;
  double spent = 0.0, inc_budget = -1.0, inc_loss = 0.0, inc_regret = 0.0;
  for (const auto& t : storage.trials(search.study().id)) {
    spent += t.cost;
    if (t.state != automl::study::TrialState::complete || !t.loss) continue;
    if (t.budget > inc_budget || (t.budget == inc_budget && *t.loss < inc_loss)) {
      inc_budget = t.budget;
      inc_loss = *t.loss;
      inc_regret = problem.regret(t.unit);
    }
    trace.push_back({spent, inc_regret});
  }
  return trace;
}

double regret_at(const std::vector<TracePoint>& trace, double budget) {
  double r = std::nan("");
  for (const auto& p : trace)
    if (p.budget <= budget + 1e-9) r = p.regret;
  return r;
}

// Proposal time with 1000 trials in the study: fill a BOHB study on Counting Ones to 1000 trials, then time
// each ask (SQLite transaction + rebuilding the bracket state and the KDE from all trials + proposing + insert).
nlohmann::json time_proposals(const std::filesystem::path& dir) {
  const Problem problem = counting_ones();
  const BoxSpace space(problem.cardinalities);
  automl::exec::SearchTask task;
  task.space = &space;
  task.space_fingerprint = automl::exec::unit_space_fingerprint(space);
  task.objective = [&](const automl::exec::TrialContext& ctx) {
    automl::exec::TrialResult r;
    r.loss = problem.loss(*ctx.unit, ctx.budget, 1);
    return r;
  };
  automl::exec::SearchOptions options;
  options.optimizer = "bohb";
  options.seed = 1;
  options.optimizer_options.hyperband.min_budget = problem.min_budget;
  options.optimizer_options.hyperband.max_budget = problem.max_budget;
  automl::study::SqliteStorage storage((dir / "timing.db").string());
  automl::exec::Search search(storage, task, options);
  for (int i = 0; i < 1000; ++i) search.run_trial(*search.ask("w0").trial);
  std::vector<double> all_ms, new_config_ms;
  std::size_t model_based = 0;
  for (int i = 0; i < 200; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const auto asked = search.ask("w0");
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    all_ms.push_back(ms);
    if (asked.trial->rung == 0) {
      new_config_ms.push_back(ms);
      model_based += asked.trial->info.find("\"model_based_pick\":true") != std::string::npos;
    }
    search.run_trial(*asked.trial);
  }
  const auto stats = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return nlohmann::json{{"count", v.size()},
                          {"median_ms", v[v.size() / 2]},
                          {"p90_ms", v[v.size() * 9 / 10]},
                          {"max_ms", v.back()},
                          {"mean_ms", std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size())}};
  };
  return nlohmann::json{{"trials_in_study_at_start", 1000},
                        {"all_asks", stats(all_ms)},
                        {"new_configuration_asks", stats(new_config_ms)},
                        {"model_based_new_configurations", model_based}};
}

std::string machine_description() {
  std::string cpu = "unknown";
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  return cpu + ", " + std::to_string(std::thread::hardware_concurrency()) + " logical cores";
}

int run(int argc, char** argv) {
  int seeds = 10;
  double budget_factor = 100;
  std::string out = "bench/results/hpo_synthetic.json";
  std::string machine;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--seeds") seeds = std::stoi(value);
    else if (key == "--budget-factor") budget_factor = std::stod(value);
    else if (key == "--out") out = value;
    else if (key == "--machine") machine = value;
    else throw automl::InputError("unknown option '" + key + "'; valid: --seeds, --budget-factor, --out, --machine");
  }
  const auto dir = std::filesystem::temp_directory_path() / ("hpo_synthetic-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto started = std::chrono::steady_clock::now();

  nlohmann::json result;
  result["generated_by"] = "bench/hpo_synthetic (bench/run_hpo_synthetic)";
  result["machine"] = machine_description() + (machine.empty() ? "" : "; " + machine);
  result["settings"] = {{"seeds", seeds}, {"budget_factor", budget_factor}, {"eta", 3}, {"continue_promoted", false},
                        {"workers", 1}, {"bohb", "defaults: top_n_percent 15, num_samples 64, random_fraction 1/3, "
                                                 "bandwidth_factor 3, min_bandwidth 1e-3, min_points_in_model d+1"}};
  for (const Problem& problem : {counting_ones(), hartmann6()}) {
    const double total = budget_factor * problem.max_budget;
    const std::vector<double> grid{0.1 * total, 0.25 * total, 0.5 * total, total};
    nlohmann::json pj;
    pj["min_budget"] = problem.min_budget;
    pj["max_budget"] = problem.max_budget;
    pj["total_budget"] = total;
    pj["budget_grid"] = grid;
    for (const std::string optimizer : {"bohb", "hyperband", "random"}) {
      std::vector<double> finals;
      std::vector<std::vector<double>> at_grid(grid.size());
      for (int seed = 1; seed <= seeds; ++seed) {
        const auto trace = run_once(problem, optimizer, static_cast<std::uint64_t>(seed), total, dir);
        finals.push_back(regret_at(trace, total));
        for (std::size_t g = 0; g < grid.size(); ++g) at_grid[g].push_back(regret_at(trace, grid[g]));
        std::fprintf(stderr, "%s %s seed %d: final regret %.4f\n", problem.name.c_str(), optimizer.c_str(), seed, finals.back());
      }
      const auto mean = [](const std::vector<double>& v) {
        double s = 0;
        int n = 0;
        for (double x : v)
          if (!std::isnan(x)) s += x, ++n;
        return n ? s / n : std::nan("");
      };
      std::vector<double> sorted = finals;
      std::sort(sorted.begin(), sorted.end());
      nlohmann::json grid_means = nlohmann::json::array();
      for (const auto& g : at_grid) grid_means.push_back(mean(g));
      pj["optimizers"][optimizer] = {{"final_regret", finals},
                                     {"mean_final_regret", mean(finals)},
                                     {"median_final_regret", sorted[sorted.size() / 2]},
                                     {"mean_regret_at_grid", grid_means}};
    }
    const double bohb = pj["optimizers"]["bohb"]["mean_final_regret"];
    pj["ratio_hyperband_to_bohb"] = pj["optimizers"]["hyperband"]["mean_final_regret"].get<double>() / bohb;
    pj["ratio_random_to_bohb"] = pj["optimizers"]["random"]["mean_final_regret"].get<double>() / bohb;
    result["problems"][problem.name] = pj;
  }
  result["proposal_time_with_1000_trials"] = time_proposals(dir);
  result["wall_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::filesystem::remove_all(dir);
  std::ofstream(out) << result.dump(2) << "\n";
  std::cout << result.dump(2) << std::endl;
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  return automl::run_reporting_errors("hpo_synthetic", [&] { return run(argc, argv); });
}
