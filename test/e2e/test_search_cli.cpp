// The automl binary's search and show: --json keeps stdout to one JSON object, predict reproduces the test
// accuracy, exit codes 0, 1, 2 and 3, resume of a finished study, and the wall-clock budget.

#include "support/automl_binary.hpp"
#include "support/search_fixture.hpp"
#include "support/test_files.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>

using automl::test::k_automl;
using automl::test::run_command;
using automl::test::TempDir;
using testing::HasSubstr;

namespace {

std::string search_command(const TempDir& dir, const std::string& extra,
                           const std::string& budgets = "--min-budget 1 --max-budget 3") {
  return k_automl + " search --space " + (dir / "space.yaml").string() + " --data " + (dir / "train.csv").string() +
         " --test " + (dir / "test.csv").string() + " --out " + (dir / "run").string() +
         " " + budgets + " --threads 1 --device cpu --seed 5 " + extra;
}

} // namespace

TEST(SearchCli, JsonOnStdoutPredictResumeAndShow) {
  TempDir dir;
  automl::test::write_search_files(dir.path());
  const auto r = run_command(search_command(dir, "--budget 60 --iterations 1 --json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out); // throws if stdout holds anything besides the object
  EXPECT_EQ(j["trials"]["complete"], 4);
  const double test_accuracy = j["test_accuracy"].get<double>();
  EXPECT_THAT(r.err, HasSubstr("complete, val_acc")); // one log line per finished trial on stderr

  const auto p = run_command(k_automl + " predict --json --model " + j["model"].get<std::string>() + " --data " +
                             (dir / "test.csv").string());
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(nlohmann::json::parse(p.out)["accuracy"].get<double>(), test_accuracy);

  const auto again = run_command(search_command(dir, "--budget 60 --iterations 1 --json --resume"));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const auto ja = nlohmann::json::parse(again.out);
  EXPECT_EQ(ja["trials_run"], 0);
  EXPECT_EQ(ja["trials"]["total"], 4);

  const auto refused = run_command(search_command(dir, "--budget 60 --iterations 1"));
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("already exists"));

  const auto shown = run_command(k_automl + " show " + (dir / "run").string());
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("Best trial: " + std::to_string(j["best"]["trial_id"].get<int>())));
  EXPECT_THAT(shown.out, HasSubstr("Trials:"));
}

TEST(SearchCli, ExitCodes) {
  TempDir dir;
  automl::test::write_search_files(dir.path(), 240, 120, 3);
  EXPECT_EQ(run_command(search_command(dir, "--iterations 1")).exit_code, 2); // --budget missing
  const auto bad_type = run_command(search_command(dir, "--budget 10 --budget-type steps"));
  EXPECT_EQ(bad_type.exit_code, 2);
  EXPECT_THAT(bad_type.err, HasSubstr("--budget-type"));
  const auto bad_preset = run_command(search_command(dir, "--budget 10 --preset tiny_sc"));
  EXPECT_EQ(bad_preset.exit_code, 2);
  EXPECT_THAT(bad_preset.err, HasSubstr("did you mean"));
  const auto missed = run_command(search_command(dir, "--budget 60 --iterations 1 --fail-under 0.95"));
  EXPECT_EQ(missed.exit_code, 3) << missed.err;
  EXPECT_THAT(missed.out, HasSubstr("FAILED: test accuracy"));
  EXPECT_EQ(run_command(k_automl + " show " + (dir / "nothing").string()).exit_code, 2);
  // Not even the smallest trial fits: exit 1 before any training, saying what would fit.
  // (in an --out of its own: one holding another study's results is refused)
  auto short_command = search_command(dir, "--budget 3 --budget-type time --study short", "--min-budget 100 --max-budget 300");
  const auto run_dir = (dir / "run").string();
  short_command.replace(short_command.find(run_dir), run_dir.size(), (dir / "short").string());
  const auto too_short = run_command(short_command);
  EXPECT_EQ(too_short.exit_code, 1) << too_short.err;
  EXPECT_THAT(too_short.err, HasSubstr("automl: error: search: no trial can finish within --budget 3"));
  EXPECT_THAT(too_short.err, HasSubstr("or --min-budget"));
}

TEST(SearchCli, ReturnsWithinTheBudget) {
  TempDir dir;
  automl::test::write_search_files(dir.path());
  const double budget = 4;
  // The process start-up and exit (loading LibTorch), which the command cannot see, measured the same way.
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(run_command(k_automl + " --version").exit_code, 0);
  const double startup = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  start = std::chrono::steady_clock::now();
  const auto r = run_command(search_command(dir, "--budget 4 --quiet", "--min-budget 3 --max-budget 27"));
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 2% of the budget, plus the process start-up and exit, plus a little for a machine shared with other work.
  EXPECT_LE(elapsed, budget * 1.02 + startup + 0.3);
  EXPECT_THAT(r.out, HasSubstr("Best trial"));
  EXPECT_EQ(r.err, ""); // --quiet: nothing on stderr
}
