#include "exec/checkpoints.hpp"
#include "core/clock.hpp"
#include "exec/owner.hpp"
#include "exec/search.hpp"
#include "study/checkpoint_archive.hpp"
#include "study/sqlite_storage.hpp"
#include "support/expect_error.hpp"
#include "support/test_files.hpp"
#include "support/test_store.hpp"
#include "support/tiny_data.hpp"
#include "support/toy_space.hpp"
#include "train/trainer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

using automl::exec::SearchOptions;
using automl::exec::SearchTask;
using automl::exec::TrialContext;
using automl::exec::TrialResult;
using automl::study::Trial;
using automl::study::TrialState;
using automl::test::names_in;
using automl::test::TempDir;
using automl::test::ToySpace;

namespace {

// Counting Ones on 2 categorical + 2 numerical dimensions; loss improves with the budget.
const ToySpace& space() {
  static const ToySpace s({2, 2, 0, 0});
  return s;
}

TrialResult counting_ones(const TrialContext& ctx) {
  for (double step = 1; step <= ctx.budget; ++step) ctx.report(step, counting_ones_value(space(), *ctx.unit) + 1.0 / step);
  TrialResult r;
  r.loss = automl::test::counting_ones_value(space(), *ctx.unit) + 1.0 / ctx.budget;
  return r;
}

// counting_ones, leaving a checkpoint directory with a file "weights" that holds the trial id.
TrialResult counting_ones_with_checkpoint(const TrialContext& ctx) {
  std::filesystem::create_directories(ctx.checkpoint_dir);
  std::ofstream(std::filesystem::path(ctx.checkpoint_dir) / "weights") << ctx.trial_id << "\n";
  TrialResult r = counting_ones(ctx);
  r.checkpoint = ctx.checkpoint_dir;
  return r;
}

SearchTask task(automl::exec::Objective objective = counting_ones) {
  SearchTask t;
  t.space = &space();
  t.space_fingerprint = automl::exec::unit_space_fingerprint(space());
  t.objective = std::move(objective);
  return t;
}

SearchOptions options(const std::string& optimizer = "bohb", std::size_t iterations = 4) {
  SearchOptions o;
  o.optimizer = optimizer;
  o.optimizer_options.hyperband.min_budget = 1;
  o.optimizer_options.hyperband.max_budget = 9;
  o.max_iterations = iterations;
  o.seed = 7;
  return o;
}

std::vector<std::pair<std::string, double>> proposal_sequence(const std::vector<Trial>& trials) {
  std::vector<std::pair<std::string, double>> seq;
  for (const auto& t : trials) seq.emplace_back(automl::study::unit_to_json(t.unit), t.budget);
  return seq;
}

} // namespace

TEST(Search, RunsWholeBracketsAndFindsGoodConfigurations) {
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  const auto summary = automl::exec::run_search(storage, task(), options("bohb", 6));
  // Brackets of 1/9/3: [9,3,1] + [3,1] + [3], twice: 13 + 4 + 3 = 20 jobs per cycle.
  EXPECT_EQ(summary.trials_run, 40u);
  EXPECT_EQ(summary.complete, 40u);
  EXPECT_EQ(summary.finished_iterations, 6u);
  ASSERT_TRUE(summary.best);
  EXPECT_EQ(summary.best->budget, 9.0);
  const auto trials = storage.trials(1);
  std::set<std::tuple<std::size_t, std::size_t, std::size_t>> jobs;
  for (const auto& t : trials) {
    EXPECT_TRUE(jobs.insert({t.iteration, t.rung, t.slot}).second);
    if (t.parent_id) {
      const auto parent = storage.trial(*t.parent_id);
      EXPECT_EQ(parent.unit, t.unit);
      EXPECT_EQ(parent.rung + 1, t.rung);
      EXPECT_LT(parent.budget, t.budget);
    }
    EXPECT_EQ(t.metrics.size(), static_cast<std::size_t>(t.budget));
  }
}

TEST(Search, SameSeedOneWorkerSameProposals) {
  for (const std::string optimizer : {"bohb", "hyperband", "random"}) {
    TempDir dir;
    automl::study::SqliteStorage a((dir / "a.db").string()), b((dir / "b.db").string()), c((dir / "c.db").string());
    auto o = options(optimizer, 9);
    automl::exec::run_search(a, task(), o);
    automl::exec::run_search(b, task(), o);
    o.seed = 8;
    automl::exec::run_search(c, task(), o);
    const auto seq_a = proposal_sequence(a.trials(1));
    EXPECT_GE(seq_a.size(), 9u);
    EXPECT_EQ(seq_a, proposal_sequence(b.trials(1))) << optimizer;
    EXPECT_NE(seq_a, proposal_sequence(c.trials(1))) << optimizer;
  }
}

TEST(Search, BohbUsesItsModelOnceEnoughResultsExist) {
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  automl::exec::run_search(storage, task(), options("bohb", 6));
  int model_based = 0;
  for (const auto& t : storage.trials(1)) model_based += t.info.find("\"model_based_pick\":true") != std::string::npos;
  EXPECT_GT(model_based, 0);
}

TEST(Search, AFailingTrialDoesNotStopTheOthers) {
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  auto o = options("hyperband", 3);
  o.workers = 3;
  const auto summary = automl::exec::run_search(storage, task([](const TrialContext& ctx) {
    if (ctx.unit->at(2) < 0.3) throw std::runtime_error("out of memory (simulated)");
    if (ctx.unit->at(2) > 0.9) return TrialResult{std::nan(""), false, std::nullopt, {}};
    return counting_ones(ctx);
  }), o);
  EXPECT_GT(summary.failed, 0u);
  EXPECT_GT(summary.complete, 0u);
  EXPECT_EQ(summary.finished_iterations, 3u);
  for (const auto& t : storage.trials(1)) {
    if (t.state != TrialState::fail) continue;
    EXPECT_TRUE(t.error == "out of memory (simulated)" || t.error == "the objective returned a non-finite loss (nan)") << t.error;
    EXPECT_FALSE(t.loss);
  }
}

TEST(Search, PromotedConfigurationsContinueFromTheirCheckpoint) {
  for (const bool continue_promoted : {true, false}) {
    TempDir dir;
    automl::study::SqliteStorage storage((dir / "s.db").string());
    auto o = options("hyperband", 1);
    o.continue_promoted = continue_promoted;
    o.checkpoint_dir = (dir / "ckpt").string();
    std::mutex mutex;
    std::map<std::int64_t, std::pair<std::optional<std::string>, double>> resumed;
    automl::exec::run_search(storage, task([&](const TrialContext& ctx) {
      {
        std::lock_guard lock(mutex);
        resumed[ctx.trial_id] = {ctx.resume_from, ctx.resume_budget};
      }
      EXPECT_EQ(std::filesystem::path(ctx.checkpoint_dir).parent_path(), dir / "ckpt");
      TrialResult r = counting_ones(ctx);
      r.checkpoint = ctx.checkpoint_dir + "/at-" + std::to_string(static_cast<int>(ctx.budget));
      return r;
    }), o);
    int promoted = 0;
    for (const auto& t : storage.trials(1)) {
      EXPECT_EQ(storage.checkpoint(t.id), (dir / "ckpt").string() + "/trial_" + std::to_string(t.id) + "/at-" +
                                              std::to_string(static_cast<int>(t.budget)));
      const auto& [from, budget] = resumed.at(t.id);
      if (t.parent_id && continue_promoted) {
        ++promoted;
        EXPECT_EQ(from, storage.checkpoint(*t.parent_id));
        EXPECT_EQ(budget, storage.trial(*t.parent_id).budget);
        EXPECT_EQ(t.cost, t.budget - budget);
      } else {
        EXPECT_FALSE(from);
        EXPECT_EQ(t.cost, t.budget);
      }
    }
    EXPECT_EQ(promoted, continue_promoted ? 4 : 0); // [9, 3, 1]: 3 + 1 promotions
  }
}

