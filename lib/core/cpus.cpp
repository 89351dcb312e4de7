#include "core/cpus.hpp"

#include <fmt/format.h>

#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace automl::core {
namespace {

// A free share of a core counts as a core from this much on (0.97 free with a monitor running is one core).
constexpr double k_round_up = 0.25;

// Busy and total jiffies of the CPUs in `cpus` (all when empty), from /proc/stat.
struct StatSample {
  double busy = 0, total = 0;
  bool ok = false;
};

StatSample read_stat(const std::vector<int>& cpus) {
  StatSample s;
  std::ifstream in("/proc/stat");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("cpu", 0) != 0 || line.size() < 4 || line[3] == ' ') continue; // per-CPU lines only
    std::istringstream fields(line.substr(3));
    int cpu = -1;
    fields >> cpu;
    if (!cpus.empty() && std::find(cpus.begin(), cpus.end(), cpu) == cpus.end()) continue;
    double v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (double& x : v) fields >> x;
    const double total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
    s.total += total;
    s.busy += total - v[3] - v[4]; // idle and iowait are free time
    s.ok = true;
  }
  return s;
}

double own_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

std::optional<double> read_quota() {
  // cgroup v2: "max 100000" or "150000 100000" in the process's own cgroup (mounted at /sys/fs/cgroup).
  std::ifstream v2("/sys/fs/cgroup/cpu.max");
  std::string quota;
  double period = 0;
  if (v2 >> quota >> period) {
    if (quota == "max" || !(period > 0)) return std::nullopt;
    try {
      return std::stod(quota) / period;
    } catch (...) {
      return std::nullopt;
    }
  }
  std::ifstream q1("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), p1("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  double q = 0;
  if (q1 >> q && p1 >> period && q > 0 && period > 0) return q / period;
  return std::nullopt;
}

} // namespace

CpuReadings read_cpus(double sample_seconds) {
  CpuReadings r;
  r.online = std::max(1u, std::thread::hardware_concurrency());
  r.affinity = r.online;
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
    if (!cpus.empty()) r.affinity = cpus.size();
  }
  r.quota = read_quota();
  std::ifstream loadavg("/proc/loadavg");
  double load = 0;
  if (loadavg >> load) r.load_average = load;
  if (sample_seconds > 0) {
    const StatSample a = read_stat(cpus);
    const double own_a = own_cpu_seconds();
    std::this_thread::sleep_for(std::chrono::duration<double>(sample_seconds));
    const StatSample b = read_stat(cpus);
    const double own_b = own_cpu_seconds();
    if (a.ok && b.ok && b.total > a.total) {
      // Jiffies are per CPU: the busy share of the sampled CPUs' time, in cores, less this process's own use.
      const double cores = static_cast<double>(cpus.empty() ? r.online : cpus.size());
      const double busy = (b.busy - a.busy) / (b.total - a.total) * cores;
      const double own = (own_b - own_a) / sample_seconds;
      r.busy_sampled = std::max(0.0, busy - own);
    }
  }
  return r;
}

double usable_cores(const CpuReadings& r) {
  double cores = static_cast<double>(std::min(r.online, r.affinity));
  if (r.quota) cores = std::min(cores, *r.quota);
  return std::max(cores, 1.0);
}

double free_cores(const CpuReadings& r) {
  const double usable = usable_cores(r);
  const double busy = r.busy_sampled ? *r.busy_sampled : r.load_average.value_or(0.0);
  // Other processes can take at most the cores the machine has beyond ours; a quota limits only us.
  const double others = std::min(busy, static_cast<double>(std::min(r.online, r.affinity)));
  return std::clamp(static_cast<double>(std::min(r.online, r.affinity)) - others, 0.0, usable);
}

namespace {

std::size_t whole_free_cores(const CpuReadings& r) {
  return std::max<std::size_t>(1, static_cast<std::size_t>(std::floor(free_cores(r) + k_round_up)));
}

std::string describe(const CpuReadings& r) {
  std::string text = fmt::format("{} cores online, {} in the affinity mask", r.online, r.affinity);
  if (r.quota) text += fmt::format(", cgroup quota {:.2f}", *r.quota);
  if (r.busy_sampled) text += fmt::format(", {:.2f} busy with other processes", *r.busy_sampled);
  if (r.load_average) text += fmt::format(", load average {:.2f}", *r.load_average);
  return text + fmt::format(": {:.2f} free", free_cores(r));
}

} // namespace

Parallelism choose_parallelism(const CpuReadings& r, std::optional<std::size_t> workers, std::optional<int> threads,
                               std::size_t accelerators) {
  const std::size_t cores = whole_free_cores(r);
  Parallelism p;
  if (accelerators > 0) p.workers = std::max(accelerators, std::min(cores, k_workers_per_accelerator * accelerators));
  else p.workers = std::min(cores, k_max_default_workers);
  if (workers && *workers > 0) p.workers = *workers;
  p.threads = static_cast<int>(std::max<std::size_t>(1, cores / p.workers));
  if (threads && *threads > 0) p.threads = *threads;
  p.reason = fmt::format("{}; {} worker{} x {} thread{}{}", describe(r), p.workers, p.workers == 1 ? "" : "s",
                         p.threads, p.threads == 1 ? "" : "s",
                         (workers && *workers > 0) || (threads && *threads > 0) ? " (flags)" : "");
  const std::size_t asked = p.workers * static_cast<std::size_t>(p.threads);
  if (accelerators == 0 && asked > k_oversubscription_warning * std::max<std::size_t>(1, cores))
    p.warning = fmt::format("{} workers x {} thread{} on {} free core{}: the trials share them, each about {:.0f}x slower "
                            "than alone, and may not finish in the budget (leave --workers and --threads out to fit "
                            "them to the cores)",
                            p.workers, p.threads, p.threads == 1 ? "" : "s", cores, cores == 1 ? "" : "s",
                            static_cast<double>(asked) / static_cast<double>(std::max<std::size_t>(1, cores)));
  return p;
}

int default_threads(const CpuReadings& r, int threads) {
  return threads > 0 ? threads : static_cast<int>(whole_free_cores(r));
}

int export_threads(const CpuReadings& r, const Parallelism& p) {
  const auto all = static_cast<int>(p.workers) * p.threads;
  return std::max({1, p.threads, std::min(all, static_cast<int>(whole_free_cores(r)))});
}

} // namespace automl::core
