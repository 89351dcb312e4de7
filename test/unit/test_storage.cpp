// The storage tests, run against every storage: SQLite (a file in a temp folder) and PostgreSQL (a schema of its
// own on the project's throwaway server, support/postgres.hpp). Scheme-specific cases at the end.

#include "study/postgres_storage.hpp"
#include "study/sqlite_storage.hpp"
#include "support/expect_error.hpp"
#include "support/postgres.hpp"
#include "support/test_files.hpp"
#include "support/test_store.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/mount.h>

#include <atomic>
#include <memory>

#include <chrono>
#include <cmath>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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

// One store per test, of the parameter's kind; open() opens it again as another process would.
class StorageTest : public testing::TestWithParam<std::string> {
protected:
  const std::string& url() const { return m_store.url(); }
  std::unique_ptr<automl::study::Storage> open() const { return automl::study::open_storage(url()); }

private:
  automl::test::TestStore m_store{GetParam()};
};

} // namespace

INSTANTIATE_TEST_SUITE_P(Storages, StorageTest, automl::test::k_store_schemes, automl::test::store_test_name);

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
  automl::test::expect_input_error([] { automl::study::open_storage("postgre://host/db"); },
                                   {"storage URL 'postgre://host/db': unknown scheme 'postgre'; valid: sqlite:///runs/study.db, "
                                    "postgresql://user:password@host:5432/db"});
  automl::test::expect_input_error([] { automl::study::open_storage("study.db"); },
                                   {"storage URL 'study.db': expected SCHEME://...; valid: sqlite:///"});
  automl::test::expect_input_error([] { automl::study::open_storage("sqlite://study.db"); },
                                   {"expected sqlite:///path/to/study.db"});
}