TEST(Search, DropsTheCheckpointsNothingContinuesFromAndKeepsTheBestModels) {
  for (const std::size_t workers : {1u, 2u}) {
    TempDir dir;
    automl::study::SqliteStorage storage((dir / "s.db").string());
    auto o = options("hyperband", 3); // brackets [9, 3, 1], [3, 1], [3] on budgets 1, 3, 9
    o.workers = workers;
    o.checkpoint_dir = (dir / "ckpt").string();
    o.keep_checkpoints = 2;
    std::mutex mutex;
    std::vector<std::string> missing; // promotions whose parent's checkpoint was gone when they started
    const auto summary = automl::exec::run_search(storage, task([&](const TrialContext& ctx) {
      if (ctx.resume_from && !std::filesystem::exists(std::filesystem::path(*ctx.resume_from) / "weights")) {
        std::lock_guard lock(mutex);
        missing.push_back(*ctx.resume_from);
      }
      return counting_ones_with_checkpoint(ctx);
    }), o);
    EXPECT_EQ(summary.finished_iterations, 3u);
    EXPECT_THAT(missing, testing::IsEmpty());
    const auto trials = storage.trials(1);
    const auto models = automl::exec::models_by_budget(trials);
    ASSERT_GE(models.size(), 2u);
    EXPECT_EQ(models[0]->budget, 9.0);
    std::set<std::int64_t> kept;
    for (const auto& t : trials) {
      const auto folder = dir / "ckpt" / ("trial_" + std::to_string(t.id));
      if (storage.checkpoint(t.id)) kept.insert(t.id);
      EXPECT_EQ(std::filesystem::exists(folder), storage.checkpoint(t.id).has_value()) << "trial " << t.id;
      EXPECT_EQ(storage.checkpoint_archive(t.id).has_value(), storage.checkpoint(t.id).has_value()) << "trial " << t.id;
    }
    // Every bracket is finished: only the two best models are left, the trial an export takes among them.
    EXPECT_EQ(kept, (std::set<std::int64_t>{models[0]->id, models[1]->id})) << workers << " worker(s)";
    EXPECT_EQ(automl::exec::best_trial(trials)->id, models[0]->id);
  }
}

TEST(Search, KeepsEveryCheckpointUnlessAskedTo) {
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  auto o = options("hyperband", 2);
  o.checkpoint_dir = (dir / "ckpt").string();
  automl::exec::run_search(storage, task([&](const TrialContext& ctx) {
    std::filesystem::create_directories(ctx.checkpoint_dir);
    TrialResult r = counting_ones(ctx);
    r.checkpoint = ctx.checkpoint_dir;
    return r;
  }), o);
  for (const auto& t : storage.trials(1)) EXPECT_TRUE(storage.checkpoint(t.id)) << "trial " << t.id;
}

// Without packing, a checkpoint is stored as its path alone, and promotions continue from that directory.
TEST(Search, CheckpointsStoredAsPathsAloneWhenNotPacked) {
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  auto o = options("hyperband", 2);
  o.checkpoint_dir = (dir / "ckpt").string();
  o.pack_checkpoints = false;
  std::atomic<int> resumed{0};
  automl::exec::run_search(storage, task([&](const TrialContext& ctx) {
    if (ctx.resume_from) {
      EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(*ctx.resume_from) / "weights")) << *ctx.resume_from;
      ++resumed;
    }
    return counting_ones_with_checkpoint(ctx);
  }), o);
  EXPECT_GT(resumed.load(), 0);
  for (const auto& t : storage.trials(1)) {
    EXPECT_EQ(storage.checkpoint(t.id), (dir / "ckpt" / ("trial_" + std::to_string(t.id))).string()) << "trial " << t.id;
    EXPECT_FALSE(storage.checkpoint_archive(t.id)) << "trial " << t.id;
  }
}

TEST(Search, ACheckpointDirectoryThatCannotBeCreatedFailsTheTrialNotTheSearch) {
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  std::ofstream(dir / "a-file") << "in the way\n";
  auto o = options("random", 3);
  o.checkpoint_dir = (dir / "a-file" / "ckpt").string();
  const auto summary = automl::exec::run_search(storage, task([](const TrialContext& ctx) {
    std::filesystem::create_directories(ctx.checkpoint_dir); // what a trainer saving its checkpoint does
    return counting_ones(ctx);
  }), o);
  EXPECT_EQ(summary.failed, summary.trials_run);
  EXPECT_GT(summary.failed, 0u);
  for (const auto& t : storage.trials(1)) EXPECT_NE(t.error.find("a-file"), std::string::npos) << t.error;
}

TEST(Search, DeadlineStopsRunningTrialsAndStartsNoNewOnes) {
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  auto o = options("hyperband", 100);
  o.workers = 2;
  o.deadline = automl::exec::deadline_in(0.5);
  // A step takes longer on larger budgets (5 ms x budget), so the pace measured on small budgets underestimates
  // the large ones: they start, and the deadline stops them.
  const auto summary = automl::exec::run_search(storage, task([](const TrialContext& ctx) {
    TrialResult r;
    for (double step = 1; step <= ctx.budget; ++step) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5 * static_cast<int>(ctx.budget)));
      r.loss = 1.0 / step;
      if (!ctx.report(step, r.loss) && step < ctx.budget) {
        r.stopped = true;
        return r;
      }
    }
    return r;
  }), o);
  EXPECT_TRUE(summary.deadline_reached);
  EXPECT_GT(summary.complete, 0u);
  EXPECT_GT(summary.pruned, 0u);
  for (const auto& t : storage.trials(1)) {
    EXPECT_NE(t.state, TrialState::running);
    if (t.state == TrialState::pruned) {
      EXPECT_FALSE(t.metrics.empty());
      EXPECT_LT(t.metrics.size(), static_cast<std::size_t>(t.budget));
      EXPECT_EQ(t.loss, t.metrics.back().value);
    }
  }
}

TEST(Search, NoTrialStartsThatCannotReachItsBudgetBeforeTheDeadline) {
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  auto o = options("random", 100);
  o.deadline = automl::exec::deadline_in(0.5);
  // Each trial takes 0.3 s: after the first, the measured pace says a second one would end after the deadline.
  // (Random search: every trial is on max_budget.)
  std::atomic<int> started{0};
  const auto summary = automl::exec::run_search(storage, task([&](const TrialContext& ctx) {
    ++started;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return TrialResult{0.5, ctx.stop_requested(), std::nullopt, {}};
  }), o);
  EXPECT_EQ(started.load(), 1);
  EXPECT_EQ(summary.complete, 1u);
}

