// core/cpus: the default workers and threads from faked readings (cores, affinity, quota, other processes' load),
// flags overriding them, and the readings of this machine being sane.

#include "core/cpus.hpp"

#include <gtest/gtest.h>

#include <thread>

using namespace automl::core;

namespace {

CpuReadings machine(std::size_t cores, std::optional<double> busy, std::optional<double> load = std::nullopt) {
  CpuReadings r;
  r.online = cores;
  r.affinity = cores;
  r.busy_sampled = busy;
  r.load_average = load;
  return r;
}

} // namespace

TEST(Cpus, IdleTwoCoresGiveTwoOneThreadWorkers) {
  const auto p = choose_parallelism(machine(2, 0.03), std::nullopt, std::nullopt);
  EXPECT_EQ(p.workers, 2u);
  EXPECT_EQ(p.threads, 1);
  EXPECT_NE(p.reason.find("2 workers x 1 thread"), std::string::npos) << p.reason;
}

TEST(Cpus, ABusyCoreIsLeftAlone) {
  // `yes > /dev/null` on one of two cores, with a little noise on top.
  const auto p = choose_parallelism(machine(2, 1.08), std::nullopt, std::nullopt);
  EXPECT_EQ(p.workers, 1u);
  EXPECT_EQ(p.threads, 1);
  EXPECT_NE(p.reason.find("1.08 busy with other processes"), std::string::npos) << p.reason;
  // Every core busy: still one worker.
  EXPECT_EQ(choose_parallelism(machine(2, 2.0), std::nullopt, std::nullopt).workers, 1u);
  // A core mostly free counts (0.8 free of 1: a monitor or an editor on the other).
  EXPECT_EQ(choose_parallelism(machine(2, 0.2), std::nullopt, std::nullopt).workers, 2u);
}

TEST(Cpus, TheLoadAverageIsUsedWithoutASample) {
  EXPECT_EQ(choose_parallelism(machine(4, std::nullopt, 2.0), std::nullopt, std::nullopt).workers, 2u);
  // The sample, when there is one, wins over the load average (which lags by minutes).
  EXPECT_EQ(choose_parallelism(machine(4, 0.0, 3.5), std::nullopt, std::nullopt).workers, 4u);
}

TEST(Cpus, AffinityAndQuotaLimitTheCores) {
  auto r = machine(16, 0.0);
  r.affinity = 3; // taskset -c 0-2
  EXPECT_EQ(choose_parallelism(r, std::nullopt, std::nullopt).workers, 3u);
  r.affinity = 16;
  r.quota = 2.5; // docker --cpus 2.5
  EXPECT_DOUBLE_EQ(usable_cores(r), 2.5);
  const auto p = choose_parallelism(r, std::nullopt, std::nullopt);
  EXPECT_EQ(p.workers, 2u);
  EXPECT_NE(p.reason.find("cgroup quota 2.50"), std::string::npos) << p.reason;
}

TEST(Cpus, ManyCoresGoToThreadsBeyondTheWorkerCap) {
  const auto p = choose_parallelism(machine(32, 0.0), std::nullopt, std::nullopt);
  EXPECT_EQ(p.workers, k_max_default_workers);
  EXPECT_EQ(p.threads, static_cast<int>(32 / k_max_default_workers));
}

TEST(Cpus, FlagsOverride) {
  auto p = choose_parallelism(machine(2, 1.0), std::size_t{2}, std::nullopt);
  EXPECT_EQ(p.workers, 2u);
  EXPECT_EQ(p.threads, 1);
  p = choose_parallelism(machine(2, 0.0), std::nullopt, 2);
  EXPECT_EQ(p.workers, 2u);
  EXPECT_EQ(p.threads, 2);
  EXPECT_NE(p.reason.find("(flags)"), std::string::npos);
  p = choose_parallelism(machine(8, 0.0), std::size_t{1}, std::nullopt);
  EXPECT_EQ(p.workers, 1u);
  EXPECT_EQ(p.threads, 8); // one worker gets the free cores as threads
}

