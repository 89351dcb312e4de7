#pragma once
// How many CPU cores this process can really use, and how a search splits them into workers and threads.
// Read from the machine (affinity mask, cgroup quota, a short sample of /proc/stat, the load average); the
// choice itself is a pure function of those readings so that tests can fake them.
//
// Why one thread per trial: on small networks two 1-thread trials beat one 2-thread trial (a tiny_cs epoch took
// 20.9 s with 1 thread, 29.5 s with 2 on an idle 2-core machine), and a trial with more threads than free cores
// collapses when another process takes a core (76.2 s with 2 threads against 24.2 s with 1: OpenMP's threads
// wait on each other at every operation). Separate 1-thread trials never wait on each other, so a busy core
// slows them in proportion.

#include <cstddef>
#include <optional>
#include <string>

namespace automl::core {

// Readings of the machine. Cores are fractional where the source is (a quota of 1.5 CPUs, a load of 0.97).
struct CpuReadings {
  std::size_t online = 1;              // cores the kernel runs (std::thread::hardware_concurrency)
  std::size_t affinity = 1;            // cores in this process's affinity mask (taskset, cpusets)
  std::optional<double> quota;         // cgroup CPU quota in cores (cgroup v2 cpu.max, v1 cfs_quota/period)
  std::optional<double> busy_sampled;  // cores kept busy by other processes, from a short /proc/stat sample
  std::optional<double> load_average;  // the 1-minute load average (lags by minutes; used without a sample)
};

// Reads the machine; `sample_seconds` of /proc/stat sampling (0: none). Never throws: what cannot be read is
// left empty.
CpuReadings read_cpus(double sample_seconds = 0.3);

// Cores this process may use (affinity and quota) and how many of them are free of other processes' work.
double usable_cores(const CpuReadings& r);
double free_cores(const CpuReadings& r);

// Workers (trials at once) and intra-op threads per trial.
struct Parallelism {
  std::size_t workers = 1;
  int threads = 1;
  std::string reason; // one line for the log: what was read and what was chosen
  // When the flags ask for far more threads than there are cores (without GPUs): a warning for the log, else empty.
  // `--workers 256` on 2 cores completed no trial in 15 s.
  std::string warning;
};

// Flags asking for more than this many threads (workers x threads) per free core get Parallelism::warning.
constexpr std::size_t k_oversubscription_warning = 4;

// Caps the default number of workers: beyond this, extra cores go to threads within a trial.
constexpr std::size_t k_max_default_workers = 8;

// Trials at once on each GPU by default: two overlap one's host work (launches, the data's order) with the
// other's kernels; more with --workers.
constexpr std::size_t k_workers_per_accelerator = 2;

// Defaults from the free cores (one 1-thread worker per free core, at least one; beyond k_max_default_workers
// the threads grow); `workers` / `threads` (flags, > 0) override their part. With `accelerators` GPUs the
// trials share them: k_workers_per_accelerator each (fewer when fewer cores are free, never fewer than one per
// GPU), the free cores shared out as their threads.
Parallelism choose_parallelism(const CpuReadings& r, std::optional<std::size_t> workers, std::optional<int> threads,
                               std::size_t accelerators = 0);

// Threads for a single training or prediction (`automl train`, `predict`): `threads` when > 0, else the free
// cores (at least 1).
int default_threads(const CpuReadings& r, int threads);

// Threads for a search's export, which runs after its trials, alone: the cores its workers had (workers x
// threads: with --threads 1 on 2 free cores, two), at most the free cores (--workers beyond them), never fewer
// than one trial's threads.
int export_threads(const CpuReadings& r, const Parallelism& p);

} // namespace automl::core
