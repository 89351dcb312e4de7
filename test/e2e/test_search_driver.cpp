// Search processes end to end (test/tools/search_driver: exec::run_search with a synthetic objective on an
// SQLite study): SIGKILL and resume, two processes with two threads each on one study, and the errors people
// see. The hard deadline has its own file (test_search_deadline.cpp) so that it can run alone.

#include "core/error.hpp"
#include "exec/search.hpp"
#include "study/sqlite_storage.hpp"
#include "support/driver_process.hpp"
#include "support/test_files.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>
#include <tuple>

using automl::study::Trial;
using automl::study::TrialState;
using automl::test::TempDir;
using automl::test::count_state;
using automl::test::driver_args;
using automl::test::k_driver;
using automl::test::spawn;
using automl::test::study_trials;
using automl::test::wait_exit;
using testing::HasSubstr;

namespace {


// (configuration, budget) in trial order.
std::vector<std::pair<std::string, double>> proposals(const std::vector<Trial>& trials) {
  std::vector<std::pair<std::string, double>> seq;
  for (const auto& t : trials) seq.emplace_back(automl::study::unit_to_json(t.unit), t.budget);
  return seq;
}

} // namespace

TEST(SearchProcess, KilledSearchResumesWithoutLosingOrRepeatingTrials) {
  TempDir dir;
  const auto db = (dir / "study.db").string();
  // 4 iterations of 1/9/3: [9,3,1] [3,1] [3] [9,3,1] = 33 trials; 10 ms per budget unit (~1 s in all).
  const auto args = driver_args(db, {"--iterations", "4", "--step-ms", "10", "--log-dir", (dir / "logs").string()});
  const pid_t pid = spawn(args, dir / "out1", dir / "err1");
  // Kill it once a few trials have completed, in the middle of a trial.
  std::vector<Trial> before;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!std::filesystem::exists(db)) continue;
    try {
      before = study_trials(db);
    } catch (const automl::Error&) {
      continue; // the schema is being created
    }
    if (count_state(before, TrialState::complete) >= 8 && count_state(before, TrialState::running) == 1) break;
  }
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_EQ(wait_exit(pid), 128 + SIGKILL);
  before = study_trials(db);
  const std::size_t completed_before = count_state(before, TrialState::complete);
  ASSERT_GE(completed_before, 8u);
  ASSERT_LT(completed_before, 33u) << "the search finished before it was killed";

  const pid_t resumed = spawn(args, dir / "out2", dir / "err2");
  ASSERT_EQ(wait_exit(resumed), 0) << automl::test::read_file(dir / "err2");
  const auto summary = nlohmann::json::parse(automl::test::read_file(dir / "out2"));
  EXPECT_TRUE(summary["resumed"].get<bool>());
  EXPECT_EQ(summary["finished_iterations"], 4);

  const auto after = study_trials(db);
  ASSERT_EQ(after.size(), 33u);
  EXPECT_EQ(count_state(after, TrialState::complete), 33u);
  std::set<std::tuple<std::size_t, std::size_t, std::size_t>> jobs;
  for (const auto& t : after) EXPECT_TRUE(jobs.insert({t.iteration, t.rung, t.slot}).second) << "trial " << t.id;
  // Completed trials were kept as they were, never run again; the one that was running ran once more.
  std::map<std::int64_t, const Trial*> by_id;
  for (const auto& t : after) by_id[t.id] = &t;
  for (const auto& t : before) {
    const Trial& now = *by_id.at(t.id);
    if (t.state == TrialState::complete) {
      EXPECT_EQ(now.finished_at, t.finished_at) << "trial " << t.id << " ran again";
      EXPECT_EQ(now.attempts, 1);
      EXPECT_EQ(now.loss, t.loss);
    } else {
      EXPECT_EQ(now.attempts, 2) << "trial " << t.id;
    }
  }
  // The same study as an uninterrupted run: same brackets, same (configuration, budget) sequence.
  const auto fresh_db = (dir / "fresh.db").string();
  const pid_t fresh = spawn(driver_args(fresh_db, {"--iterations", "4"}), dir / "out3", dir / "err3");
  ASSERT_EQ(wait_exit(fresh), 0) << automl::test::read_file(dir / "err3");
  EXPECT_EQ(proposals(study_trials(fresh_db)), proposals(after));
  EXPECT_EQ(nlohmann::json::parse(automl::test::read_file(dir / "out3"))["finished_iterations"], 4);

  // The logs cover every trial.
  const auto csv = automl::test::read_file(dir / "logs/trials.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 34);
  const auto results = automl::test::read_file(dir / "logs/results.json");
  EXPECT_EQ(std::count(results.begin(), results.end(), '\n'), 33);
  const auto configs = automl::test::read_file(dir / "logs/configs.json");
  EXPECT_EQ(std::count(configs.begin(), configs.end(), '\n'), 9 + 3 + 3 + 9);
}

