// Writes a synthetic study of N trials into an SQLite storage through the storage API (claim, then finish), for
// bench/run_report: Hyperband brackets over budgets 1/9, 1/3, 1 and 3 epochs (eta 3), promotions that continue
// their parent, 4 workers running side by side, about 2% failed and 3% pruned trials, and tiny_cs-like
// configurations whose accuracy depends mostly on the learning rate and the width.
//
//   report_study --trials 10000 --storage sqlite:////tmp/report_bench/study.db [--study bench] [--seed 1]

#include "study/storage.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace automl;

namespace {

constexpr int k_workers = 4;
constexpr double k_eta = 3.0;
const std::vector<double> k_budgets{1.0 / 9, 1.0 / 3, 1.0, 3.0};

struct Job {
  std::size_t iteration, bracket, rung, slot;
  double budget;
  nlohmann::json config;
  std::optional<std::int64_t> parent;
  double quality; // the configuration's accuracy at infinite budget
};

// One Hyperband iteration's jobs, rung by rung (the first rung's configurations, then the promoted ones).
std::vector<std::vector<Job>> iteration_jobs(std::size_t iteration, std::mt19937_64& rng) {
  const std::size_t s_max = k_budgets.size() - 1;
  const std::size_t s = s_max - iteration % (s_max + 1);
  const auto n = static_cast<std::size_t>(std::ceil((s_max + 1) / static_cast<double>(s + 1) * std::pow(k_eta, s)));
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<std::vector<Job>> rungs(s + 1);
  for (std::size_t slot = 0; slot < n; ++slot) {
    const double lr = std::pow(10.0, -4 + 3 * u(rng));
    const int units = static_cast<int>(std::lround(std::pow(2.0, 4 + 6 * u(rng))));
    nlohmann::json config{{"network", "shapedresnet"},
                          {"network:shapedresnet:num_groups", 1 + static_cast<int>(9 * u(rng)) % 9},
                          {"network:shapedresnet:blocks_per_group", 1 + static_cast<int>(4 * u(rng)) % 4},
                          {"network:shapedresnet:max_units", units},
                          {"optimizer", "sgd"},
                          {"optimizer:sgd:lr", lr},
                          {"optimizer:sgd:momentum", 0.1 + 0.899 * u(rng)},
                          {"optimizer:sgd:weight_decay", std::pow(10.0, -5 + 4 * u(rng))},
                          {"batch_size", 125}};
    const double quality = 0.985 - 0.05 * std::abs(std::log10(lr) + 1.5) - 0.02 * std::abs(std::log2(units) - 8) / 4;
    rungs[0].push_back({iteration, s, 0, slot, k_budgets[s_max - s], config, std::nullopt, quality});
  }
  for (std::size_t r = 1; r <= s; ++r) {
    auto previous = rungs[r - 1];
    std::sort(previous.begin(), previous.end(), [](const Job& a, const Job& b) { return a.quality > b.quality; });
    const auto keep = std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(previous.size()) / k_eta));
    for (std::size_t k = 0; k < keep; ++k) {
      Job j = previous[k];
      j.rung = r;
      j.budget = k_budgets[s_max - s + r];
      rungs[r].push_back(j);
    }
  }
  return rungs;
}

} // namespace

int main(int argc, char** argv) {
  std::size_t n_trials = 10000;
  std::string url, name = "bench";
  std::uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--trials") n_trials = std::stoul(argv[i + 1]);
    else if (flag == "--storage") url = argv[i + 1];
    else if (flag == "--study") name = argv[i + 1];
    else if (flag == "--seed") seed = std::stoull(argv[i + 1]);
    else {
      std::cerr << "report_study: unknown flag " << flag << "\n";
      return 2;
    }
  }
  if (url.empty()) {
    std::cerr << "usage: report_study --trials N --storage URL [--study NAME] [--seed S]\n";
    return 2;
  }
  const auto wall = std::chrono::steady_clock::now();
  auto storage = study::open_storage(url);
  study::StudySpec spec;
  spec.name = name;
  spec.space_fingerprint = "synthetic";
  spec.seed = seed;
  spec.settings = {{"optimizer", "bohb"}, {"eta", k_eta}, {"min_budget", k_budgets.front()}, {"max_budget", k_budgets.back()}};
  const auto record = storage->open_study(spec);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> noise(0.0, 0.004);
  // Synthetic clock: each worker runs its trials back to back; a trial of budget b takes about 20 b seconds.
  std::vector<double> worker_free(k_workers, 1.8e9);
  std::size_t written = 0;
  std::map<std::pair<std::size_t, std::size_t>, std::int64_t> trial_of; // (iteration, slot) -> last trial id
  for (std::size_t iteration = 0; written < n_trials; ++iteration) {
    for (auto& rung : iteration_jobs(iteration, rng)) {
      for (auto& job : rung) {
        if (written == n_trials) break;
        const auto w = static_cast<std::size_t>(std::min_element(worker_free.begin(), worker_free.end()) - worker_free.begin());
        const double start = worker_free[w];
        const double seconds = 20 * job.budget * (0.5 + u(rng));
        study::NewTrial t;
        t.iteration = job.iteration;
        t.bracket = job.bracket;
        t.rung = job.rung;
        t.slot = job.slot;
        t.budget = job.budget;
        t.cost = job.budget;
        t.unit = {u(rng), u(rng), u(rng)};
        t.config = job.config.dump();
        if (job.rung > 0) t.parent_id = trial_of.at({job.iteration, job.slot});
        const auto claimed = storage->claim(
            record.id,
            [&](const std::vector<study::Trial>&) {
              study::ClaimDecision d;
              d.kind = study::ClaimDecision::Kind::insert;
              d.trial = t;
              return d;
            },
            fmt::format("bench:{}#w{}", seed, w), start, 60.0);
        trial_of[{job.iteration, job.slot}] = claimed->id;
        const double accuracy = std::min(0.999, job.quality - 0.12 / (1 + 3 * job.budget) + noise(rng));
        const double roll = u(rng);
        std::vector<study::Metric> metrics{{job.budget, 1 - accuracy}};
        if (roll < 0.02)
          storage->finish(claimed->id, claimed->attempts, study::TrialState::fail, std::nullopt, {},
                          fmt::format("RuntimeError: loss is NaN after {} batches (lr {:.3g})", 1 + written % 5,
                                      job.config["optimizer:sgd:lr"].get<double>()),
                          start + seconds / 3);
        else if (roll < 0.05)
          storage->finish(claimed->id, claimed->attempts, study::TrialState::pruned, 1 - accuracy, metrics, "", start + seconds / 2);
        else
          storage->finish(claimed->id, claimed->attempts, study::TrialState::complete, 1 - accuracy, metrics, "", start + seconds);
        worker_free[w] = start + seconds + 0.05;
        ++written;
      }
    }
  }
  std::cout << nlohmann::json{{"trials", written},
                              {"storage", url},
                              {"study", name},
                              {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count()}}
                   .dump()
            << "\n";
  return 0;
}
