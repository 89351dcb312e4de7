#include "hpo/bracket.hpp"

#include "core/error.hpp"

#include <gtest/gtest.h>

using automl::hpo::BracketSchedule;
using automl::hpo::JobRecord;
using automl::hpo::JobStatus;
using automl::hpo::PlannedJob;
using Kind = automl::hpo::PlannedJob::Kind;

namespace {

BracketSchedule schedule_1_9() {
  automl::hpo::HyperbandOptions o;
  o.min_budget = 1;
  o.max_budget = 9;
  return BracketSchedule::hyperband(o);
}

// Adds a job as the planner proposed it, with the given outcome.
void record(std::vector<JobRecord>& jobs, const PlannedJob& plan, JobStatus status, double loss) {
  JobRecord job;
  job.id = static_cast<std::int64_t>(jobs.size()) + 1;
  job.iteration = plan.iteration;
  job.rung = plan.rung;
  job.slot = plan.slot;
  job.budget = plan.budget;
  job.cost = plan.cost;
  job.status = status;
  job.loss = loss;
  jobs.push_back(job);
}

} // namespace

TEST(Bracket, FillsRungZeroThenPromotesTheBestThird) {
  const auto schedule = schedule_1_9();
  std::vector<JobRecord> jobs;
  // Rung 0 of iteration 0: 9 configurations on budget 1; loss = 9 - slot (slot 8 is best).
  for (std::size_t slot = 0; slot < 9; ++slot) {
    const auto plan = plan_next_job(schedule, jobs, {});
    ASSERT_EQ(plan.kind, Kind::new_config);
    EXPECT_EQ(plan.iteration, 0u);
    EXPECT_EQ(plan.slot, slot);
    EXPECT_EQ(plan.budget, 1.0);
    EXPECT_EQ(plan.bracket, 2u);
    record(jobs, plan, JobStatus::finished, 9.0 - static_cast<double>(slot));
  }
  // Rung 1: the best 3 (slots 8, 7, 6) in rank order, on budget 3, continuing from their rung-0 jobs.
  for (std::size_t expected : {8u, 7u, 6u}) {
    const auto plan = plan_next_job(schedule, jobs, {});
    ASSERT_EQ(plan.kind, Kind::promote);
    EXPECT_EQ(plan.slot, expected);
    EXPECT_EQ(plan.rung, 1u);
    EXPECT_EQ(plan.budget, 3.0);
    EXPECT_EQ(plan.cost, 2.0); // continues from budget 1
    EXPECT_EQ(plan.parent_id, static_cast<std::int64_t>(expected) + 1);
    record(jobs, plan, JobStatus::finished, static_cast<double>(expected)); // now slot 6 is best
  }
  const auto top = plan_next_job(schedule, jobs, {});
  ASSERT_EQ(top.kind, Kind::promote);
  EXPECT_EQ(top.slot, 6u);
  EXPECT_EQ(top.rung, 2u);
  EXPECT_EQ(top.budget, 9.0);
  record(jobs, top, JobStatus::finished, 0.5);
  EXPECT_EQ(automl::hpo::finished_iterations(schedule, jobs), 1u);
  // Iteration 1: bracket [3, 1] on budgets 3, 9.
  const auto next = plan_next_job(schedule, jobs, {});
  ASSERT_EQ(next.kind, Kind::new_config);
  EXPECT_EQ(next.iteration, 1u);
  EXPECT_EQ(next.bracket, 1u);
  EXPECT_EQ(next.budget, 3.0);
}

TEST(Bracket, StartsTheNextIterationWhileARungWaits) {
  const auto schedule = schedule_1_9();
  std::vector<JobRecord> jobs;
  for (std::size_t slot = 0; slot < 9; ++slot)
    record(jobs, plan_next_job(schedule, jobs, {}), slot == 4 ? JobStatus::running : JobStatus::finished, 1.0);
  // Rung 0 of iteration 0 is not done (slot 4 runs): asynchronous, as HpBandSter, the next iteration starts.
  const auto plan = plan_next_job(schedule, jobs, {});
  ASSERT_EQ(plan.kind, Kind::new_config);
  EXPECT_EQ(plan.iteration, 1u);
  // With a limit of one iteration it waits instead.
  automl::hpo::PlanLimits limits;
  limits.max_iterations = 1;
  EXPECT_EQ(plan_next_job(schedule, jobs, limits).kind, Kind::wait);
  jobs[4].status = JobStatus::finished;
  EXPECT_EQ(plan_next_job(schedule, jobs, limits).kind, Kind::promote);
}