TEST(Search, ResumeRerunsTrialsOfADeadWorkerAndNeverCompletedOnes) {
  TempDir dir;
  const auto path = (dir / "s.db").string();
  std::vector<Trial> before;
  {
    automl::study::SqliteStorage storage(path);
    automl::exec::Search search(storage, task(), options("bohb", 2));
    // Claim three trials by hand, complete two, and leave one RUNNING under a run that ends (its worker dies).
    std::vector<Trial> claimed;
    for (int i = 0; i < 3; ++i) claimed.push_back(*search.ask("w0").trial);
    search.run_trial(claimed[0]);
    search.run_trial(claimed[1]);
    before = storage.trials(search.study().id);
  }
  ASSERT_EQ(before[2].state, TrialState::running);
  EXPECT_FALSE(automl::exec::owner_is_alive(before[2].worker));
  automl::study::SqliteStorage storage(path);
  std::set<std::int64_t> ran;
  const auto summary = automl::exec::run_search(storage, task([&](const TrialContext& ctx) {
    ran.insert(ctx.trial_id);
    return counting_ones(ctx);
  }), options("bohb", 2));
  EXPECT_TRUE(summary.resumed);
  EXPECT_EQ(summary.finished_iterations, 2u);
  EXPECT_EQ(ran.count(before[0].id), 0u);
  EXPECT_EQ(ran.count(before[1].id), 0u);
  EXPECT_EQ(ran.count(before[2].id), 1u);
  const auto after = storage.trials(1);
  EXPECT_EQ(after.size(), 13u + 4u);
  EXPECT_EQ(after[0].finished_at, before[0].finished_at);
  EXPECT_EQ(after[2].attempts, 2);
}

TEST(Search, RefusesToResumeWithAnotherSpaceOrSettings) {
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  automl::exec::run_search(storage, task(), options("random", 1));
  auto changed = task();
  changed.space_fingerprint = "something else";
  automl::test::expect_input_error([&] { automl::exec::run_search(storage, changed, options("random", 1)); },
                                   {"cannot be resumed: its search space changed"});
  automl::test::expect_input_error([&] { automl::exec::run_search(storage, task(), options("bohb", 1)); },
                                   {"setting 'optimizer' was \"random\", now \"bohb\""});
}

TEST(Search, TheFirstConfigurationGoesOnEarlyAndTheStudyRecordsIt) {
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  auto o = options("bohb", 1); // rungs of 1, 3, 9: 9, 3 and 1 configurations
  o.optimizer_options.hyperband.early_budget = 3;
  const auto summary = automl::exec::run_search(storage, task(), o);
  EXPECT_EQ(summary.finished_iterations, 1u);
  const auto trials = storage.trials(1);
  ASSERT_GE(trials.size(), 2u);
  // The second trial is the first configuration on budget 3, continuing from its first trial.
  EXPECT_EQ(trials[1].slot, 0u);
  EXPECT_EQ(trials[1].rung, 1u);
  EXPECT_EQ(trials[1].budget, 3.0);
  ASSERT_TRUE(trials[1].parent_id.has_value());
  EXPECT_EQ(*trials[1].parent_id, trials[0].id);
  EXPECT_EQ(trials[2].rung, 0u); // not on to 9: above the early budget
  // 13 trials, or 14 when rung 0 did not rank the first configuration among its best 3.
  const auto ranked_first = std::count_if(trials.begin(), trials.end(), [](const Trial& t) { return t.rung == 1; }) == 3;
  EXPECT_EQ(trials.size(), ranked_first ? 13u : 14u);
  // The study records it: a resume with another early budget is refused.
  o.optimizer_options.hyperband.early_budget = 0;
  o.max_iterations = 2;
  automl::test::expect_input_error([&] { automl::exec::run_search(storage, task(), o); },
                                   {"setting 'early_budget' was 3.0, now 0.0"});
}

TEST(Search, OwnerTokens) {
  std::string token;
  {
    automl::exec::OwnerToken owner;
    token = owner.str();
    EXPECT_TRUE(automl::exec::owner_is_alive(token + "#w3"));
  }
  EXPECT_FALSE(automl::exec::owner_is_alive(token));
  EXPECT_TRUE(automl::exec::owner_is_alive("other-host:1:2:3"));
  EXPECT_TRUE(automl::exec::owner_is_alive("not a token"));
}

TEST(Search, StoppingWithoutAStopRequestIsAFailureNotARerunLoop) {
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  const auto summary = automl::exec::run_search(storage, task([](const TrialContext&) {
    return TrialResult{0.5, true, std::nullopt, {}};
  }), options("random", 2));
  EXPECT_EQ(summary.failed, 2u);
  for (const auto& t : storage.trials(1)) {
    EXPECT_EQ(t.state, TrialState::fail);
    EXPECT_EQ(t.error, "the objective stopped before its budget without a stop request");
  }
}

TEST(Search, StoppingBecauseTheRestWouldNotEndBeforeTheDeadlineIsPruned) {
  // The objective stops by itself when its validation pass could not end before the deadline (out_of_time):
  // PRUNED, to be run again on resume, like a trial stopped by the deadline; not a failure. No trial starts after
  // it (none could end with its validation pass either), although the deadline is still 0.3 s away.
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  const auto out_of_time = [](const TrialContext&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return TrialResult{0.5, true, std::nullopt, {}, true};
  };
  auto o = options("random", 1);
  o.deadline = automl::exec::deadline_in(0.5);
  const auto summary = automl::exec::run_search(storage, task(out_of_time), o);
  EXPECT_EQ(summary.pruned, 1u);
  EXPECT_EQ(summary.trials_run, 1u);
  EXPECT_EQ(summary.failed, 0u);
  for (const auto& t : storage.trials(1)) EXPECT_EQ(t.state, TrialState::pruned);
  // Without a deadline there is nothing to be out of: a failure, as any stop without a request.
  automl::study::SqliteStorage other((dir / "t.db").string());
  EXPECT_EQ(automl::exec::run_search(other, task(out_of_time), options("random", 1)).failed, 1u);
}

TEST(Search, ATrialCutAtTheDeadlineKeepsItsEvaluationAndCheckpointAndCanBeExported) {
  // The objective evaluates the largest trial where the deadline cut it and returns that checkpoint: the trial is
  // PRUNED (run again on resume) with its loss and a checkpoint at the budget it reached, and the export takes
  // it over the smaller finished trials when it scored better.
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  const auto objective = [&](const TrialContext& ctx) {
    TrialResult r;
    r.loss = 1.0 / ctx.budget;
    if (ctx.budget < 9) return r;
    while (!ctx.stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    r.stopped = true;
    r.out_of_time = true;
    r.loss = 0.05;
    r.checkpoint = (dir / "cut").string();
    r.checkpoint_budget = 6.5;
    return r;
  };
  auto o = options("hyperband", 1);
  o.optimizer_options.hyperband.eta = 3;
  o.deadline = automl::exec::deadline_in(0.3);
  automl::exec::run_search(storage, task(objective), o);
  const auto trials = storage.trials(1);
  std::optional<Trial> cut;
  for (const auto& t : trials)
    if (t.state == TrialState::pruned) cut = t;
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->budget, 9);
  ASSERT_TRUE(cut->loss);
  EXPECT_DOUBLE_EQ(*cut->loss, 0.05);
  EXPECT_EQ(storage.checkpoint(cut->id), (dir / "cut").string());
  const auto best = automl::exec::best_trial(trials);
  ASSERT_TRUE(best);
  EXPECT_LT(best->budget, 9); // the incumbent is a finished trial
  const auto with_checkpoint = [&](const Trial& t) { return storage.checkpoint(t.id).has_value(); };
  EXPECT_EQ(automl::exec::model_to_export(trials, with_checkpoint)->id, cut->id);
  EXPECT_EQ(automl::exec::model_to_export(trials, [](const Trial&) { return false; })->id, best->id);
}

