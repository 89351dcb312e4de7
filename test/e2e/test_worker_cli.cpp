// automl worker's refusals and quick exits, each with the process's exit code and message: no study, a study
// whose deadline has passed (exit 0, nothing run), data that differ from the study's, a space that differs, bad
// flags.

#include "study/storage.hpp"
#include "support/automl_binary.hpp"
#include "support/search_fixture.hpp"
#include "support/test_files.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using automl::test::k_automl;
using automl::test::run_command;
using automl::test::TempDir;
using testing::HasSubstr;

namespace {

std::string worker_command(const TempDir& dir, const std::string& extra = "") {
  return k_automl + " worker --storage sqlite:///" + (dir / "run" / "study.db").string() + " --study s --threads 1 --device cpu --out " +
         (dir / "worker").string() + " " + extra;
}

} // namespace

TEST(WorkerCli, RefusesWhatItCannotJoinAndLeavesAFinishedStudyAlone) {
  TempDir dir;
  automl::test::write_search_files(dir.path());
  std::filesystem::create_directories(dir / "run");
  const auto none = run_command(worker_command(dir));
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.err, HasSubstr("no study 's'"));
  EXPECT_THAT(none.err, HasSubstr("--wait SECONDS"));
  EXPECT_EQ(run_command(worker_command(dir, "--lease 0")).exit_code, 2);
  EXPECT_EQ(run_command(worker_command(dir, "--wait -1")).exit_code, 2);

  const auto search = run_command(k_automl + " search --space " + (dir / "space.yaml").string() + " --data " +
                                  (dir / "train.csv").string() + " --out " + (dir / "run").string() +
                                  " --study s --min-budget 1 --max-budget 3 --iterations 1 --threads 1 --device cpu "
                                  "--seed 5 --budget 30");
  ASSERT_EQ(search.exit_code, 0) << search.err;

  // The search ran its one iteration: a worker joins and finds nothing left to run.
  const auto joined = run_command(worker_command(dir, "--json"));
  ASSERT_EQ(joined.exit_code, 0) << joined.err;
  EXPECT_EQ(nlohmann::json::parse(joined.out)["trials_run"], 0);

  // The study's record for workers with its deadline moved: in the past, a worker has nothing to do (exit 0); in
  // the future, one whose data at the recorded path differ, or whose space differs, is refused.
  const auto move_deadline = [&](double seconds) {
    auto storage = automl::study::open_storage("sqlite:///" + (dir / "run" / "study.db").string());
    const auto study = storage->studies().at(0);
    auto record = study.settings.at("worker");
    record["deadline_unix"] = record["deadline_unix"].get<double>() + seconds;
    storage->set_study_setting(study.id, "worker", record);
  };
  move_deadline(-3600);
  const auto late = run_command(worker_command(dir, "--json"));
  ASSERT_EQ(late.exit_code, 0) << late.err;
  const auto j = nlohmann::json::parse(late.out);
  EXPECT_EQ(j["trials_run"], 0);
  EXPECT_EQ(j["reason"], "deadline passed");
  move_deadline(7200);

  const auto original = automl::test::read_file(dir / "train.csv");
  automl::test::write_file(dir / "train.csv", original.substr(0, original.rfind('\n', original.size() - 2) + 1));
  const auto differs = run_command(worker_command(dir));
  EXPECT_EQ(differs.exit_code, 2);
  EXPECT_THAT(differs.err, HasSubstr("the data here differs from the study's"));
  automl::test::write_file(dir / "train.csv", original);

  const auto space = automl::test::read_file(dir / "space.yaml");
  automl::test::write_file(dir / "space.yaml", space + "  loss: cross_entropy_weighted\n");
  const auto other_space = run_command(worker_command(dir));
  EXPECT_EQ(other_space.exit_code, 2);
  EXPECT_THAT(other_space.err, HasSubstr("search space here"));
}
