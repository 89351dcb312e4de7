#include "study/sqlite_storage.hpp"
#include "support/expect_error.hpp"
#include "support/test_files.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <thread>

using automl::study::ClaimDecision;
using automl::study::StudySpec;
using automl::study::Trial;
using automl::study::TrialState;
using automl::test::TempDir;

namespace {

StudySpec spec(const std::string& fingerprint = "fp1") {
  StudySpec s;
  s.name = "s";
  s.space_fingerprint = fingerprint;
  s.seed = 42;
  s.settings = {{"optimizer", "bohb"}, {"eta", 3}};
  return s;
}

// A decider that inserts rung-0 configuration `slot` = number of trials so far.
ClaimDecision insert_next(const std::vector<Trial>& trials) {
  ClaimDecision d;
  d.kind = ClaimDecision::Kind::insert;
  d.trial.slot = trials.size();
  d.trial.budget = 1;
  d.trial.cost = 1;
  d.trial.unit = {0.25, std::nan(""), 1.0 / 3.0};
  d.trial.config = R"({"lr": 0.1})";
  return d;
}

} // namespace

TEST(Storage, UrlSchemes) {
  TempDir dir;
  // The file is created, not its directory: sqlite:///dev/null names ./dev/null, which is a typo.
  automl::test::expect_input_error([&] { automl::study::open_storage("sqlite:///" + (dir / "a/b/study.db").string()); },
                                   {"no such directory '" + (dir / "a/b").string() + "'", "sqlite:////PATH absolute"});
  EXPECT_FALSE(std::filesystem::exists(dir / "a"));
  automl::test::expect_input_error([] { automl::study::open_storage("sqlite:////dev/null"); }, {"/dev/null: not a regular file"});
  std::filesystem::create_directories(dir / "a/b");
  const auto storage = automl::study::open_storage("sqlite:///" + (dir / "a/b/study.db").string());
  EXPECT_TRUE(std::filesystem::exists(dir / "a/b/study.db"));
  automl::test::expect_input_error([] { automl::study::open_storage("postgres://host/db"); },
                                   {"storage URL 'postgres://host/db': unknown scheme 'postgres'; valid: sqlite:///runs/study.db"});
  automl::test::expect_input_error([] { automl::study::open_storage("study.db"); },
                                   {"storage URL 'study.db': expected SCHEME://...; valid: sqlite:///"});
  automl::test::expect_input_error([] { automl::study::open_storage("sqlite://study.db"); },
                                   {"expected sqlite:///path/to/study.db"});
}

TEST(Storage, CannotOpenADirectory) {
  TempDir dir;
  try {
    automl::study::SqliteStorage storage(dir.path().string());
    ADD_FAILURE() << "opened a directory";
  } catch (const automl::Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.path().string()), std::string::npos) << e.what();
  }
}

TEST(Storage, ResumesTheSameStudyAndRefusesAChangedSpace) {
  TempDir dir;
  const auto path = (dir / "study.db").string();
  std::int64_t id = 0;
  {
    automl::study::SqliteStorage storage(path);
    const auto record = storage.open_study(spec());
    EXPECT_FALSE(record.resumed);
    id = record.id;
    storage.claim(id, insert_next, "me", 100.0);
  }
  automl::study::SqliteStorage storage(path);
  const auto record = storage.open_study(spec());
  EXPECT_TRUE(record.resumed);
  EXPECT_EQ(record.id, id);
  EXPECT_EQ(storage.trials(id).size(), 1u);
  automl::test::expect_input_error([&] { storage.open_study(spec("fp2")); },
                                   {"study 's'", "cannot be resumed: its search space changed", "fp1", "fp2"});
  auto other = spec();
  other.settings["eta"] = 2;
  automl::test::expect_input_error([&] { storage.open_study(other); },
                                   {"study 's' cannot be resumed: setting 'eta' was 3, now 2"});
  other = spec();
  other.seed = 1;
  automl::test::expect_input_error([&] { storage.open_study(other); }, {"setting 'seed' was 42, now 1"});
}