TEST(Search, TheExportTakesACutTrialOnlyWhenItGotFurtherAndScoredBetter) {
  const auto trial = [](std::int64_t id, TrialState state, double budget, std::optional<double> loss) {
    Trial t;
    t.id = id;
    t.state = state;
    t.budget = budget;
    t.loss = loss;
    return t;
  };
  const auto yes = [](const Trial&) { return true; };
  const auto id = [&](const std::vector<Trial>& trials) {
    const auto t = automl::exec::model_to_export(trials, yes);
    return t ? t->id : -1;
  };
  EXPECT_EQ(id({}), -1);
  EXPECT_EQ(id({trial(1, TrialState::pruned, 3, std::nullopt)}), -1);           // cut without an evaluation
  EXPECT_EQ(id({trial(1, TrialState::pruned, 3, 0.2)}), 1);                     // nothing finished: the cut one
  EXPECT_EQ(id({trial(1, TrialState::complete, 1, 0.1), trial(2, TrialState::pruned, 3, 0.2)}), 1);  // worse
  EXPECT_EQ(id({trial(1, TrialState::complete, 3, 0.3), trial(2, TrialState::pruned, 3, 0.2)}), 1);  // not further
  EXPECT_EQ(id({trial(1, TrialState::complete, 1, 0.3), trial(2, TrialState::pruned, 3, 0.2),
                trial(3, TrialState::pruned, 9, 0.1), trial(4, TrialState::fail, 9, std::nullopt)}), 3);
  EXPECT_EQ(automl::exec::largest_complete_budget({trial(1, TrialState::complete, 3, 0.3), trial(2, TrialState::pruned, 9, 0.1)}), 3);
  EXPECT_EQ(automl::exec::model_to_export({trial(1, TrialState::complete, 1, 0.3), trial(2, TrialState::pruned, 3, 0.2)},
                                          [](const Trial& t) { return t.id != 2; })->id, 1); // no checkpoint
}

TEST(Search, TrialsStoppedByTheDeadlineRunAgainOnResume) {
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  const auto objective = [](const TrialContext& ctx) {
    TrialResult r;
    r.loss = std::nan("");
    for (double step = 1; step <= ctx.budget; ++step) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ctx.budget > 1 ? 100 : 1));
      r.loss = 1.0 / step;
      if (!ctx.report(step, r.loss) && step < ctx.budget) {
        r.stopped = true;
        break;
      }
    }
    return r;
  };
  auto o = options("hyperband", 1);
  o.deadline = automl::exec::deadline_in(0.2); // rung 0 (budget 1) completes; a budget-3 trial is stopped
  const auto first = automl::exec::run_search(storage, task(objective), o);
  ASSERT_EQ(first.pruned, 1u);
  std::int64_t pruned_id = 0;
  for (const auto& t : storage.trials(1))
    if (t.state == TrialState::pruned) pruned_id = t.id;
  o.deadline.reset();
  const auto second = automl::exec::run_search(storage, task(objective), o);
  EXPECT_TRUE(second.resumed);
  EXPECT_EQ(second.finished_iterations, 1u);
  const auto trials = storage.trials(1);
  EXPECT_EQ(trials.size(), 13u);
  for (const auto& t : trials) {
    EXPECT_EQ(t.state, TrialState::complete);
    EXPECT_EQ(t.attempts, t.id == pruned_id ? 2 : 1);
  }
}

TEST(Search, AnotherLiveProcessKeepsItsRunningTrials) {
  // Process 1 (init) of this host is alive: a trial it owns is running, not interrupted; a token naming it with
  // another start time is a dead process whose pid was reused.
  std::ifstream stat("/proc/1/stat");
  std::string line;
  ASSERT_TRUE(std::getline(stat, line));
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 22; ++i) rest >> field;
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  EXPECT_TRUE(automl::exec::owner_is_alive(std::string(host) + ":1:" + field + ":1#w0"));
  EXPECT_FALSE(automl::exec::owner_is_alive(std::string(host) + ":1:" + field + "9:1#w0"));
  EXPECT_FALSE(automl::exec::owner_is_alive(std::string(host) + ":999999999:1:1#w0"));
}

TEST(Search, StopTokenDeadlineMovesButNeverPastTheFirst) {
  using automl::exec::Clock;
  const auto far = Clock::now() + std::chrono::hours(1);
  automl::exec::StopToken token(far);
  EXPECT_FALSE(token.stop_requested());
  token.move_deadline(far + std::chrono::hours(1)); // past the first: held at it
  EXPECT_EQ(token.deadline(), far);
  const auto sooner = far - std::chrono::minutes(30);
  token.move_deadline(sooner);
  EXPECT_EQ(token.deadline(), sooner);
  EXPECT_FALSE(token.stop_requested());
  const auto later = far - std::chrono::minutes(10); // back again, when less time is needed after it
  token.move_deadline(later);
  EXPECT_EQ(token.deadline(), later);
  token.move_deadline(Clock::now() - std::chrono::seconds(1));
  EXPECT_TRUE(token.stop_requested());
  EXPECT_LT(token.seconds_left(), 0);

  automl::exec::StopToken none;
  none.move_deadline(Clock::now() - std::chrono::seconds(1)); // without a deadline: nothing to move
  EXPECT_FALSE(none.deadline().has_value());
  EXPECT_FALSE(none.stop_requested());
}

TEST(Search, AnObjectiveCanBringTheDeadlineForward) {
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  auto o = options("hyperband", 100);
  o.deadline = automl::exec::deadline_in(3600);
  automl::exec::Search* search = nullptr;
  std::atomic<int> started{0};
  // The third trial learns that the time after the search is needed now: it and the search stop.
  automl::exec::Search s(storage, task([&](const TrialContext& ctx) {
    if (++started == 3) search->move_deadline(automl::exec::Clock::now());
    TrialResult r;
    r.loss = 0.5;
    r.stopped = !ctx.report(1, r.loss);
    return r;
  }), o);
  search = &s;
  const auto summary = s.run();
  EXPECT_EQ(started.load(), 3);
  EXPECT_TRUE(summary.deadline_reached);
  EXPECT_EQ(summary.complete, 2u);
  EXPECT_EQ(summary.pruned, 1u);
  ASSERT_TRUE(s.deadline().has_value());
  EXPECT_LE(*s.deadline(), automl::exec::Clock::now());
}