TEST(Bracket, FailedJobsAreNeverPromoted) {
  const auto schedule = schedule_1_9();
  std::vector<JobRecord> jobs;
  for (std::size_t slot = 0; slot < 9; ++slot)
    record(jobs, plan_next_job(schedule, jobs, {}), slot < 7 ? JobStatus::failed : JobStatus::finished, 1.0);
  std::vector<std::size_t> promoted;
  automl::hpo::PlanLimits limits;
  limits.max_iterations = 1;
  for (;;) {
    const auto plan = plan_next_job(schedule, jobs, limits);
    if (plan.kind != Kind::promote || plan.rung != 1) break;
    promoted.push_back(plan.slot);
    record(jobs, plan, JobStatus::finished, 1.0);
  }
  EXPECT_EQ(promoted, (std::vector<std::size_t>{7, 8})); // 2 of 3 places: only two did not fail
}

TEST(Bracket, InterruptedJobsRunAgainFirst) {
  const auto schedule = schedule_1_9();
  std::vector<JobRecord> jobs;
  for (std::size_t slot = 0; slot < 3; ++slot) record(jobs, plan_next_job(schedule, jobs, {}), JobStatus::finished, 1.0);
  jobs[1].status = JobStatus::interrupted;
  const auto plan = plan_next_job(schedule, jobs, {});
  ASSERT_EQ(plan.kind, Kind::rerun);
  EXPECT_EQ(plan.rerun_id, jobs[1].id);
  EXPECT_EQ(plan.cost, 0.0);
}

TEST(Bracket, DoneWhenTheLimitsAreReachedAndNothingRuns) {
  const auto schedule = schedule_1_9();
  automl::hpo::PlanLimits limits;
  limits.max_iterations = 1;
  std::vector<JobRecord> jobs;
  for (int i = 0; i < 20; ++i) {
    const auto plan = plan_next_job(schedule, jobs, limits);
    if (plan.kind == Kind::done) break;
    ASSERT_NE(plan.kind, Kind::wait);
    record(jobs, plan, JobStatus::finished, static_cast<double>(i));
  }
  EXPECT_EQ(jobs.size(), 13u); // 9 + 3 + 1
  EXPECT_EQ(plan_next_job(schedule, jobs, limits).kind, Kind::done);
  EXPECT_EQ(automl::hpo::finished_iterations(schedule, jobs), 1u);
}

TEST(Bracket, TotalCostLimitStopsNewJobs) {
  const auto schedule = schedule_1_9();
  automl::hpo::PlanLimits limits;
  limits.max_total_cost = 4.0;
  std::vector<JobRecord> jobs;
  for (int i = 0; i < 4; ++i) record(jobs, plan_next_job(schedule, jobs, limits), JobStatus::finished, 1.0);
  EXPECT_EQ(plan_next_job(schedule, jobs, limits).kind, Kind::done);
}