// SQLite's processes share one machine and so each other's checkpoint directories; a server's need not.
TEST(Storage, OnlySqliteIsOneMachines) {
  EXPECT_TRUE(automl::study::one_machine_storage("sqlite:///runs/study.db"));
  EXPECT_TRUE(automl::study::one_machine_storage("sqlite:////abs/study.db"));
  EXPECT_FALSE(automl::study::one_machine_storage("postgresql://u:p@host:5432/db"));
  EXPECT_FALSE(automl::study::one_machine_storage("postgres://host/db"));
  EXPECT_FALSE(automl::study::one_machine_storage("sqlitex:///study.db"));
  EXPECT_FALSE(automl::study::one_machine_storage("study.db"));
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

TEST_P(StorageTest, ResumesTheSameStudyAndRefusesAChangedSpace) {
  std::int64_t id = 0;
  {
    const auto first = open();
    const auto record = first->open_study(spec());
    EXPECT_FALSE(record.resumed);
    id = record.id;
    first->claim(id, insert_next, "me", 100.0, 60.0);
  }
  const auto opened = open();
  auto& storage = *opened;
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
  // A search without --resume that found no study, when another process has created it since.
  other = spec();
  other.must_be_new = true;
  automl::test::expect_input_error([&] { storage.open_study(other); },
                                   {"study 's' already exists", "another process created it", "--resume"});
}

TEST_P(StorageTest, TrialRoundTrip) {
  const auto opened = open();
  auto& storage = *opened;
  const auto study = storage.open_study(spec());
  const auto claimed = storage.claim(study.id, insert_next, "worker-1", 100.5, 60.0);
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
  storage.set_metrics(claimed->id, 1, {{1, 0.5}});
  storage.set_checkpoint(claimed->id, 1, 1.0, "/ckpt/1", std::nullopt);
  storage.set_checkpoint(claimed->id, 1, 3.0, "/ckpt/3", std::nullopt);
  storage.finish(claimed->id, 1, TrialState::complete, 0.25, {{1, 0.5}, {2, 0.25}}, "", 101.5);
  const Trial t = storage.trial(claimed->id);
  EXPECT_EQ(t.state, TrialState::complete);
  EXPECT_EQ(t.loss, 0.25);
  ASSERT_EQ(t.metrics.size(), 2u);
  EXPECT_EQ(t.metrics[1].value, 0.25);
  EXPECT_EQ(t.finished_at, 101.5);
  EXPECT_EQ(storage.checkpoint(claimed->id), "/ckpt/3");
  // A PRUNED trial (stopped before its budget) runs again: the outcome is cleared and the attempt counted; id and
  // seed stay.
  const auto pruned = storage.claim(study.id, insert_next, "worker-1", 102.0, 60.0);
  storage.finish(pruned->id, 1, TrialState::pruned, 0.5, {{1, 0.5}}, "", 103.0);
  const auto rerun = storage.claim(
      study.id,
      [&](const std::vector<Trial>&) {
        ClaimDecision d;
        d.kind = ClaimDecision::Kind::rerun;
        d.rerun_id = pruned->id;
        return d;
      },
      "worker-2", 200.0, 60.0);
  ASSERT_TRUE(rerun);
  EXPECT_EQ(rerun->id, pruned->id);
  EXPECT_EQ(rerun->seed, pruned->seed);
  EXPECT_EQ(rerun->state, TrialState::running);
  EXPECT_FALSE(rerun->loss);
  EXPECT_TRUE(rerun->metrics.empty());
  EXPECT_EQ(rerun->attempts, 2);
  EXPECT_EQ(rerun->worker, "worker-2");
}

// Checkpoint archives are bytes (SQLite BLOB, PostgreSQL bytea sent and read in binary): every byte value
// comes back, NULs included, at the size of a small network's checkpoint.
TEST_P(StorageTest, CheckpointArchivesRoundTripByteForByte) {
  const auto storage = open();
  const auto study = storage->open_study(spec()).id;
  const auto t = storage->claim(study, insert_next, "w", 1.0, 60.0);
  ASSERT_TRUE(t);
  EXPECT_FALSE(storage->checkpoint_archive(t->id)); // no checkpoint
  storage->set_checkpoint(t->id, 1, 1.0, "/ckpt/1", std::nullopt);
  EXPECT_FALSE(storage->checkpoint_archive(t->id)); // a reference alone
  std::string archive(3 << 20, '\0');
  for (std::size_t i = 0; i < archive.size(); ++i) archive[i] = static_cast<char>((i * 131 + i / 251) & 0xFF);
  storage->set_checkpoint(t->id, 1, 3.0, "/ckpt/3", archive);
  storage->set_checkpoint(t->id, 1, 2.0, "/ckpt/2", std::string_view("a lower budget's"));
  EXPECT_EQ(storage->checkpoint(t->id), "/ckpt/3");
  const auto read = open()->checkpoint_archive(t->id); // as another worker reads it
  ASSERT_TRUE(read);
  EXPECT_EQ(read->size(), archive.size());
  EXPECT_TRUE(*read == archive);
  // Writing the same budget again replaces the archive with the reference; an empty one is not none.
  storage->set_checkpoint(t->id, 1, 3.0, "/ckpt/3b", std::string_view(""));
  EXPECT_EQ(storage->checkpoint_archive(t->id), "");
  storage->set_checkpoint(t->id, 1, 3.0, "/ckpt/3c", std::nullopt);
  EXPECT_FALSE(storage->checkpoint_archive(t->id));
  EXPECT_EQ(storage->checkpoint(t->id), "/ckpt/3c");
}

// Dropping forgets every budget's checkpoint of the trials named, in one go, and nothing of the others.
TEST_P(StorageTest, DroppedCheckpointsAreGoneForEveryConnection) {
  const auto storage = open();
  const auto study = storage->open_study(spec()).id;
  const auto a = storage->claim(study, insert_next, "w", 1.0, 60.0);
  const auto b = storage->claim(study, insert_next, "w", 1.0, 60.0);
  ASSERT_TRUE(a && b);
  storage->set_checkpoint(a->id, 1, 1.0, "/ckpt/a1", std::string_view("a at 1"));
  storage->set_checkpoint(a->id, 1, 3.0, "/ckpt/a3", std::string_view("a at 3"));
  storage->set_checkpoint(b->id, 1, 1.0, "/ckpt/b1", std::string_view("b at 1"));
  storage->drop_checkpoints({});
  storage->drop_checkpoints({a->id, a->id + 1000}); // a trial without a checkpoint is passed over
  const auto other = open();
  EXPECT_FALSE(other->checkpoint(a->id));
  EXPECT_FALSE(other->checkpoint_archive(a->id));
  EXPECT_EQ(other->checkpoint(b->id), "/ckpt/b1");
  EXPECT_EQ(other->checkpoint_archive(b->id), "b at 1");
}

// A settled trial (COMPLETE or FAIL) never changes again: the claims' cache of what they read relies on it.
TEST_P(StorageTest, ACompleteOrFailedTrialIsNeverRunAgain) {
  const auto storage = open();
  const auto study = storage->open_study(spec()).id;
  const auto complete = storage->claim(study, insert_next, "w", 1.0, 60.0);
  storage->finish(complete->id, 1, TrialState::complete, 0.25, {{1, 0.25}}, "", 2.0);
  const auto failed = storage->claim(study, insert_next, "w", 1.0, 60.0);
  storage->finish(failed->id, 1, TrialState::fail, std::nullopt, {}, "boom", 2.0);
  for (const auto& [id, state] : {std::pair{complete->id, "COMPLETE"}, std::pair{failed->id, "FAIL"}}) {
    const auto rerun = [id = id](const std::vector<Trial>&) {
      ClaimDecision d;
      d.kind = ClaimDecision::Kind::rerun;
      d.rerun_id = id;
      return d;
    };
    try {
      open()->claim(study, rerun, "w2", 3.0, 60.0);
      ADD_FAILURE() << "trial " << id << " (" << state << ") was run again";
    } catch (const automl::Error& e) {
      EXPECT_EQ(std::string(e.what()), "claim: trial " + std::to_string(id) + " is " + state +
                                           ": only a RUNNING or PRUNED trial can be run again");
    }
  }
  const auto trials = storage->trials(study);
  EXPECT_EQ(trials.at(0).state, TrialState::complete);
  EXPECT_EQ(trials.at(0).loss, 0.25);
  EXPECT_EQ(trials.at(1).state, TrialState::fail);
  EXPECT_EQ(trials.at(1).attempts, 1);
}

// Field by field, what a claim's decider sees against what trials() reads.
void expect_same_trials(const std::vector<Trial>& seen, const std::vector<Trial>& stored) {
  ASSERT_EQ(seen.size(), stored.size());
  for (std::size_t i = 0; i < seen.size(); ++i) {
    const Trial& a = seen[i];
    const Trial& b = stored[i];
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.state, b.state) << "trial " << a.id;
    EXPECT_EQ(a.loss, b.loss) << "trial " << a.id;
    EXPECT_EQ(a.attempts, b.attempts) << "trial " << a.id;
    EXPECT_EQ(a.worker, b.worker) << "trial " << a.id;
    EXPECT_EQ(a.error, b.error) << "trial " << a.id;
    EXPECT_EQ(a.finished_at, b.finished_at) << "trial " << a.id;
    EXPECT_EQ(a.lease_expired, b.lease_expired) << "trial " << a.id;
    ASSERT_EQ(a.metrics.size(), b.metrics.size()) << "trial " << a.id;
    for (std::size_t k = 0; k < a.metrics.size(); ++k) EXPECT_EQ(a.metrics[k].value, b.metrics[k].value);
  }
}