// A trial whose reports show a pace that would overrun its limit stops at the first such report, long before
// the limit: the objective here never looks at the limit itself and would train all 9 steps. The pace is taken
// between reports: a slow start (building the network, loading a checkpoint) is not a slow pace.
TEST(Search, ATrialWhosePaceWouldOverrunItsLimitStopsAtItsSecondReport) {
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  const auto objective = [](const TrialContext& ctx) {
    // Trials 1-3: 2 ms a step; trial 4: 100 ms (0.9 s in all, over the 0.6 s limit); trial 5: 10 ms after a
    // 300 ms start (0.39 s in all, under it, though its first step ends after half the limit).
    const auto step_time = std::chrono::milliseconds(ctx.trial_id <= 3 ? 2 : ctx.trial_id == 4 ? 100 : 10);
    if (ctx.trial_id == 5) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    for (double step = 1; step <= ctx.budget; ++step) {
      std::this_thread::sleep_for(step_time);
      if (!ctx.report(step, 0.5)) return TrialResult{0.5, true, std::nullopt, {}};
    }
    return TrialResult{0.5, false, std::nullopt, {}};
  };
  auto o = options("random", 5);
  o.deadline = automl::exec::deadline_in(30);
  o.slow_trial_factor = 4;
  o.min_trial_limit_s = 0.6; // 4 x the median pace is far less: the floor is the limit
  o.min_trials_for_limit = 3;
  const auto summary = automl::exec::run_search(storage, task(objective), o);
  EXPECT_EQ(summary.complete, 4u);
  EXPECT_EQ(summary.failed, 1u);
  const auto trials = storage.trials(1);
  ASSERT_EQ(trials.size(), 5u);
  EXPECT_EQ(trials[3].budget, 9.0);
  EXPECT_EQ(trials[3].state, TrialState::fail);
  EXPECT_EQ(trials[3].metrics.size(), 2u); // stopped at its second report, the first that gives a pace
  EXPECT_THAT(trials[3].error, testing::HasSubstr("at 2 of its budget of 9, a pace at which it would take"));
  EXPECT_THAT(trials[3].error, testing::HasSubstr("a trial may take 4 times the median pace of the completed trials, 0.6 s"));
  EXPECT_EQ(trials[4].state, TrialState::complete);
  EXPECT_EQ(trials[4].metrics.size(), 9u);
}

TEST(Search, ATrialFarSlowerThanTheMedianFailsWithItsTimeLimit) {
  // Random search, one worker: three trials take 20 ms, the fourth would take 5 s. With a factor of 4 (and a
  // floor of 0.1 s) it may take 4 x the median pace for its budget: it stops at ~0.1 s and FAILs with the reason.
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  const auto objective = [](const TrialContext& ctx) {
    const auto start = std::chrono::steady_clock::now();
    const auto limit = std::chrono::milliseconds(ctx.trial_id <= 3 ? 20 : 5000);
    while (std::chrono::steady_clock::now() - start < limit) {
      if (ctx.time_limit_reached()) return TrialResult{0.5, true, std::nullopt, {}};
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return TrialResult{0.5, false, std::nullopt, {}};
  };
  auto o = options("random", 4);
  o.deadline = automl::exec::deadline_in(30);
  o.slow_trial_factor = 4;
  o.min_trial_limit_s = 0.1;
  o.min_trials_for_limit = 3;
  const auto start = std::chrono::steady_clock::now();
  const auto summary = automl::exec::run_search(storage, task(objective), o);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 4.0);
  EXPECT_EQ(summary.complete, 3u);
  EXPECT_EQ(summary.failed, 1u);
  const auto trials = storage.trials(1);
  ASSERT_EQ(trials.size(), 4u);
  EXPECT_EQ(trials[3].state, TrialState::fail);
  EXPECT_THAT(trials[3].error, testing::HasSubstr("a trial may take 4 times the median pace of the completed trials"));
  // Without a factor there is no limit: the same objective completes all four (the slow one after 5 s is not
  // waited for here: a short objective shows that ctx.time_limit is unset).
  automl::study::SqliteStorage other((dir / "t.db").string());
  auto unlimited = options("random", 2);
  unlimited.deadline = automl::exec::deadline_in(30);
  const auto limit_seen = automl::exec::run_search(other, task([](const TrialContext& ctx) {
    return TrialResult{ctx.time_limit ? 1.0 : 0.5, false, std::nullopt, {}};
  }), unlimited);
  EXPECT_EQ(limit_seen.complete, 2u);
  for (const auto& t : other.trials(1)) EXPECT_EQ(*t.loss, 0.5);
}

TEST(Search, InitialConfigurationsComeFirstInOrderAcrossIterations) {
  // One rung (min = max budget): every iteration holds a single new configuration, so three initial
  // configurations fill iterations 0, 1 and 2; the fourth configuration is a proposal.
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  auto t = task();
  t.initial_configs = {{0.25, 0.75, 0.1, 0.2}, {0.75, 0.25, 0.3, 0.4}, {0.25, 0.25, 0.5, 0.6}};
  auto o = options("bohb", 4);
  o.optimizer_options.hyperband.min_budget = 9;
  automl::exec::run_search(storage, t, o);
  const auto trials = storage.trials(1);
  ASSERT_EQ(trials.size(), 4u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(trials[i].iteration, i);
    EXPECT_EQ(trials[i].unit, t.initial_configs[i]);
    EXPECT_EQ(nlohmann::json::parse(trials[i].info).at("initial_config"), i);
  }
  EXPECT_FALSE(nlohmann::json::parse(trials[3].info).contains("initial_config"));
  // A resume with other initial configurations would propose another study: refused.
  t.initial_configs.pop_back();
  automl::test::expect_input_error([&] { automl::exec::run_search(storage, t, o); }, {"setting 'initial_configs'"});
}

namespace {

Trial finished_trial(std::int64_t id, const std::string& config, double budget, double started, double finished,
                     double loss, std::optional<std::int64_t> parent = std::nullopt, std::size_t slot = 0) {
  Trial t;
  t.id = id;
  t.config = config;
  t.budget = budget;
  t.started_at = started;
  t.finished_at = finished;
  t.state = TrialState::complete;
  t.loss = loss;
  t.parent_id = parent;
  t.slot = slot;
  return t;
}

} // namespace

TEST(Search, AReplicaIsOfTheIncumbentsFirstTrialOnTheTopRungAndOnlyInsideItsWindow) {
  using automl::exec::replica_source;
  // Configuration "a" trained 10 s on budget 1, then 30 s more to budget 3 (continuing): 40 s in all.
  std::vector<Trial> trials{finished_trial(1, "a", 1, 0, 10, 0.3), finished_trial(2, "b", 1, 10, 15, 0.4),
                            finished_trial(3, "a", 3, 20, 50, 0.1, 1)};
  EXPECT_DOUBLE_EQ(automl::exec::chain_seconds(trials, trials[2]), 40);
  // The window: 1.1 x 40 = 44 s to 2.5 x 40 = 100 s left.
  EXPECT_EQ(replica_source(trials, 3, 2, 100), &trials[2]);
  EXPECT_EQ(replica_source(trials, 3, 2, 44), &trials[2]);
  EXPECT_EQ(replica_source(trials, 3, 2, 101), nullptr); // the brackets may still find better
  EXPECT_EQ(replica_source(trials, 3, 2, 43.9), nullptr); // it could not finish
  EXPECT_EQ(replica_source(trials, 3, 0, 80), nullptr);  // none asked for
  EXPECT_EQ(replica_source(trials, 9, 2, 80), nullptr);  // the incumbent is not on the top rung
  // A replica that scores better is the incumbent; the source stays the first trial of its configuration.
  trials.push_back(finished_trial(4, "a", 3, 60, 95, 0.05, std::nullopt, automl::exec::k_replica_slot));
  EXPECT_TRUE(automl::exec::is_replica(trials.back()));
  EXPECT_FALSE(automl::exec::is_replica(trials[2]));
  EXPECT_EQ(replica_source(trials, 3, 2, 80), &trials[2]);
  EXPECT_EQ(replica_source(trials, 3, 1, 80), nullptr); // as many replicas as asked for
  // A better configuration on the top rung takes over, with its own window (5 + 20 s: 27.5-62.5 s left).
  trials.push_back(finished_trial(5, "b", 3, 60, 80, 0.01, 2));
  EXPECT_EQ(replica_source(trials, 3, 1, 40), &trials[4]);
  EXPECT_EQ(replica_source(trials, 3, 1, 80), nullptr);
}