TEST(SearchProcess, TwoProcessesWithTwoThreadsShareOneStudy) {
  TempDir dir;
  const auto db = (dir / "study.db").string();
  // 6 iterations of 1/9/3: 2 x (13 + 4 + 3) = 40 trials, shared by 2 processes x 2 worker threads.
  const auto args = driver_args(db, {"--iterations", "6", "--workers", "2", "--step-ms", "5", "--barrier",
                                      (dir / "barrier").string(), "--barrier-count", "2"});
  const pid_t a = spawn(args, dir / "out_a", dir / "err_a");
  const pid_t b = spawn(args, dir / "out_b", dir / "err_b");
  const int code_a = wait_exit(a), code_b = wait_exit(b);
  const std::string err = automl::test::read_file(dir / "err_a") + automl::test::read_file(dir / "err_b");
  ASSERT_EQ(code_a, 0) << err;
  ASSERT_EQ(code_b, 0) << err;
  EXPECT_THAT(err, testing::Not(HasSubstr("locked")));
  const auto trials = study_trials(db);
  ASSERT_EQ(trials.size(), 40u);
  std::set<std::tuple<std::size_t, std::size_t, std::size_t>> jobs;
  std::set<std::string> processes, workers;
  for (const auto& t : trials) {
    EXPECT_TRUE(jobs.insert({t.iteration, t.rung, t.slot}).second) << "duplicated job in trial " << t.id;
    EXPECT_EQ(t.state, TrialState::complete) << "trial " << t.id;
    EXPECT_EQ(t.attempts, 1);
    workers.insert(t.worker);
    processes.insert(t.worker.substr(0, t.worker.find('#')));
  }
  EXPECT_EQ(processes.size(), 2u);
  EXPECT_GE(workers.size(), 3u);
  const auto sa = nlohmann::json::parse(automl::test::read_file(dir / "out_a"));
  const auto sb = nlohmann::json::parse(automl::test::read_file(dir / "out_b"));
  EXPECT_EQ(sa["trials_run"].get<int>() + sb["trials_run"].get<int>(), 40);
  EXPECT_EQ(sa["finished_iterations"], 6);
  EXPECT_EQ(sb["finished_iterations"], 6);
}

TEST(SearchProcess, BadStorageUrlIsAUsageError) {
  const auto r = automl::test::run_command(k_driver + " --storage mysql://x/y");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("search_driver: error: storage URL 'mysql://x/y': unknown scheme 'mysql'; valid: sqlite:///"));
}

TEST(SearchProcess, ResumingAfterTheSpaceChangedIsAUsageError) {
  TempDir dir;
  const auto url = "sqlite:///" + (dir / "study.db").string();
  ASSERT_EQ(automl::test::run_command(k_driver + " --storage " + url + " --iterations 1").exit_code, 0);
  const auto r = automl::test::run_command(k_driver + " --storage " + url + " --iterations 1 --space ones-wide");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("study 's'"));
  EXPECT_THAT(r.err, HasSubstr("cannot be resumed: its search space changed"));
}