TEST(Cpus, GpusGetTwoWorkersEachWithTheCoresAsThreads) {
  auto p = choose_parallelism(machine(4, 0.0), std::nullopt, std::nullopt, 1);
  EXPECT_EQ(p.workers, k_workers_per_accelerator);
  EXPECT_EQ(p.threads, static_cast<int>(4 / k_workers_per_accelerator));
  p = choose_parallelism(machine(16, 0.0), std::nullopt, std::nullopt, 2);
  EXPECT_EQ(p.workers, 2 * k_workers_per_accelerator);
  EXPECT_EQ(p.threads, static_cast<int>(16 / (2 * k_workers_per_accelerator)));
  p = choose_parallelism(machine(1, 0.0), std::nullopt, std::nullopt, 2); // one free core: still a worker per GPU
  EXPECT_EQ(p.workers, 2u);
  EXPECT_EQ(p.threads, 1);
  p = choose_parallelism(machine(16, 0.0), std::size_t{6}, std::nullopt, 1); // --workers 6 on one GPU
  EXPECT_EQ(p.workers, 6u);
  EXPECT_EQ(p.threads, 2);
}

TEST(Cpus, DefaultThreadsForOneTraining) {
  EXPECT_EQ(default_threads(machine(2, 1.0), 0), 1);
  EXPECT_EQ(default_threads(machine(2, 0.0), 0), 2);
  EXPECT_EQ(default_threads(machine(2, 1.0), 2), 2);
}

TEST(Cpus, TheExportHasTheCoresTheWorkersHad) {
  Parallelism two_workers;
  two_workers.workers = 2;
  two_workers.threads = 1;
  EXPECT_EQ(export_threads(machine(2, 0.0), two_workers), 2);
  EXPECT_EQ(export_threads(machine(2, 1.0), two_workers), 1); // --workers 2 with a core busy: the free one
  Parallelism one_worker;
  one_worker.threads = 3;
  EXPECT_EQ(export_threads(machine(2, 1.0), one_worker), 3); // --threads 3: never fewer than a trial had
  one_worker.threads = 1;
  EXPECT_EQ(export_threads(machine(4, 0.0), one_worker), 1); // --workers 1 --threads 1: one
}

TEST(Cpus, ReadsThisMachine) {
  const auto r = read_cpus(0.05);
  EXPECT_EQ(r.online, std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_GE(r.affinity, 1u);
  EXPECT_LE(r.affinity, r.online);
  ASSERT_TRUE(r.busy_sampled.has_value()); // Linux has /proc/stat
  EXPECT_GE(*r.busy_sampled, 0.0);
  EXPECT_LE(*r.busy_sampled, static_cast<double>(r.online) + 0.01);
  EXPECT_GE(free_cores(r), 0.0);
  EXPECT_LE(free_cores(r), usable_cores(r));
}

// Flags asking for far more threads than there are free cores are taken, with a warning (256 workers on 2 cores
// completed no trial); the defaults never get one.
TEST(Cpus, FarMoreThreadsThanCoresGetAWarning) {
  const auto p = choose_parallelism(machine(2, 0.0), std::size_t{256}, 1);
  EXPECT_EQ(p.workers, 256u);
  EXPECT_NE(p.warning.find("256 workers x 1 thread on 2 free cores"), std::string::npos) << p.warning;
  EXPECT_NE(p.warning.find("128x slower"), std::string::npos) << p.warning;
  EXPECT_TRUE(choose_parallelism(machine(2, 0.0), std::size_t{8}, 1).warning.empty());
  EXPECT_TRUE(choose_parallelism(machine(2, 0.0), std::nullopt, std::nullopt).warning.empty());
  EXPECT_TRUE(choose_parallelism(machine(2, 0.0), std::size_t{16}, 1, /*accelerators=*/2).warning.empty());
}