TEST(Search, ReplicasOfTheIncumbentTrainNearTheDeadlineOutsideTheBrackets) {
  // Hyperband on budgets 1 and 3, each step 25 ms: the incumbent's chain takes about 0.1 s (1 step, then 3), a
  // window of about 0.12-0.25 s before the deadline, into which some trial's end falls. The brackets go on around
  // the replicas (they are not jobs of a bracket).
  const auto sleeping = [](const TrialContext& ctx) {
    TrialResult r;
    for (double step = 1; step <= ctx.budget; ++step) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      r.loss = automl::test::counting_ones_value(space(), *ctx.unit) + 1.0 / step;
      if (!ctx.report(step, r.loss) && step < ctx.budget) {
        r.stopped = true;
        return r;
      }
    }
    return r;
  };
  for (const std::size_t replicas : {0u, 2u}) {
    TempDir dir;
    automl::study::SqliteStorage storage((dir / "s.db").string());
    auto o = options("hyperband", 1000);
    o.optimizer_options.hyperband.max_budget = 3;
    o.replicas = replicas;
    o.deadline = automl::exec::deadline_in(1.5);
    automl::exec::run_search(storage, task(sleeping), o);
    const auto trials = storage.trials(1);
    std::vector<const Trial*> made;
    std::set<std::uint64_t> seeds;
    for (const auto& t : trials) {
      seeds.insert(t.seed);
      if (automl::exec::is_replica(t)) made.push_back(&t);
    }
    EXPECT_EQ(seeds.size(), trials.size()) << "every trial has its own seed";
    if (replicas == 0) {
      EXPECT_TRUE(made.empty());
      continue;
    }
    ASSERT_FALSE(made.empty()) << trials.size() << " trials, none a replica";
    EXPECT_LE(made.size(), replicas);
    for (const Trial* r : made) {
      const auto source_id = nlohmann::json::parse(r->info).at("replica_of").get<std::int64_t>();
      const auto source = storage.trial(source_id);
      EXPECT_FALSE(automl::exec::is_replica(source));
      EXPECT_EQ(r->config, source.config);
      EXPECT_EQ(r->unit, source.unit);
      EXPECT_EQ(r->budget, source.budget);
      EXPECT_EQ(r->cost, source.budget); // from scratch
      EXPECT_FALSE(r->parent_id);
      EXPECT_EQ(r->iteration, source.iteration);
      EXPECT_EQ(r->rung, source.rung);
      EXPECT_GE(r->slot, automl::exec::k_replica_slot);
      EXPECT_NE(r->state, TrialState::running);
    }
  }
}

TEST(Search, AReplicaLeftRunningByADeadWorkerRunsAgainOnResume) {
  TempDir dir;
  const auto path = (dir / "s.db").string();
  std::int64_t replica_id = 0;
  {
    automl::study::SqliteStorage storage(path);
    automl::exec::Search search(storage, task(), options("bohb", 1));
    const Trial first = *search.ask("w0").trial;
    search.run_trial(first);
    // A replica of it, claimed by a worker that then dies (its owner token ends with this scope).
    automl::exec::OwnerToken owner;
    const auto replica = storage.claim(search.study().id, [&](const std::vector<Trial>&) {
      automl::study::ClaimDecision d;
      d.kind = automl::study::ClaimDecision::Kind::insert;
      d.trial.iteration = first.iteration;
      d.trial.slot = automl::exec::k_replica_slot;
      d.trial.budget = d.trial.cost = first.budget;
      d.trial.unit = first.unit;
      d.trial.config = first.config;
      d.trial.info = nlohmann::json{{"replica_of", first.id}}.dump();
      return d;
    }, owner.str() + "#w1", automl::core::unix_now(), 60.0);
    ASSERT_TRUE(replica);
    replica_id = replica->id;
  }
  automl::study::SqliteStorage storage(path);
  std::set<std::int64_t> ran;
  automl::exec::run_search(storage, task([&](const TrialContext& ctx) {
    ran.insert(ctx.trial_id);
    return counting_ones(ctx);
  }), options("bohb", 1));
  EXPECT_EQ(ran.count(replica_id), 1u);
  const auto replica = storage.trial(replica_id);
  EXPECT_EQ(replica.state, TrialState::complete);
  EXPECT_EQ(replica.attempts, 2);
  for (const auto& t : storage.trials(1)) EXPECT_NE(t.state, TrialState::running) << "trial " << t.id;
}

TEST(Search, InitialConfigIndexCountsTheRungZeroSlotsOfEarlierIterations) {
  automl::hpo::HyperbandOptions hb;
  hb.min_budget = 1;
  hb.max_budget = 9; // brackets of 9, 3 and 3 new configurations
  const auto schedule = automl::hpo::BracketSchedule::hyperband(hb);
  EXPECT_EQ(automl::exec::initial_config_index(schedule, 0, 0), 0u);
  EXPECT_EQ(automl::exec::initial_config_index(schedule, 0, 8), 8u);
  EXPECT_EQ(automl::exec::initial_config_index(schedule, 1, 0), 9u);
  EXPECT_EQ(automl::exec::initial_config_index(schedule, 2, 1), 13u);
  EXPECT_EQ(automl::exec::initial_config_index(schedule, 3, 0), 15u);
}

TEST(Search, ATrialOfAnotherHostWhoseLeaseExpiredIsRunAgainAndItsLateResultIsRefused) {
  // A worker on another host (its liveness cannot be checked from here) claimed the first job, then went silent.
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  auto o = options("random", 1);
  o.lease_s = 60;
  // A search that stops at once records the study and nothing else.
  const auto t = task();
  automl::exec::Search first(storage, t, o);
  const auto claimed = storage.claim(
      first.study().id,
      [&](const std::vector<Trial>&) {
        automl::study::ClaimDecision d;
        d.kind = automl::study::ClaimDecision::Kind::insert;
        d.trial.budget = 9;
        d.trial.cost = 9;
        d.trial.unit = {0.25, 0.25, 0.5, 0.5};
        return d;
      },
      "elsewhere:123:456:1#w0", 1.0, 0.2);
  ASSERT_TRUE(claimed);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  const auto summary = automl::exec::run_search(storage, t, o);
  EXPECT_EQ(summary.complete, 1u);
  const auto trials = storage.trials(first.study().id);
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0].attempts, 2);
  EXPECT_EQ(trials[0].state, TrialState::complete);
  EXPECT_THROW(storage.finish(claimed->id, 1, TrialState::complete, 0.0, {}, "", 2.0), automl::study::FencedError);
  EXPECT_EQ(storage.trial(claimed->id).loss, trials[0].loss);
}

