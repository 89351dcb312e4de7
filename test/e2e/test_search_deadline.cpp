// The hard deadline of a search process, measured from outside. A wall-clock test (the issue asks for it):
// it runs alone (RUN_SERIAL in test/CMakeLists.txt) so that other tests do not eat its time.

#include "support/driver_process.hpp"
#include "support/test_files.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>

using automl::study::TrialState;
using automl::test::count_state;
using automl::test::driver_args;
using automl::test::spawn;
using automl::test::study_trials;
using automl::test::TempDir;
using automl::test::wait_exit;

TEST(SearchProcess, TwentySecondBudgetOfSlowTrialsEndsWithin21Seconds) {
  TempDir dir;
  const auto db = (dir / "study.db").string();
  // One budget unit takes 1 s: trials of 1, 3 and 9 s, Hyperband iterations without end.
  const auto started = std::chrono::steady_clock::now();
  const pid_t pid = spawn(driver_args(db, {"--budget", "20", "--workers", "2", "--step-ms", "1000", "--optimizer", "hyperband"}),
                          dir / "out", dir / "err");
  ASSERT_EQ(wait_exit(pid), 0) << automl::test::read_file(dir / "err");
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_LT(elapsed, 21.0);
  EXPECT_GT(elapsed, 15.0); // it did use its time
  const auto summary = nlohmann::json::parse(automl::test::read_file(dir / "out"));
  EXPECT_TRUE(summary["deadline_reached"].get<bool>());
  const auto trials = study_trials(db);
  EXPECT_EQ(count_state(trials, TrialState::running), 0u);
  EXPECT_GT(count_state(trials, TrialState::complete), 5u);
}