TEST(Bracket, JobsTooLargeForTheTimeLeftArePassedOverForSmallerOnes) {
  const auto schedule = schedule_1_9(); // brackets cycle s = 2 (starts on budget 1), 1 (budget 3), 0 (budget 9)
  std::vector<JobRecord> jobs;
  for (std::size_t slot = 0; slot < 9; ++slot) record(jobs, plan_next_job(schedule, jobs, {}), JobStatus::finished, 1.0);
  automl::hpo::PlanLimits limits;
  // Time for one budget unit only: the promotion (cost 2) and the next two brackets (first budgets 3 and 9) are
  // passed over; iteration 3 starts a bracket on budget 1.
  limits.affordable = [](const PlannedJob& job) { return job.cost <= 1.0; };
  const auto plan = plan_next_job(schedule, jobs, limits);
  ASSERT_EQ(plan.kind, Kind::new_config);
  EXPECT_EQ(plan.iteration, 3u);
  EXPECT_EQ(plan.bracket, 2u);
  EXPECT_EQ(plan.budget, 1.0);
  // Without the limit the promotion comes first, as in HpBandSter.
  EXPECT_EQ(plan_next_job(schedule, jobs, {}).kind, Kind::promote);
  // Time for two units: the promotion fits.
  limits.affordable = [](const PlannedJob& job) { return job.cost <= 2.0; };
  EXPECT_EQ(plan_next_job(schedule, jobs, limits).kind, Kind::promote);
  // Nothing fits: out of time when nothing runs, else wait for the running job.
  limits.affordable = [](const PlannedJob&) { return false; };
  EXPECT_EQ(plan_next_job(schedule, jobs, limits).kind, Kind::out_of_time);
  jobs.back().status = JobStatus::running;
  EXPECT_EQ(plan_next_job(schedule, jobs, limits).kind, Kind::wait);
  // Skipping ahead respects max_iterations: iteration 3 may not start.
  jobs.back().status = JobStatus::finished;
  limits.affordable = [](const PlannedJob& job) { return job.cost <= 1.0; };
  limits.max_iterations = 3;
  EXPECT_EQ(plan_next_job(schedule, jobs, limits).kind, Kind::out_of_time);
}

TEST(Bracket, ASlowConfigurationAtTheTopDoesNotHoldBackTheOtherPromotions) {
  const auto schedule = schedule_1_9();
  std::vector<JobRecord> jobs;
  for (std::size_t slot = 0; slot < 9; ++slot)
    record(jobs, plan_next_job(schedule, jobs, {}), JobStatus::finished, 9.0 - static_cast<double>(slot));
  // Slot 8 ranks first but its own pace is too slow for the time left: slot 7 (ranked second) goes on instead,
  // still within the best third; slot 8 stays eligible.
  automl::hpo::PlanLimits limits;
  limits.affordable = [](const PlannedJob& job) { return job.kind != Kind::promote || job.slot != 8; };
  const auto plan = plan_next_job(schedule, jobs, limits);
  ASSERT_EQ(plan.kind, Kind::promote);
  EXPECT_EQ(plan.slot, 7u);
  record(jobs, plan, JobStatus::finished, 1.0);
  EXPECT_EQ(plan_next_job(schedule, jobs, limits).slot, 6u);
  // With slots 7 and 6 done and 8 still too slow, the best-ranked configuration below the best third that can
  // finish (slot 5) takes its place: a substitute, so that the rung above is not left a configuration short.
  record(jobs, plan_next_job(schedule, jobs, limits), JobStatus::finished, 2.0);
  EXPECT_EQ(plan_next_job(schedule, jobs, {}).slot, 8u); // with time, the slow one goes on as ranked
  const auto substitute = plan_next_job(schedule, jobs, limits);
  ASSERT_EQ(substitute.kind, Kind::promote);
  EXPECT_EQ(substitute.slot, 5u);
  EXPECT_EQ(substitute.rung, 1u);
  record(jobs, substitute, JobStatus::finished, 3.0);
  // The rung above is full (the substitute counts): rung 2 takes the best of it (slot 7), and slot 8 is not
  // promoted any more, even with time.
  const auto top = plan_next_job(schedule, jobs, {});
  ASSERT_EQ(top.kind, Kind::promote);
  EXPECT_EQ(top.rung, 2u);
  EXPECT_EQ(top.slot, 7u);
  // When nothing below can finish either, the iteration is passed over (the next bracket starts).
  std::vector<JobRecord> slow;
  for (std::size_t slot = 0; slot < 9; ++slot)
    record(slow, plan_next_job(schedule, slow, {}), JobStatus::finished, 9.0 - static_cast<double>(slot));
  limits.affordable = [](const PlannedJob& job) { return job.kind != Kind::promote; };
  const auto next = plan_next_job(schedule, slow, limits);
  EXPECT_EQ(next.kind, Kind::new_config);
  EXPECT_EQ(next.iteration, 1u);
}