TEST(Search, AnAttemptThatLosesItsLeaseStopsAndItsResultIsRefused) {
  TempDir dir;
  automl::study::SqliteStorage storage((dir / "s.db").string());
  auto o = options("random", 1);
  o.lease_s = 0.2; // renewed every 50 ms
  std::atomic<bool> saw_stop{false};
  std::atomic<std::int64_t> running_id{0};
  auto t = task([&](const TrialContext& ctx) {
    running_id = ctx.trial_id;
    // Another worker takes the trial over (as after this process froze past its lease).
    for (int i = 0; i < 400 && !ctx.stop_requested(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    saw_stop = ctx.stop_requested();
    TrialResult r;
    r.loss = 0.5;
    r.stopped = true;
    return r;
  });
  std::thread thief([&] {
    while (running_id == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    automl::study::SqliteStorage other((dir / "s.db").string());
    other.claim(
        1,
        [&](const std::vector<Trial>&) {
          automl::study::ClaimDecision d;
          d.kind = automl::study::ClaimDecision::Kind::rerun;
          d.rerun_id = running_id;
          return d;
        },
        "thief", 2.0, 60.0);
  });
  o.max_iterations = 1;                              // one job
  o.deadline = automl::exec::deadline_in(1.5);       // then it waits for the thief's attempt until its deadline
  automl::exec::run_search(storage, t, o);
  thief.join();
  EXPECT_TRUE(saw_stop.load());
  const auto trial = storage.trial(running_id);
  EXPECT_EQ(trial.attempts, 2);
  EXPECT_EQ(trial.worker, "thief");
  EXPECT_EQ(trial.state, TrialState::running); // the thief's attempt; the first attempt's end was refused
}

namespace {

// An SQLite storage whose writes of a trial's end take a while, and which counts the lease renewals of trials
// whose end was being written or was written (the heartbeat must leave those alone).
class SlowEndStorage : public automl::study::Storage {
public:
  explicit SlowEndStorage(const std::string& path) : m_inner(path) {}
  automl::study::StudyRecord open_study(const automl::study::StudySpec& spec) override { return m_inner.open_study(spec); }
  std::optional<Trial> claim(std::int64_t study_id, const automl::study::ClaimDecider& decide, const std::string& worker,
                             double now, double lease_s) override {
    return m_inner.claim(study_id, decide, worker, now, lease_s);
  }
  bool renew_lease(std::int64_t trial_id, int attempt, double lease_s) override {
    {
      std::lock_guard lock(m_mutex);
      if (m_ending.count(trial_id)) ++renewals_after_end;
    }
    return m_inner.renew_lease(trial_id, attempt, lease_s);
  }
  std::vector<automl::study::StudyRecord> studies() override { return m_inner.studies(); }
  void set_study_setting(std::int64_t study_id, const std::string& key, const nlohmann::json& value) override {
    m_inner.set_study_setting(study_id, key, value);
  }
  std::vector<Trial> trials(std::int64_t study_id) override { return m_inner.trials(study_id); }
  Trial trial(std::int64_t trial_id) override { return m_inner.trial(trial_id); }
  void set_metrics(std::int64_t trial_id, int attempt, const std::vector<automl::study::Metric>& metrics) override {
    m_inner.set_metrics(trial_id, attempt, metrics);
  }
  void finish(std::int64_t trial_id, int attempt, TrialState state, std::optional<double> loss,
              const std::vector<automl::study::Metric>& metrics, const std::string& error, double now) override {
    {
      std::lock_guard lock(m_mutex);
      m_ending.insert(trial_id);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30)); // three heartbeats
    m_inner.finish(trial_id, attempt, state, loss, metrics, error, now);
  }
  void set_checkpoint(std::int64_t trial_id, int attempt, double budget, const std::string& reference,
                      std::optional<std::string_view> archive) override {
    m_inner.set_checkpoint(trial_id, attempt, budget, reference, archive);
  }
  std::optional<std::string> checkpoint(std::int64_t trial_id) override { return m_inner.checkpoint(trial_id); }
  std::optional<std::string> checkpoint_archive(std::int64_t trial_id) override { return m_inner.checkpoint_archive(trial_id); }
  void drop_checkpoints(const std::vector<std::int64_t>& trial_ids) override { m_inner.drop_checkpoints(trial_ids); }

  std::atomic<int> renewals_after_end{0};

private:
  automl::study::SqliteStorage m_inner;
  std::mutex m_mutex;
  std::set<std::int64_t> m_ending;
};

} // namespace

// A trial whose end is being written is not renewed: the renewal would be refused (the trial is no longer
// RUNNING) and read as a lost lease ("lost its lease ... stopping it" in the log of a search that lost nothing).
TEST(Search, TheHeartbeatLeavesATrialAloneOnceItsEndIsBeingWritten) {
  TempDir dir;
  SlowEndStorage storage((dir / "s.db").string());
  auto o = options("random", 6);
  o.lease_s = 0.04; // renewed every 10 ms
  const auto summary = automl::exec::run_search(storage, task([](const TrialContext& ctx) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30)); // renewed while it runs
    return counting_ones(ctx);
  }), o);
  EXPECT_EQ(summary.complete, summary.trials_run);
  EXPECT_GE(summary.trials_run, 6u);
  EXPECT_EQ(storage.renewals_after_end.load(), 0);
}

namespace {

// Searches whose trials write real checkpoints, on every storage.
class SearchCheckpointTest : public testing::TestWithParam<std::string> {
protected:
  automl::test::TempDir m_dir;
  automl::test::TestStore m_store{GetParam()};
};

const nlohmann::json k_mlp{{"network", "mlpnet"}, {"num_layers", 1},       {"num_units_1", 16},
                           {"optimizer", "adam"}, {"optimizer:adam:lr", 0.01}, {"batch_size", 32}};

// Every weight of a module in one tensor (the modules compared have the same architecture).
torch::Tensor flat_parameters(const torch::jit::Module& module) {
  std::vector<torch::Tensor> parts;
  for (const auto& p : module.parameters()) parts.push_back(p.detach().flatten());
  return torch::cat(parts);
}

} // namespace

INSTANTIATE_TEST_SUITE_P(Storages, SearchCheckpointTest, automl::test::k_store_schemes, automl::test::store_test_name);