TEST_P(StorageTest, AClaimSeesWhatOtherConnectionsWroteSinceItsLastClaim) {
  // Two connections take turns: each claim reads only what may have changed since that connection's last claim,
  // and must still see every trial as it is stored now.
  const auto a = open();
  const auto b = open();
  const auto study = a->open_study(spec()).id;
  std::vector<Trial> seen;
  const auto look = [&](const std::vector<Trial>& trials) {
    seen = trials;
    return ClaimDecision{};
  };
  const auto claim_and_check = [&](automl::study::Storage& s, const automl::study::ClaimDecider& decide) {
    const auto claimed = s.claim(study, decide, "w", 1.0, 0.3);
    s.claim(study, look, "w", 1.0, 60.0);
    expect_same_trials(seen, a->trials(study));
    return claimed;
  };
  const auto t1 = claim_and_check(*a, insert_next);
  const auto t2 = claim_and_check(*a, insert_next);
  const auto t3 = claim_and_check(*b, insert_next);
  a->set_metrics(t1->id, 1, {{1, 0.7}});
  claim_and_check(*b, look);
  b->finish(t1->id, 1, TrialState::complete, 0.6, {{1, 0.7}, {2, 0.6}}, "", 2.0); // a's trial, finished through b
  a->finish(t3->id, 1, TrialState::pruned, 0.8, {{1, 0.8}}, "", 2.0);
  claim_and_check(*a, insert_next);
  const auto rerun = [&](std::int64_t id) {
    return [id](const std::vector<Trial>&) {
      ClaimDecision d;
      d.kind = ClaimDecision::Kind::rerun;
      d.rerun_id = id;
      return d;
    };
  };
  claim_and_check(*b, rerun(t3->id)); // the PRUNED trial runs again (attempt 2)
  b->finish(t2->id, 1, TrialState::fail, std::nullopt, {}, "boom", 3.0);
  claim_and_check(*a, insert_next);
  std::this_thread::sleep_for(std::chrono::milliseconds(500)); // the 0.3 s leases of the RUNNING trials expire
  claim_and_check(*a, look);
  claim_and_check(*b, rerun(t3->id)); // expired: attempt 3
  claim_and_check(*a, look);
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(a->trial(t3->id).attempts, 3);
}