TEST(Bracket, OnlyCheckpointsThatNoPromotionContinuesFromAreSettled) {
  const auto schedule = schedule_1_9(); // iteration 0: rungs of 9, 3 and 1 on budgets 1, 3, 9
  using automl::hpo::jobs_nothing_continues_from;
  using Ids = std::vector<std::int64_t>;
  std::vector<JobRecord> jobs;
  // Rung 0, slot s has loss 9 - s; slot 0 fails. While the rung is unfinished nothing is settled.
  for (std::size_t slot = 0; slot < 9; ++slot) {
    const auto plan = plan_next_job(schedule, jobs, {});
    record(jobs, plan, slot == 0 ? JobStatus::failed : JobStatus::running, 9.0 - static_cast<double>(slot));
  }
  EXPECT_EQ(jobs_nothing_continues_from(schedule, jobs), Ids{});
  for (auto& job : jobs)
    if (job.status == JobStatus::running) job.status = JobStatus::finished;
  // Finished, but the promotions are not made yet: any of them may still go on.
  EXPECT_EQ(jobs_nothing_continues_from(schedule, jobs), Ids{});
  record(jobs, plan_next_job(schedule, jobs, {}), JobStatus::running, 0.5); // slot 8, id 10
  record(jobs, plan_next_job(schedule, jobs, {}), JobStatus::running, 0.5); // slot 7, id 11
  EXPECT_EQ(jobs_nothing_continues_from(schedule, jobs), Ids{}); // a third promotion is to come
  record(jobs, plan_next_job(schedule, jobs, {}), JobStatus::finished, 0.2); // slot 6, id 12
  jobs[10].status = JobStatus::interrupted;
  // Rung 0 has promoted all it promotes: the others (the failed one too) are settled; slot 6's parent is (its
  // promotion finished), slot 8's and slot 7's are not (one runs, one is to be run again from it).
  EXPECT_EQ(jobs_nothing_continues_from(schedule, jobs), (Ids{1, 2, 3, 4, 5, 6, 7}));
  jobs[9].status = JobStatus::finished;
  jobs[9].loss = 0.4;
  jobs[10].status = JobStatus::finished;
  jobs[10].loss = 0.3;
  EXPECT_EQ(jobs_nothing_continues_from(schedule, jobs), (Ids{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  const auto top = plan_next_job(schedule, jobs, {});
  ASSERT_EQ(top.kind, Kind::promote);
  EXPECT_EQ(top.parent_id, 12);
  record(jobs, top, JobStatus::running, 0.0); // id 13
  // Rung 1's two others are settled; slot 6's rung-1 job is not while its promotion runs.
  EXPECT_EQ(jobs_nothing_continues_from(schedule, jobs), (Ids{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  jobs[12].status = JobStatus::finished;
  // The top rung's job is settled too: only a model now.
  EXPECT_EQ(jobs_nothing_continues_from(schedule, jobs).size(), 13u);
}

TEST(Bracket, EveryFinishedJobOfAFullBudgetScheduleIsSettled) {
  automl::hpo::HyperbandOptions o;
  o.max_budget = 9;
  const auto schedule = BracketSchedule::full_budget(o);
  std::vector<JobRecord> jobs;
  record(jobs, plan_next_job(schedule, jobs, {}), JobStatus::finished, 0.5);
  record(jobs, plan_next_job(schedule, jobs, {}), JobStatus::running, 0.5);
  record(jobs, plan_next_job(schedule, jobs, {}), JobStatus::failed, 0.5);
  EXPECT_EQ(automl::hpo::jobs_nothing_continues_from(schedule, jobs), (std::vector<std::int64_t>{1, 3}));
}

namespace {

// Rungs of 1, 3, 9 and 27; iteration 0 holds 27, 9, 3 and 1 configurations. Slot 0 goes on early up to
// `early_budget`, slots 1 to `early_portfolio` to every rung.
BracketSchedule schedule_1_27(double early_budget, std::size_t early_portfolio) {
  automl::hpo::HyperbandOptions o;
  o.min_budget = 1;
  o.max_budget = 27;
  o.early_budget = early_budget;
  o.early_portfolio = early_portfolio;
  return BracketSchedule::hyperband(o);
}

// Slot 0 goes on early up to budget 9.
BracketSchedule schedule_early_9() { return schedule_1_27(9, 0); }

} // namespace

TEST(Bracket, TheFirstConfigurationGoesOnEarlyAndIsOneMoreOnTheRungsAbove) {
  const auto schedule = schedule_early_9();
  using automl::hpo::jobs_nothing_continues_from;
  std::vector<JobRecord> jobs;
  // Slot 0 (loss 100: the worst of every rung) goes on to 3 and 9 as soon as it finishes, before slot 1 starts.
  record(jobs, plan_next_job(schedule, jobs, {}), JobStatus::finished, 100); // id 1
  for (const double budget : {3.0, 9.0}) {
    const auto early = plan_next_job(schedule, jobs, {});
    ASSERT_EQ(early.kind, Kind::promote);
    EXPECT_EQ(early.slot, 0u);
    EXPECT_EQ(early.iteration, 0u);
    EXPECT_EQ(early.budget, budget);
    EXPECT_EQ(early.cost, budget - budget / 3);
    EXPECT_EQ(early.parent_id, static_cast<std::int64_t>(jobs.size()));
    record(jobs, early, JobStatus::finished, 100); // ids 2, 3
  }
  // Not to 27 (above the early budget): the rung fills.
  for (std::size_t slot = 1; slot < 27; ++slot) {
    const auto plan = plan_next_job(schedule, jobs, {});
    ASSERT_EQ(plan.kind, Kind::new_config);
    EXPECT_EQ(plan.slot, slot);
    record(jobs, plan, JobStatus::finished, static_cast<double>(slot)); // ids 4..29: slot s has loss s
  }
  // Rung 0 promotes its best 9 (slots 1-9): slot 0's early job is one more on rung 1, not one of them.
  for (std::size_t slot = 1; slot <= 9; ++slot) {
    const auto plan = plan_next_job(schedule, jobs, {});
    ASSERT_EQ(plan.kind, Kind::promote) << slot;
    EXPECT_EQ(plan.rung, 1u);
    EXPECT_EQ(plan.slot, slot);
    if (slot == 9) {
      // Before the last promotion starts, its parent's checkpoint is still needed.
      const auto settled = jobs_nothing_continues_from(schedule, jobs);
      EXPECT_EQ(std::count(settled.begin(), settled.end(), plan.parent_id), 0);
    }
    record(jobs, plan, JobStatus::finished, static_cast<double>(slot));
  }
  // Rung 1 ranks 10 (slot 0's early job last): 3 go on, none of them slot 0, whose job at 9 is the extra there.
  for (std::size_t slot = 1; slot <= 3; ++slot) {
    const auto plan = plan_next_job(schedule, jobs, {});
    ASSERT_EQ(plan.kind, Kind::promote) << slot;
    EXPECT_EQ(plan.rung, 2u);
    EXPECT_EQ(plan.slot, slot);
    record(jobs, plan, JobStatus::finished, static_cast<double>(slot));
  }
  const auto top = plan_next_job(schedule, jobs, {});
  ASSERT_EQ(top.kind, Kind::promote);
  EXPECT_EQ(top.rung, 3u);
  EXPECT_EQ(top.slot, 1u);
  record(jobs, top, JobStatus::finished, 0.5);
  EXPECT_EQ(jobs.size(), 27u + 10 + 4 + 1);
  EXPECT_EQ(automl::hpo::finished_iterations(schedule, jobs), 1u);
  EXPECT_EQ(jobs_nothing_continues_from(schedule, jobs).size(), jobs.size());
  // Iteration 1 has no early job: its first configuration waits for its rung like the others.
  const auto next = plan_next_job(schedule, jobs, {});
  ASSERT_EQ(next.kind, Kind::new_config);
  EXPECT_EQ(next.iteration, 1u);
  record(jobs, next, JobStatus::finished, 0.1);
  EXPECT_EQ(plan_next_job(schedule, jobs, {}).kind, Kind::new_config);
}

TEST(Bracket, TheEarlyJobIsOneOfThePromotionsWhenItsRungRanksIt) {
  const auto schedule = schedule_early_9();
  std::vector<JobRecord> jobs;
  record(jobs, plan_next_job(schedule, jobs, {}), JobStatus::finished, 0.0);  // slot 0, the best
  record(jobs, plan_next_job(schedule, jobs, {}), JobStatus::running, 0.0);   // early to 3, still running
  // The early job runs: the rest of rung 0 comes meanwhile, and nothing goes on to 9 yet.
  for (std::size_t slot = 1; slot < 27; ++slot) {
    const auto plan = plan_next_job(schedule, jobs, {});
    ASSERT_EQ(plan.kind, Kind::new_config);
    record(jobs, plan, JobStatus::finished, static_cast<double>(slot));
  }
  // Rung 0 has finished and ranks slot 0 first: its early job counts, and 8 more go on (slots 1-8).
  for (std::size_t slot = 1; slot <= 8; ++slot) {
    const auto plan = plan_next_job(schedule, jobs, {});
    ASSERT_EQ(plan.kind, Kind::promote);
    EXPECT_EQ(plan.slot, slot);
    record(jobs, plan, JobStatus::finished, static_cast<double>(slot));
  }
  // Rung 1 is full (9), but slot 0's early job still runs: the next iteration starts meanwhile. Once it finishes,
  // rung 1's own ranking decides.
  const auto meanwhile = plan_next_job(schedule, jobs, {});
  EXPECT_EQ(meanwhile.kind, Kind::new_config);
  EXPECT_EQ(meanwhile.iteration, 1u);
  jobs[1].status = JobStatus::finished;
  jobs[1].loss = 0.0;
  for (std::size_t slot = 0; slot <= 2; ++slot) {
    const auto plan = plan_next_job(schedule, jobs, {});
    ASSERT_EQ(plan.kind, Kind::promote);
    EXPECT_EQ(plan.rung, 2u);
    EXPECT_EQ(plan.slot, slot);
    record(jobs, plan, JobStatus::finished, static_cast<double>(slot));
  }
  EXPECT_EQ(jobs.size(), 27u + 9 + 3);
}

namespace {

// Slots 1 and 2 (the portfolio's entries) go on early to every rung; slot 0 does not go on early.
BracketSchedule schedule_portfolio_early() { return schedule_1_27(0, 2); }

} // namespace

TEST(Bracket, PortfolioEntriesGoOnEarlyToTheLargestRungLowestSlotFirst) {
  const auto schedule = schedule_portfolio_early();
  std::vector<JobRecord> jobs;
  const auto expect_promotion = [&](std::size_t slot, std::size_t rung, JobStatus status) {
    const auto plan = plan_next_job(schedule, jobs, {});
    ASSERT_EQ(plan.kind, Kind::promote) << slot << " " << rung;
    EXPECT_EQ(plan.iteration, 0u);
    EXPECT_EQ(plan.slot, slot);
    EXPECT_EQ(plan.rung, rung);
    EXPECT_EQ(plan.budget, schedule.bracket(0).budgets[rung]);
    record(jobs, plan, status, 100); // the entries are the worst of every rung: their early jobs are extras
  };
  const auto expect_new = [&](std::size_t slot, double loss) {
    const auto plan = plan_next_job(schedule, jobs, {});
    ASSERT_EQ(plan.kind, Kind::new_config) << slot;
    EXPECT_EQ(plan.slot, slot);
    record(jobs, plan, JobStatus::finished, loss);
  };
  expect_new(0, 50); // the default waits for its rung
  expect_new(1, 100);
  expect_promotion(1, 1, JobStatus::running); // id 3: slot 1 on to 3 at once
  expect_new(2, 100);                         // while it runs, slot 2 comes
  expect_promotion(2, 1, JobStatus::finished);
  jobs[2].status = JobStatus::finished;
  jobs[2].loss = 100;
  expect_promotion(1, 2, JobStatus::finished); // both are due: slot 1 first, to 9 and then to 27
  expect_promotion(1, 3, JobStatus::finished);
  expect_promotion(2, 2, JobStatus::finished);
  expect_promotion(2, 3, JobStatus::finished);
  for (std::size_t slot = 3; slot < 27; ++slot) expect_new(slot, static_cast<double>(slot));
  // Each rung promotes as many as without the entries, whose early jobs are extras: 9 (slots 3-11), 3, 1.
  for (const auto& [rung, count] : std::vector<std::pair<std::size_t, std::size_t>>{{1, 9}, {2, 3}, {3, 1}}) {
    for (std::size_t k = 0; k < count; ++k) {
      const auto plan = plan_next_job(schedule, jobs, {});
      ASSERT_EQ(plan.kind, Kind::promote) << rung << " " << k;
      EXPECT_EQ(plan.rung, rung);
      EXPECT_EQ(plan.slot, 3 + k);
      record(jobs, plan, JobStatus::finished, static_cast<double>(plan.slot));
    }
  }
  EXPECT_EQ(jobs.size(), 27u + 11 + 5 + 3);
  EXPECT_EQ(automl::hpo::finished_iterations(schedule, jobs), 1u);
  EXPECT_EQ(automl::hpo::jobs_nothing_continues_from(schedule, jobs).size(), jobs.size());
  // Iteration 1's configurations wait for their rungs.
  const auto next = plan_next_job(schedule, jobs, {});
  ASSERT_EQ(next.kind, Kind::new_config);
  EXPECT_EQ(next.iteration, 1u);
  record(jobs, next, JobStatus::finished, 0.1);
  const auto after = plan_next_job(schedule, jobs, {});
  ASSERT_EQ(after.kind, Kind::new_config);
  EXPECT_EQ(after.slot, 1u);
  record(jobs, after, JobStatus::finished, 0.1);
  const auto third = plan_next_job(schedule, jobs, {}); // slot 1 of iteration 1 is no portfolio entry
  EXPECT_EQ(third.kind, Kind::new_config);
  EXPECT_EQ(third.slot, 2u);
}

// With a deadline, an entry's early job that cannot finish in time is passed over, and the others go on.
TEST(Bracket, AnEarlyJobThatCannotFinishInTimeIsPassedOver) {
  const auto schedule = schedule_portfolio_early();
  std::vector<JobRecord> jobs;
  automl::hpo::PlanLimits limits;
  limits.affordable = [](const PlannedJob& job) { return job.budget <= 3; };
  record(jobs, plan_next_job(schedule, jobs, limits), JobStatus::finished, 1); // slot 0
  record(jobs, plan_next_job(schedule, jobs, limits), JobStatus::finished, 1); // slot 1
  const auto early = plan_next_job(schedule, jobs, limits);
  ASSERT_EQ(early.kind, Kind::promote);
  EXPECT_EQ(early.budget, 3.0);
  record(jobs, early, JobStatus::finished, 1);
  const auto next = plan_next_job(schedule, jobs, limits); // slot 1 to 9 is too large: slot 2 comes
  ASSERT_EQ(next.kind, Kind::new_config);
  EXPECT_EQ(next.slot, 2u);
  record(jobs, next, JobStatus::finished, 1);
  const auto second = plan_next_job(schedule, jobs, limits); // slot 2's early job to 3 is affordable
  ASSERT_EQ(second.kind, Kind::promote);
  EXPECT_EQ(second.slot, 2u);
  EXPECT_EQ(second.budget, 3.0);
}

TEST(Bracket, AnEarlyBudgetMustNotBeNegative) {
  automl::hpo::HyperbandOptions o;
  o.early_budget = -1;
  EXPECT_THROW(BracketSchedule::hyperband(o), automl::InputError);
}