// Each promoted trial runs as if on a machine of its own: before it runs, its parent's checkpoint directory is
// left as written, removed (the parent ran elsewhere), or holds another checkpoint (stale files of a lost
// attempt or an earlier study). It continues from its parent's checkpoint all the same: the trained network
// equals one trained straight through to its budget, and its epochs go on from the parent's.
TEST_P(SearchCheckpointTest, APromotedTrialContinuesFromTheStoredCheckpointWhereItsDirectoryIsMissingOrDiffers) {
  torch::set_num_threads(1); // bit-for-bit equal weights
  const auto data = automl::data::split_train_validation(automl::test::blobs(240, 4, 3), 0.25, 1);
  const automl::core::Hyperparameters hp(k_mlp);
  std::map<std::int64_t, std::string> resumed_from;
  const auto objective = [&](const TrialContext& ctx) {
    std::optional<automl::train::Trainer> trainer;
    if (ctx.resume_from) {
      resumed_from[ctx.trial_id] = *ctx.resume_from;
      trainer.emplace(automl::train::Trainer::resume(*ctx.resume_from, hp, data.train, data.validation));
    } else {
      trainer.emplace(hp, data.train, data.validation, ctx.seed);
    }
    double accuracy = 0;
    automl::train::TrainCallbacks callbacks;
    callbacks.on_epoch = [&](const automl::train::EpochReport& e) {
      accuracy = e.val_accuracy;
      return ctx.report(e.epoch, 1.0 - e.val_accuracy);
    };
    trainer->train({ctx.budget, 0}, callbacks);
    trainer->save_checkpoint(ctx.checkpoint_dir);
    TrialResult r;
    r.loss = 1.0 - accuracy;
    r.checkpoint = ctx.checkpoint_dir;
    return r;
  };
  const auto storage = automl::study::open_storage(m_store.url());
  auto o = options("hyperband", 1); // [9, 3, 1] configurations on 1, 3, 9 epochs: 4 promotions
  o.checkpoint_dir = (m_dir / "ckpt").string();
  automl::exec::Search search(*storage, task(objective), o);
  enum class Parent { as_written, removed, other };
  std::map<std::int64_t, Parent> treatment;
  for (;;) {
    const auto next = search.ask("w0");
    if (next.outcome != automl::exec::AskOutcome::trial) break;
    const Trial& t = *next.trial;
    if (t.parent_id) {
      const auto parent_dir = m_dir / "ckpt" / ("trial_" + std::to_string(*t.parent_id));
      ASSERT_EQ(storage->checkpoint(*t.parent_id), parent_dir.string());
      const auto kind = static_cast<Parent>((treatment.size() + 1) % 3); // removed, other, as written, removed
      treatment[t.id] = kind;
      if (kind == Parent::removed) std::filesystem::remove_all(parent_dir);
      if (kind == Parent::other) {
        automl::train::Trainer other(hp, data.train, data.validation, 12345);
        other.train({1, 0});
        other.save_checkpoint(parent_dir);
      }
    }
    EXPECT_EQ(search.run_trial(t), TrialState::complete) << storage->trial(t.id).error;
    // The fetched copy is gone with the trial; nothing but the trials' own checkpoints is left.
    for (const auto& name : names_in(m_dir / "ckpt")) EXPECT_EQ(name.rfind("trial_", 0), 0u) << name;
    for (const auto& name : names_in(m_dir / "ckpt")) EXPECT_EQ(name.find("from_store"), std::string::npos) << name;
    if (!t.parent_id) continue;
    const auto trials = storage->trials(search.study().id);
    const auto by_id = [&](std::int64_t id) { return *std::find_if(trials.begin(), trials.end(), [&](const Trial& x) { return x.id == id; }); };
    const Trial done = by_id(t.id);
    const Trial parent = by_id(*t.parent_id);
    if (treatment[t.id] == Parent::as_written) {
      EXPECT_EQ(resumed_from.at(t.id), (m_dir / "ckpt" / ("trial_" + std::to_string(parent.id))).string());
    } else {
      EXPECT_EQ(std::filesystem::path(resumed_from.at(t.id)).parent_path(), m_dir / "ckpt");
      EXPECT_THAT(resumed_from.at(t.id), testing::HasSubstr("trial_" + std::to_string(parent.id) + "_from_store"));
    }
    // Continued: the epochs go on from the parent's, and the weights are those of one straight run from the
    // first rung's seed (Trainer::resume keeps the checkpoint's).
    ASSERT_FALSE(done.metrics.empty());
    EXPECT_EQ(done.metrics.front().step, parent.budget + 1);
    EXPECT_EQ(done.metrics.size(), static_cast<std::size_t>(done.budget - parent.budget));
    Trial root = parent;
    while (root.parent_id) root = by_id(*root.parent_id);
    automl::train::Trainer straight(hp, data.train, data.validation, root.seed);
    straight.train({done.budget, 0});
    const auto continued = automl::train::load_checkpoint_pipeline(*storage->checkpoint(done.id));
    EXPECT_TRUE(torch::equal(flat_parameters(continued.module), flat_parameters(straight.pipeline().module))) << done.id;
  }
  EXPECT_EQ(treatment.size(), 4u);
  for (const auto& t : storage->trials(search.study().id)) EXPECT_EQ(t.state, TrialState::complete) << t.id;
}

// A stored archive that is corrupt (and no directory to fall back on) fails the trial that needed it, naming the
// parent; the search goes on.
TEST_P(SearchCheckpointTest, ACorruptStoredCheckpointFailsThePromotedTrialNotTheSearch) {
  const auto objective = [&](const TrialContext& ctx) {
    TrialResult r = counting_ones(ctx);
    std::filesystem::create_directories(ctx.checkpoint_dir);
    automl::test::write_file(std::filesystem::path(ctx.checkpoint_dir) / "state.json", "{}");
    r.checkpoint = ctx.checkpoint_dir;
    return r;
  };
  const auto storage = automl::study::open_storage(m_store.url());
  auto o = options("hyperband", 1);
  o.checkpoint_dir = (m_dir / "ckpt").string();
  automl::exec::Search search(*storage, task(objective), o);
  std::optional<std::int64_t> broken_parent, failed;
  for (;;) {
    const auto next = search.ask("w0");
    if (next.outcome != automl::exec::AskOutcome::trial) break;
    if (next.trial->parent_id && !broken_parent) {
      broken_parent = next.trial->parent_id;
      failed = next.trial->id;
      std::filesystem::remove_all(m_dir / "ckpt" / ("trial_" + std::to_string(*broken_parent)));
      // Cut off after its first 20 bytes (SQLite's substr and PostgreSQL's substring both count from 1).
      m_store.exec(GetParam() == "sqlite"
                       ? "UPDATE checkpoints SET archive = substr(archive, 1, 20) WHERE trial_id = " + std::to_string(*broken_parent)
                       : "UPDATE checkpoints SET archive = substring(archive from 1 for 20) WHERE trial_id = " +
                             std::to_string(*broken_parent));
    }
    search.run_trial(*next.trial);
  }
  ASSERT_TRUE(failed);
  const auto t = storage->trial(*failed);
  EXPECT_EQ(t.state, TrialState::fail);
  EXPECT_THAT(t.error, testing::HasSubstr(fmt::format("trial {}'s checkpoint from the storage", *broken_parent)));
  EXPECT_THAT(t.error, testing::HasSubstr("checkpoint archive: 1 files cannot fit in the 4 bytes left at byte 16"));
  const auto trials = storage->trials(search.study().id);
  EXPECT_EQ(trials.size(), 13u); // the bracket went on: the best other trial of rung 1 was promoted
  for (const auto& x : trials) EXPECT_EQ(x.state, x.id == *failed ? TrialState::fail : TrialState::complete) << x.id;
  EXPECT_THAT(names_in(m_dir / "ckpt"), testing::Each(testing::Not(testing::HasSubstr("from_store"))));
}

// What run_trial stores with a checkpoint: a directory's files; nothing for a reference that is not a directory
// here, or for a checkpoint too large for the database (its path alone is stored then).
TEST(Checkpoints, ADirectoryIsStoredPackedAndAnythingElseAsItsReferenceAlone) {
  TempDir dir;
  EXPECT_FALSE(automl::exec::checkpoint_archive_for((dir / "missing").string()));
  EXPECT_FALSE(automl::exec::checkpoint_archive_for("blob://trial/7"));
  std::filesystem::create_directories(dir / "ckpt");
  automl::test::write_file(dir / "ckpt" / "state.json", "{}");
  const auto archive = automl::exec::checkpoint_archive_for((dir / "ckpt").string());
  ASSERT_TRUE(archive);
  EXPECT_EQ(*archive, automl::study::pack_checkpoint(dir / "ckpt"));
  std::filesystem::resize_file(dir / "ckpt" / "state.json", automl::study::k_max_checkpoint_archive_bytes); // sparse
  EXPECT_FALSE(automl::exec::checkpoint_archive_for((dir / "ckpt").string()));
  std::filesystem::resize_file(dir / "ckpt" / "state.json", 2);
  std::filesystem::create_directories(dir / "ckpt" / "sub");
  EXPECT_THROW(automl::exec::checkpoint_archive_for((dir / "ckpt").string()), automl::Error);
}