TEST_P(StorageTest, ADeciderThatThrowsWritesNothing) {
  const auto opened = open();
  auto& storage = *opened;
  const auto study = storage.open_study(spec());
  EXPECT_THROW(storage.claim(study.id, [](const std::vector<Trial>&) -> ClaimDecision { throw std::runtime_error("no"); },
                             "w", 1.0, 60.0),
               std::runtime_error);
  EXPECT_TRUE(storage.trials(study.id).empty());
  EXPECT_FALSE(storage.claim(study.id, [](const std::vector<Trial>&) { return ClaimDecision{}; }, "w", 1.0, 60.0));
}

TEST_P(StorageTest, ManyConnectionsClaimWithoutLossOrDuplicates) {
  // Four threads, each with its own connection (as separate processes would have), claim at once; every claim
  // reads the trials and inserts slot = count, so a lost update would show up as a UNIQUE violation or a gap.
  std::int64_t study_id = open()->open_study(spec()).id;
  constexpr int k_threads = 4, k_claims = 40;
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      try {
        const auto storage = open();
        for (int i = 0; i < k_claims; ++i) {
          const auto trial = storage->claim(study_id, insert_next, "w" + std::to_string(t), 1.0, 60.0);
          storage->finish(trial->id, trial->attempts, TrialState::complete, 0.5, {}, "", 2.0);
        }
      } catch (const std::exception& e) {
        ++errors;
        ADD_FAILURE() << e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  const auto trials = open()->trials(study_id);
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

TEST_P(StorageTest, ListsStudiesWithoutCreatingAny) {
  const auto opened = open();
  auto& storage = *opened;
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

TEST_P(StorageTest, ResultsRoundTripExactlyIncludingInfinity) {
  const auto storage = open();
  const auto study = storage->open_study(spec());
  const auto a = storage->claim(study.id, insert_next, "w", 1.0, 60.0);
  const auto b = storage->claim(study.id, insert_next, "w", 1.0, 60.0);
  storage->finish(a->id, 1, TrialState::complete, 0.1 + 0.2, {{0.5, 1.0 / 3.0}}, "", 1.25);
  storage->finish(b->id, 1, TrialState::fail, std::numeric_limits<double>::infinity(), {}, "it's \"quoted\"\nand multi-line", 2.0);
  const auto trials = open()->trials(study.id);
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(trials[0].loss, 0.1 + 0.2);
  EXPECT_EQ(trials[0].metrics.at(0).step, 0.5);
  EXPECT_EQ(trials[0].metrics.at(0).value, 1.0 / 3.0);
  EXPECT_EQ(trials[1].loss, std::numeric_limits<double>::infinity());
  EXPECT_EQ(trials[1].error, "it's \"quoted\"\nand multi-line");
  EXPECT_EQ(trials[1].state, TrialState::fail);
  EXPECT_THROW(storage->finish(999999, 1, TrialState::complete, 0.5, {}, "", 3.0), automl::Error);
}

TEST(PostgresStorage, UrlsAndErrors) {
  EXPECT_EQ(automl::study::redact_url_password("postgresql://bob:s3cret@db:5432/x"), "postgresql://bob:***@db:5432/x");
  EXPECT_EQ(automl::study::redact_url_password("postgresql://bob@db/x"), "postgresql://bob@db/x");
  EXPECT_EQ(automl::study::redact_url_password("postgres://db/x?user=a"), "postgres://db/x?user=a");
  // Nothing listens on port 1: a clear error naming the server, without the password.
  try {
    automl::study::open_storage("postgresql://bob:s3cret@127.0.0.1:1/x?connect_timeout=5");
    ADD_FAILURE() << "connected to port 1";
  } catch (const automl::Error& e) {
    EXPECT_THAT(e.what(), testing::HasSubstr("cannot connect to study database postgresql://bob:***@127.0.0.1:1/x"));
    EXPECT_THAT(e.what(), testing::Not(testing::HasSubstr("s3cret")));
  }
  // Both spellings of the scheme reach the same server.
  automl::test::PostgresSchema schema;
  const auto other = "postgres://" + schema.url().substr(std::string("postgresql://").size());
  automl::study::open_storage(schema.url())->open_study(spec());
  EXPECT_EQ(automl::study::open_storage(other)->studies().size(), 1u);
}

TEST(PostgresStorage, ADatabaseOfANewerSchemaVersionIsRefused) {
  automl::test::PostgresSchema schema;
  automl::study::open_storage(schema.url())->open_study(spec());
  automl::test::postgres_exec(schema.url(), "UPDATE automl_meta SET value = '99' WHERE key = 'schema_version'");
  automl::test::expect_input_error([&] { automl::study::open_storage(schema.url()); },
                                   {"has automl schema version 99; this automl reads version 2"});
  automl::test::postgres_exec(schema.url(), "UPDATE automl_meta SET value = 'x' WHERE key = 'schema_version'");
  automl::test::expect_input_error([&] { automl::study::open_storage(schema.url()); }, {"schema_version is 'x'"});
}

// How PostgreSQL keeps the archives: 'e' (external) is out of line and never compressed.
const std::string k_archive_storage =
    "SELECT attstorage FROM pg_attribute WHERE attrelid = 'checkpoints'::regclass AND attname = 'archive'";

TEST(PostgresStorage, ArchivesAreStoredWithoutCompression) {
  automl::test::PostgresSchema schema;
  automl::study::open_storage(schema.url());
  EXPECT_EQ(automl::test::postgres_exec(schema.url(), k_archive_storage), "e");
}

TEST(PostgresStorage, AVersion1DatabaseIsMigratedToVersion2) {
  automl::test::PostgresSchema schema;
  std::int64_t trial = 0;
  {
    const auto storage = automl::study::open_storage(schema.url());
    const auto study = storage->open_study(spec()).id;
    trial = storage->claim(study, insert_next, "w", 1.0, 60.0)->id;
    storage->set_checkpoint(trial, 1, 1.0, "/ckpt/1", std::nullopt);
  }
  // Version 1: checkpoints were references only.
  automl::test::postgres_exec(schema.url(), "ALTER TABLE checkpoints DROP COLUMN archive; "
                                            "UPDATE automl_meta SET value = '1' WHERE key = 'schema_version'");
  const auto storage = automl::study::open_storage(schema.url());
  // Version 2 now: an automl that reads version 1 refuses the database ("a newer automl wrote it").
  EXPECT_EQ(automl::test::postgres_exec(schema.url(), "SELECT value FROM automl_meta WHERE key = 'schema_version'"), "2");
  EXPECT_EQ(automl::test::postgres_exec(schema.url(), k_archive_storage), "e"); // as in a new database
  EXPECT_EQ(storage->checkpoint(trial), "/ckpt/1");
  EXPECT_FALSE(storage->checkpoint_archive(trial));
  storage->set_checkpoint(trial, 1, 3.0, "/ckpt/3", std::string_view("files\0packed", 12));
  EXPECT_EQ(automl::study::open_storage(schema.url())->checkpoint_archive(trial), std::string("files\0packed", 12));
}

TEST(PostgresStorage, ALockHeldElsewhereFailsAfterTheLockTimeout) {
  automl::test::PostgresSchema schema;
  const auto study = automl::study::open_storage(schema.url())->open_study(spec()).id;
  automl::study::StorageOptions options;
  options.lock_timeout_s = 0.2;
  const auto storage = automl::study::open_storage(schema.url(), options);
  // Another session holds the study's row (as a claim does) for longer than this storage waits.
  std::thread locker([&] {
    automl::test::postgres_exec(schema.url(), "BEGIN; SELECT * FROM studies WHERE id = " + std::to_string(study) +
                                                  " FOR UPDATE; SELECT pg_sleep(2); COMMIT;");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  try {
    storage->claim(study, insert_next, "w", 1.0, 60.0);
    ADD_FAILURE() << "claimed while another session held the study";
  } catch (const automl::Error& e) {
    EXPECT_THAT(e.what(), testing::HasSubstr("holds a lock for longer than the lock timeout"));
  }
  locker.join();
  EXPECT_TRUE(storage->claim(study, insert_next, "w", 1.0, 60.0)); // the connection is usable after the failure
  EXPECT_EQ(storage->trials(study).size(), 1u);
}

TEST_P(StorageTest, LeasesExpireOnTheDatabasesClockAndLateWritesAreFenced) {
  const auto storage = open();
  const auto study = storage->open_study(spec()).id;
  const auto first = storage->claim(study, insert_next, "w1", 1.0, 0.3);
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->lease_expires_at);
  EXPECT_FALSE(first->lease_expired);
  EXPECT_TRUE(storage->renew_lease(first->id, 1, 0.3));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_TRUE(open()->trial(first->id).lease_expired); // as every other worker sees it
  // Another worker runs it again (attempt 2); the first attempt's writes are refused and change nothing.
  const auto second = open()->claim(
      study,
      [&](const std::vector<Trial>& trials) {
        EXPECT_TRUE(trials.at(0).lease_expired);
        ClaimDecision d;
        d.kind = ClaimDecision::Kind::rerun;
        d.rerun_id = first->id;
        return d;
      },
      "w2", 2.0, 60.0);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->attempts, 2);
  EXPECT_FALSE(second->lease_expired);
  EXPECT_FALSE(storage->renew_lease(first->id, 1, 60.0));
  EXPECT_THROW(storage->set_metrics(first->id, 1, {{1, 0.9}}), automl::study::FencedError);
  EXPECT_THROW(storage->set_checkpoint(first->id, 1, 1.0, "/late", std::nullopt), automl::study::FencedError);
  EXPECT_THROW(storage->set_checkpoint(first->id, 1, 1.0, "/late", std::string_view("late files")),
               automl::study::FencedError);
  try {
    storage->finish(first->id, 1, TrialState::complete, 0.9, {}, "", 3.0);
    ADD_FAILURE() << "a late result was accepted";
  } catch (const automl::study::FencedError& e) {
    EXPECT_THAT(e.what(), testing::HasSubstr("attempt 1 refused: the trial is RUNNING at attempt 2"));
  }
  storage->finish(first->id, 2, TrialState::complete, 0.4, {{1, 0.4}}, "", 4.0);
  const auto t = storage->trial(first->id);
  EXPECT_EQ(t.loss, 0.4);
  EXPECT_EQ(t.worker, "w2");
  EXPECT_FALSE(storage->checkpoint(first->id));
  EXPECT_FALSE(storage->checkpoint_archive(first->id));
  EXPECT_FALSE(t.lease_expires_at); // a finished trial holds no lease
  EXPECT_THROW(storage->finish(first->id, 2, TrialState::complete, 0.1, {}, "", 5.0), automl::study::FencedError);
}

TEST_P(StorageTest, ReadOnlyOpensNeverWrite) {
  automl::study::StorageOptions read_only;
  read_only.read_only = true;
  if (GetParam() == "sqlite") {
    automl::test::expect_input_error([&] { automl::study::open_storage(url(), read_only); }, {"does not exist"});
  } else {
    automl::test::expect_input_error([&] { automl::study::open_storage(url(), read_only); }, {"holds no automl studies"});
  }
  open()->open_study(spec());
  const auto reader = automl::study::open_storage(url(), read_only);
  EXPECT_EQ(reader->studies().size(), 1u);
  auto other = spec();
  other.name = "other";
  EXPECT_THROW(reader->open_study(other), automl::Error);
  EXPECT_EQ(open()->studies().size(), 1u);
}

TEST(PostgresStorage, ATrialChosenToRunAgainThatFinishedMeanwhileKeepsItsResult) {
  // finish() does not wait for the study's lock: a worker may finish its trial between the claim's read and its
  // write. The claim must not run it again (losing the result); it decides again on what is stored now.
  automl::test::PostgresSchema schema;
  const auto worker = automl::study::open_storage(schema.url());
  const auto study = worker->open_study(spec()).id;
  const auto running = worker->claim(study, insert_next, "worker", 1.0, 60.0);
  std::vector<std::vector<Trial>> calls;
  const auto claimed = automl::study::open_storage(schema.url())->claim(
      study,
      [&](const std::vector<Trial>& trials) {
        calls.push_back(trials);
        if (calls.size() > 1) return insert_next(trials);
        worker->finish(running->id, 1, TrialState::complete, 0.3, {{1, 0.3}}, "", 2.0); // while the claim is open
        ClaimDecision d;
        d.kind = ClaimDecision::Kind::rerun;
        d.rerun_id = running->id;
        return d;
      },
      "claimer", 3.0, 60.0);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].at(0).state, TrialState::running);
  EXPECT_EQ(calls[1].at(0).state, TrialState::complete);
  ASSERT_TRUE(claimed);
  EXPECT_NE(claimed->id, running->id);
  const auto kept = worker->trial(running->id);
  EXPECT_EQ(kept.state, TrialState::complete);
  EXPECT_EQ(kept.loss, 0.3);
  EXPECT_EQ(kept.attempts, 1);
}

TEST(SqliteStorage, ForeignNewerAndOldDatabases) {
  TempDir dir;
  automl::test::write_file(dir / "text.db", "this is not a database, just text long enough to have a header.......\n");
  automl::test::expect_input_error([&] { automl::study::open_storage("sqlite:///" + (dir / "text.db").string()); },
                                   {"text.db: not an automl study database"});
  const auto path = (dir / "study.db").string();
  automl::study::SqliteStorage(path).open_study(spec());
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version = 7", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  automl::test::expect_input_error([&] { automl::study::SqliteStorage storage(path); },
                                   {"has automl schema version 7; this automl reads version 2"});
  // A database of the version before leases (no lease column, user_version 0) is migrated when opened.
  const auto old_path = (dir / "old.db").string();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(old_path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE studies (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, "
                               "space_fingerprint TEXT NOT NULL, seed INTEGER NOT NULL, settings TEXT NOT NULL, created_at REAL NOT NULL);"
                               "CREATE TABLE trials (id INTEGER PRIMARY KEY AUTOINCREMENT, study_id INTEGER NOT NULL, config_id TEXT NOT NULL, "
                               "iteration INTEGER NOT NULL, bracket INTEGER NOT NULL, rung INTEGER NOT NULL, slot INTEGER NOT NULL, "
                               "budget REAL NOT NULL, cost REAL NOT NULL, unit TEXT NOT NULL, config TEXT NOT NULL, info TEXT NOT NULL, "
                               "parent_id INTEGER, state TEXT NOT NULL, loss REAL, metrics TEXT NOT NULL DEFAULT '[]', "
                               "submitted_at REAL NOT NULL, started_at REAL NOT NULL, finished_at REAL, worker TEXT NOT NULL, "
                               "seed INTEGER NOT NULL, error TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 1, "
                               "UNIQUE (study_id, iteration, rung, slot));",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  automl::study::SqliteStorage migrated(old_path);
  const auto study = migrated.open_study(spec()).id;
  const auto t = migrated.claim(study, insert_next, "w", 1.0, 60.0);
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->lease_expires_at);
}

TEST(SqliteStorage, AVersion1DatabaseIsMigratedToVersion2) {
  TempDir dir;
  const auto path = (dir / "study.db").string();
  std::int64_t trial = 0;
  {
    automl::study::SqliteStorage storage(path);
    const auto study = storage.open_study(spec()).id;
    trial = storage.claim(study, insert_next, "w", 1.0, 60.0)->id;
    storage.set_checkpoint(trial, 1, 1.0, "/ckpt/1", std::nullopt);
  }
  const auto user_version = [&] {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr);
    sqlite3_step(stmt);
    const int version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return version;
  };
  EXPECT_EQ(user_version(), 2);
  {
    // Version 1: checkpoints were references only.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "ALTER TABLE checkpoints DROP COLUMN archive; PRAGMA user_version = 1", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  automl::study::SqliteStorage storage(path);
  // Version 2 now: an automl that reads version 1 refuses the database ("a newer automl wrote it").
  EXPECT_EQ(user_version(), 2);
  EXPECT_EQ(storage.checkpoint(trial), "/ckpt/1");
  EXPECT_FALSE(storage.checkpoint_archive(trial));
  storage.set_checkpoint(trial, 1, 3.0, "/ckpt/3", std::string_view("files\0packed", 12));
  EXPECT_EQ(automl::study::SqliteStorage(path).checkpoint_archive(trial), std::string("files\0packed", 12));
}

// A finished study copied onto a read-only file system (an archived run, a CI artefact mounted read-only) is read
// as it is: a WAL reader cannot create its -shm file there, and show and report failed with "unable to open".
TEST(SqliteStorage, AStudyOnAReadOnlyFileSystemIsRead) {
  automl::test::TempDir dir;
  const auto source = dir / "study.db";
  {
    automl::study::SqliteStorage storage(source.string());
    const auto id = storage.open_study(spec()).id;
    storage.claim(id, insert_next, "me", 100.0, 60.0);
  }
  const auto mnt = dir / "ro";
  std::filesystem::create_directory(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=4m") != 0) GTEST_SKIP() << "mounting a tmpfs needs privileges";
  struct Unmount {
    std::filesystem::path at;
    ~Unmount() { ::umount(at.c_str()); }
  } unmount{mnt};
  std::filesystem::copy_file(source, mnt / "study.db");
  ASSERT_EQ(::mount("tmpfs", mnt.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=4m"), 0);
  automl::study::StorageOptions read_only;
  read_only.read_only = true;
  const auto storage = automl::study::open_storage("sqlite:///" + (mnt / "study.db").string(), read_only);
  const auto studies = storage->studies();
  ASSERT_EQ(studies.size(), 1u);
  EXPECT_EQ(storage->trials(studies[0].id).size(), 1u);
}