TEST(Storage, TrialRoundTrip) {
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "study.db").string());
  const auto study = storage.open_study(spec());
  const auto claimed = storage.claim(study.id, insert_next, "worker-1", 100.5);
  ASSERT_TRUE(claimed);
  EXPECT_EQ(claimed->state, TrialState::running);
  EXPECT_EQ(claimed->worker, "worker-1");
  EXPECT_EQ(claimed->seed, automl::study::trial_seed(42, claimed->iteration, claimed->slot, claimed->rung));
  EXPECT_NE(automl::study::trial_seed(42, 0, 0, 0), automl::study::trial_seed(42, 0, 0, 1));
  EXPECT_NE(automl::study::trial_seed(42, 0, 1, 0), automl::study::trial_seed(42, 1, 0, 0));
  EXPECT_EQ(claimed->unit[0], 0.25);
  EXPECT_TRUE(std::isnan(claimed->unit[1]));
  EXPECT_EQ(claimed->unit[2], 1.0 / 3.0); // exact round trip through JSON text
  EXPECT_EQ(claimed->config_id(), "[0, 0, 0]");
  storage.set_metrics(claimed->id, {{1, 0.5}});
  storage.finish(claimed->id, TrialState::complete, 0.25, {{1, 0.5}, {2, 0.25}}, "", 101.5);
  storage.set_checkpoint(claimed->id, 1.0, "/ckpt/1");
  storage.set_checkpoint(claimed->id, 3.0, "/ckpt/3");
  const Trial t = storage.trial(claimed->id);
  EXPECT_EQ(t.state, TrialState::complete);
  EXPECT_EQ(t.loss, 0.25);
  ASSERT_EQ(t.metrics.size(), 2u);
  EXPECT_EQ(t.metrics[1].value, 0.25);
  EXPECT_EQ(t.finished_at, 101.5);
  EXPECT_EQ(storage.checkpoint(claimed->id), "/ckpt/3");
  // Running it again clears the outcome and counts the attempt; id and seed stay.
  const auto rerun = storage.claim(
      study.id,
      [&](const std::vector<Trial>&) {
        ClaimDecision d;
        d.kind = ClaimDecision::Kind::rerun;
        d.rerun_id = claimed->id;
        return d;
      },
      "worker-2", 200.0);
  ASSERT_TRUE(rerun);
  EXPECT_EQ(rerun->id, claimed->id);
  EXPECT_EQ(rerun->seed, claimed->seed);
  EXPECT_EQ(rerun->state, TrialState::running);
  EXPECT_FALSE(rerun->loss);
  EXPECT_TRUE(rerun->metrics.empty());
  EXPECT_EQ(rerun->attempts, 2);
  EXPECT_EQ(rerun->worker, "worker-2");
}

TEST(Storage, ADeciderThatThrowsWritesNothing) {
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "study.db").string());
  const auto study = storage.open_study(spec());
  EXPECT_THROW(storage.claim(study.id, [](const std::vector<Trial>&) -> ClaimDecision { throw std::runtime_error("no"); },
                             "w", 1.0),
               std::runtime_error);
  EXPECT_TRUE(storage.trials(study.id).empty());
  EXPECT_FALSE(storage.claim(study.id, [](const std::vector<Trial>&) { return ClaimDecision{}; }, "w", 1.0));
}

TEST(Storage, ManyConnectionsClaimWithoutLossOrDuplicates) {
  // Four threads, each with its own connection (as separate processes would have), claim at once; every claim
  // reads the trials and inserts slot = count, so a lost update would show up as a UNIQUE violation or a gap.
  TempDir dir;
  const auto path = (dir / "study.db").string();
  std::int64_t study_id = automl::study::SqliteStorage(path).open_study(spec()).id;
  constexpr int k_threads = 4, k_claims = 40;
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      try {
        automl::study::SqliteStorage storage(path);
        for (int i = 0; i < k_claims; ++i) {
          const auto trial = storage.claim(study_id, insert_next, "w" + std::to_string(t), 1.0);
          storage.finish(trial->id, TrialState::complete, 0.5, {}, "", 2.0);
        }
      } catch (const std::exception& e) {
        ++errors;
        ADD_FAILURE() << e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  const auto trials = automl::study::SqliteStorage(path).trials(study_id);
  ASSERT_EQ(trials.size(), static_cast<std::size_t>(k_threads * k_claims));
  std::set<std::size_t> slots;
  for (const auto& t : trials) {
    slots.insert(t.slot);
    EXPECT_EQ(t.state, TrialState::complete);
  }
  EXPECT_EQ(slots.size(), trials.size());
  EXPECT_EQ(*slots.rbegin(), trials.size() - 1);
}

TEST(Storage, UnitVectorJson) {
  const automl::space::UnitVector unit{0.1, std::nan(""), 1e-300, 1.0};
  const auto text = automl::study::unit_to_json(unit);
  EXPECT_NE(text.find(",null,"), std::string::npos) << text;
  const auto back = automl::study::unit_from_json(text);
  EXPECT_EQ(back[0], 0.1);
  EXPECT_TRUE(std::isnan(back[1]));
  EXPECT_EQ(back[2], 1e-300);
  EXPECT_TRUE(automl::study::unit_from_json("[]").empty());
  EXPECT_THROW(automl::study::unit_from_json("[0.1,"), automl::Error);
  EXPECT_THROW(automl::study::unit_from_json("{}"), automl::Error);
}

TEST(SqliteStorage, ListsStudiesWithoutCreatingAny) {
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "study.db").string());
  EXPECT_TRUE(storage.studies().empty());
  auto a = spec();
  a.name = "a";
  auto b = spec("fp2");
  b.name = "b";
  storage.open_study(a);
  storage.open_study(b);
  const auto studies = storage.studies();
  ASSERT_EQ(studies.size(), 2u);
  EXPECT_EQ(studies[0].name, "a");
  EXPECT_EQ(studies[1].name, "b");
  EXPECT_EQ(studies[1].space_fingerprint, "fp2");
  EXPECT_EQ(studies[1].seed, 42u);
  EXPECT_EQ(studies[1].settings, b.settings);
  EXPECT_EQ(storage.studies().size(), 2u);
}
