// The automl binary against what a skeptical user does: signals in the middle of a search, values that would
// wrap or overflow, --json when the command fails, options after the subcommand, paths with quotes.

#include "support/automl_binary.hpp"
#include "support/driver_process.hpp"
#include "support/search_fixture.hpp"
#include "support/test_files.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <thread>

using automl::test::k_automl;
using automl::test::run_command;
using automl::test::TempDir;
using automl::study::TrialState;
using testing::HasSubstr;

namespace {

std::vector<std::string> search_args(const TempDir& dir, const std::string& budget, const std::string& workers = "1",
                                     const std::string& seed = "5") {
  return {"search", "--space", (dir / "space.yaml").string(), "--data", (dir / "train.csv").string(),
          "--test", (dir / "test.csv").string(), "--out", (dir / "run").string(), "--min-budget", "1",
          "--max-budget", "27", "--threads", "1", "--workers", workers, "--device", "cpu", "--seed", seed,
          "--budget", budget};
}

// Waits (up to a minute) until the study in <dir>/run has `n` complete trials.
void wait_for_complete_trials(const TempDir& dir, std::size_t n) {
  const auto db = (dir / "run/study.db").string();
  for (int i = 0; i < 600; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!std::filesystem::exists(db)) continue;
    try {
      if (automl::test::count_state(automl::test::study_trials(db), TrialState::complete) >= n) return;
    } catch (const std::exception&) {
      // the study is being created
    }
  }
  FAIL() << "no " << n << " complete trials within a minute";
}

} // namespace

// The first SIGINT stops the search: running trials are cut (PRUNED, run again on resume), the best so far is
// exported, every file is written, exit 130; the study resumes.
TEST(SignalsCli, FirstSigintExportsTheBestSoFarAndTheStudyResumes) {
  TempDir dir;
  automl::test::write_search_files(dir.path());
  const pid_t pid = automl::test::spawn_program(k_automl, search_args(dir, "300"), dir / "out.txt", dir / "err.txt");
  wait_for_complete_trials(dir, 3);
  ASSERT_EQ(kill(pid, SIGINT), 0);
  EXPECT_EQ(automl::test::wait_exit(pid), 130) << automl::test::read_file(dir / "err.txt");
  const auto err = automl::test::read_file(dir / "err.txt");
  EXPECT_THAT(err, HasSubstr("SIGINT received: stopping the running trials"));
  EXPECT_THAT(err, HasSubstr("stopped by SIGINT: exit 130"));
  for (const char* f : {"best_model.pt", "best_config.json", "effective_config.json", "trials.csv", "results.json"})
    EXPECT_TRUE(std::filesystem::exists(dir / "run" / f)) << f;
  const auto trials = automl::test::study_trials((dir / "run/study.db").string());
  EXPECT_EQ(automl::test::count_state(trials, TrialState::running), 0u); // `show` sees no ghost
  EXPECT_GE(automl::test::count_state(trials, TrialState::complete), 3u);

  const auto predicted = run_command(k_automl + " predict --model " + (dir / "run/best_model.pt").string() + " --data " +
                                     (dir / "test.csv").string());
  EXPECT_EQ(predicted.exit_code, 0) << predicted.err;

  // `model --graph` runs Graphviz without a shell: a quote in the path is just a character.
  if (run_command("command -v dot").exit_code == 0) {
    const auto svg = dir / "it's; touch pwned.svg";
    const auto drawn = run_command(k_automl + " model " + (dir / "run/best_model.pt").string() + " --graph \"" +
                                   svg.string() + "\"");
    EXPECT_EQ(drawn.exit_code, 0) << drawn.err;
    EXPECT_THAT(automl::test::read_file(svg), HasSubstr("<svg"));
    EXPECT_FALSE(std::filesystem::exists("pwned"));
    EXPECT_FALSE(std::filesystem::exists(dir / "pwned"));
  }
  auto resume = search_args(dir, "20");
  std::string line = k_automl;
  for (const auto& a : resume) line += " '" + a + "'";
  const auto resumed = run_command(line + " --resume --iterations 1 --json");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(nlohmann::json::parse(resumed.out)["resumed"], true);
}

// SIGTERM asks for the same graceful stop (exit 143); a second signal ends the process at once, also 143.
TEST(SignalsCli, SigtermTwiceExitsAt143) {
  TempDir dir;
  automl::test::write_search_files(dir.path());
  const pid_t pid = automl::test::spawn_program(k_automl, search_args(dir, "300"), dir / "out.txt", dir / "err.txt");
  wait_for_complete_trials(dir, 1);
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  EXPECT_EQ(automl::test::wait_exit(pid), 143);
}

TEST(HardeningCli, ValuesThatWouldWrapOrOverflowAreUsageErrors) {
  TempDir dir;
  automl::test::write_search_files(dir.path());
  const auto search = [&](const std::string& budget, const std::string& workers = "1", const std::string& seed = "5") {
    std::string line = k_automl;
    for (const auto& a : search_args(dir, budget, workers, seed)) line += " '" + a + "'";
    return run_command(line);
  };
  const auto workers = search("5", "-1");
  EXPECT_EQ(workers.exit_code, 2);
  EXPECT_THAT(workers.err, HasSubstr("--workers"));
  const auto infinite = search("inf");
  EXPECT_EQ(infinite.exit_code, 2);
  EXPECT_THAT(infinite.err, HasSubstr("--budget: must be > 0 and at most 31536000 seconds (a year), got inf"));
  const auto huge = search("1e12");
  EXPECT_EQ(huge.exit_code, 2);
  EXPECT_THAT(huge.err, HasSubstr("got 1e+12"));
  const auto seed = search("5", "1", "-3");
  EXPECT_EQ(seed.exit_code, 2);
  EXPECT_THAT(seed.err, HasSubstr("--seed"));
  // Above 2^64 - 1: refused, not clamped to it (every such seed was the same seed).
  const auto big_seed = search("5", "1", "99999999999999999999");
  EXPECT_EQ(big_seed.exit_code, 2);
  EXPECT_THAT(big_seed.err, HasSubstr("must be at most 18446744073709551615, got 99999999999999999999"));
  EXPECT_FALSE(std::filesystem::exists(dir / "run"));
}

// --json: a failing command still prints one JSON object on stdout, with the error and the exit code.
TEST(HardeningCli, JsonErrorsOnStdout) {
  TempDir dir;
  const auto missing = run_command(k_automl + " predict --json --model " + (dir / "none.pt").string() + " --data mnist");
  EXPECT_EQ(missing.exit_code, 2);
  const auto j = nlohmann::json::parse(missing.out);
  EXPECT_THAT(j["error"].get<std::string>(), HasSubstr("no such model file"));
  EXPECT_EQ(j["exit_code"], 2);
  const auto usage = run_command(k_automl + " search --json --budget 10 --workers 0 --preset tiny_cs");
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_EQ(nlohmann::json::parse(usage.out)["exit_code"], 2);
}

// --log-level is global: accepted after the subcommand as well as before it.
TEST(HardeningCli, LogLevelAfterTheSubcommand) {
  const auto before = run_command(k_automl + " --log-level off data inspect nothing-here");
  const auto after = run_command(k_automl + " data inspect nothing-here --log-level off");
  EXPECT_EQ(before.exit_code, 2);
  EXPECT_EQ(after.exit_code, 2);
  EXPECT_THAT(after.err, HasSubstr("unknown data source 'nothing-here'"));
  EXPECT_EQ(run_command(k_automl + " data inspect nothing-here --log-level loud").exit_code, 2);
}
