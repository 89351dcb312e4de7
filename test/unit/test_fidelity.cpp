// hpo/fidelity: rungs sized from a faked pace. The preset's rungs when the time allows them; a smaller largest
// budget (down the preset's ladder) when one Hyperband cycle would not fit, back up while its first bracket
// fits in k_first_bracket_share of the time; a fractional first rung so that the
// first model comes within k_first_model_share of the time; flags kept; "does not fit" with what would.

#include "hpo/fidelity.hpp"

#include <gtest/gtest.h>

using namespace automl::hpo;

namespace {

// tiny_cs on flattened MNIST as measured here: ~4 s an epoch on one thread, 0.5 s a validation pass.
FidelityInputs tiny_cs(double search_seconds, std::size_t workers, double epoch_seconds = 4.0) {
  FidelityInputs in;
  in.search_seconds = search_seconds;
  in.workers = workers;
  in.pace.setup_seconds = 0.2;
  in.pace.epoch_seconds = epoch_seconds;
  in.pace.eval_seconds = 0.5;
  in.min_budget = 1;
  in.max_budget = 27;
  in.eta = 3;
  in.smallest_budget = 2048.0 / 42000.0;
  return in;
}

// The image tiny_cs preset (rungs 1-9 epochs) on 54000 training images: `epoch_seconds` an epoch on one thread,
// `eval_seconds` a validation pass.
FidelityInputs images(double search_seconds, double epoch_seconds, double eval_seconds) {
  FidelityInputs in;
  in.search_seconds = search_seconds;
  in.workers = 1;
  in.pace = {0.5, epoch_seconds, eval_seconds, false};
  in.min_budget = 1;
  in.max_budget = 9;
  in.eta = 3;
  in.smallest_budget = 2048.0 / 54000.0;
  return in;
}

} // namespace

TEST(Fidelity, TrialSecondsCountSetupTrainingAndValidationPasses) {
  TrialPace pace{1.0, 10.0, 2.0, false};
  EXPECT_DOUBLE_EQ(pace.seconds(0.5), 1 + 5 + 2);     // one pass at the end
  EXPECT_DOUBLE_EQ(pace.seconds(3), 1 + 30 + 3 * 2);  // one per epoch
  EXPECT_DOUBLE_EQ(pace.seconds(3, 1), 1 + 20 + 2 * 2); // a promotion continues from epoch 1
  // Below an epoch (and below the largest rung), a share of the validation set in proportion to the budget.
  TrialPace subsets{1.0, 10.0, 2.0, false, 0.2, 1.0};
  EXPECT_DOUBLE_EQ(subsets.seconds(0.5), 1 + 5 + 2 * 0.5);
  EXPECT_DOUBLE_EQ(subsets.seconds(0.1), 1 + 1 + 2 * 0.2); // at least min_eval_fraction
  EXPECT_DOUBLE_EQ(subsets.seconds(1), 1 + 10 + 2);
  subsets.full_eval_budget = 0.5; // the largest rung is 0.5 epochs: it is validated on the whole set
  EXPECT_DOUBLE_EQ(subsets.seconds(0.5), 1 + 5 + 2);
  TrialPace time{1.0, 10.0, 2.0, true};
  EXPECT_DOUBLE_EQ(time.seconds(100), 101);            // the trainer counts its validation in the budget
  EXPECT_DOUBLE_EQ(time.seconds(300, 100), 201);
}

TEST(Fidelity, CycleSecondsFollowTheBrackets) {
  // eta 3, budgets 1, 3, 9, by hand (promotions pay the increment): s=2: 9 x 1 + 3 x 2 + 1 x 6 = 21 epochs;
  // s=1: n0 = floor(3 / 2) * 3 = 3: 3 x 3 + 1 x 6 = 15; s=0: 3 x 9 = 27.
  // Costed for typical configurations, k_typical_pace times the measured one.
  TrialPace pace{0.0, 1.0, 0.0, false};
  EXPECT_DOUBLE_EQ(cycle_seconds(pace, 3, 1, 9, true), (21 + 15 + 27) * k_typical_pace);
  EXPECT_DOUBLE_EQ(cycle_seconds(pace, 3, 1, 9, false), 9 * k_typical_pace); // random search: one trial at the largest budget
}

TEST(Fidelity, APresetWhoseConfigurationsCostLessGetsLargerRungs) {
  auto in = tiny_cs(580, 1, 1.0); // 1/3-9 at k_typical_pace (below)
  in.pace.typical = 2.0;
  TrialPace no_setup{0.0, 1.0, 0.5, false}; // training and validation scale; building a trial does not
  const double at_4 = cycle_seconds(no_setup, 3, 1, 9, true);
  no_setup.typical = 2.0;
  EXPECT_DOUBLE_EQ(cycle_seconds(no_setup, 3, 1, 9, true), at_4 / 2);
  const auto plan = plan_fidelity(in);
  EXPECT_DOUBLE_EQ(plan.max_budget, 27); // its first bracket fits at 2x, not at 4x
  EXPECT_LE(first_bracket_seconds(in.pace, 3, 1, 27), k_first_bracket_share * 580);
  EXPECT_NE(plan.reason.find("at 2x the first configuration's pace"), std::string::npos) << plan.reason;
}

TEST(Fidelity, ThePresetStaysWhenTheTimeAllowsIt) {
  const auto plan = plan_fidelity(tiny_cs(20000, 2));
  ASSERT_TRUE(plan.fits);
  EXPECT_DOUBLE_EQ(plan.min_budget, 1);
  EXPECT_DOUBLE_EQ(plan.max_budget, 27);
  EXPECT_EQ(plan.reason.find("scaled"), std::string::npos) << plan.reason;
}

TEST(Fidelity, TheLargestRungComesDownTheLadderUntilACycleFitsThenUpWhileTheFirstBracketFits) {
  // The default at 1 s an epoch (a typical configuration k_typical_pace times that), 580 s on one worker. A whole
  // cycle fits up to 3 epochs (27 -> 9 -> 3); the first bracket up to 9 fits in k_first_bracket_share of the time,
  // the one up to 27 does not.
  const auto in = tiny_cs(580, 1, 1.0);
  EXPECT_LE(cycle_seconds(in.pace, 3, 1.0 / 9, 3, true), 580);
  EXPECT_GT(cycle_seconds(in.pace, 3, 1.0 / 3, 9, true), 580);
  EXPECT_LE(first_bracket_seconds(in.pace, 3, 1.0 / 3, 9), k_first_bracket_share * 580);
  EXPECT_GT(first_bracket_seconds(in.pace, 3, 1, 27), k_first_bracket_share * 580);
  const auto plan = plan_fidelity(in);
  ASSERT_TRUE(plan.fits);
  EXPECT_DOUBLE_EQ(plan.max_budget, 9);
  EXPECT_DOUBLE_EQ(plan.min_budget, 1.0 / 3); // the preset's ratio (27) kept
  EXPECT_DOUBLE_EQ(plan.cycle_seconds, cycle_seconds(in.pace, 3, 1.0 / 3, 9, true));
  EXPECT_NE(plan.reason.find("scaled to the time"), std::string::npos) << plan.reason;
  EXPECT_NE(plan.reason.find("first bracket"), std::string::npos) << plan.reason;
  // Three workers have three times the worker-seconds: the first bracket up to the preset's 27 fits.
  const auto three = plan_fidelity(tiny_cs(580, 3, 1.0));
  EXPECT_DOUBLE_EQ(three.max_budget, 27);
  EXPECT_DOUBLE_EQ(three.min_budget, 1);
  // Four times slower: a whole cycle fits up to 1 epoch only, the first bracket up to 3.
  const auto slower = plan_fidelity(tiny_cs(580, 1, 4.0));
  EXPECT_DOUBLE_EQ(slower.max_budget, 3);
  EXPECT_DOUBLE_EQ(slower.min_budget, 1.0 / 9);
  EXPECT_GT(cycle_seconds(tiny_cs(580, 1, 4.0).pace, 3, 1.0 / 9, 3, true), 580);
  // Slower still, on a shorter search: the ladder goes down to 1/3 epoch, where a whole cycle fits and the first
  // bracket up to one epoch does not; the smallest rung stops at 1/9 (the preset's ratio would give 1/81 epoch,
  // less than 2048 samples).
  auto slowest = tiny_cs(77, 1, 9.6);
  slowest.pace.setup_seconds = 0.013;
  slowest.pace.eval_seconds = 0.38;
  slowest.pace.min_eval_fraction = 2048.0 / 18000.0;
  const auto down = plan_fidelity(slowest);
  EXPECT_DOUBLE_EQ(down.max_budget, 1.0 / 3);
  EXPECT_DOUBLE_EQ(down.min_budget, 1.0 / 9);
  EXPECT_LE(down.cycle_seconds, 77);
  EXPECT_EQ(down.reason.find("first bracket"), std::string::npos) << down.reason;
}

// The Optuna chapter's ConvNet space (configs/convnet_optuna.yaml: rungs 1/3-9 epochs, typical_pace 2) on MNIST,
// 2 workers, about 1968 s for the trials: the default trains an epoch in 31.5 s on one thread, as in
// bench/seed_exercises (b) on an AMD EPYC machine (a cycle of 1/9-3 epochs costed at ~2540 worker-seconds). A
// whole cycle fits up to 3 epochs; the first bracket of 1/3-9 epochs fits in k_first_bracket_share of the time.
// The same configuration scored 99.05-99.07% test trained 3 epochs there, 99.29% trained 9.
TEST(Fidelity, TheConvNetSpaceGetsItsNineEpochRungWhenTheFirstBracketFits) {
  FidelityInputs in;
  in.search_seconds = 1968;
  in.workers = 2;
  in.pace = {0.5, 31.5, 1.17, false, 2048.0 / 6000.0, 1.0, 2.0};
  in.min_budget = 1.0 / 3;
  in.max_budget = 9;
  in.eta = 3;
  in.smallest_budget = 2048.0 / 54000.0;
  EXPECT_LE(cycle_seconds(in.pace, 3, 1.0 / 9, 3, true), 2 * 1968);
  EXPECT_GT(cycle_seconds(in.pace, 3, 1.0 / 3, 9, true), 2 * 1968);
  const auto plan = plan_fidelity(in);
  EXPECT_DOUBLE_EQ(plan.max_budget, 9);
  EXPECT_DOUBLE_EQ(plan.min_budget, 1.0 / 3);
  EXPECT_LE(first_bracket_seconds(in.pace, 3, 1.0 / 3, 9), k_first_bracket_share * 2 * 1968);
  // 1.5 times slower (the Intel machine's pace): the first bracket does not fit, and the top rung stays at 3.
  in.pace.epoch_seconds *= 1.5;
  in.pace.eval_seconds *= 1.5;
  const auto slower = plan_fidelity(in);
  EXPECT_DOUBLE_EQ(slower.max_budget, 3);
  EXPECT_DOUBLE_EQ(slower.min_budget, 1.0 / 9);
  EXPECT_EQ(slower.reason.find("first bracket"), std::string::npos) << slower.reason;
}

TEST(Fidelity, TheFirstRungIsSizedFromThePace) {
  // Images: ~270 s an epoch on one thread, 10 s a validation pass, 60 s for the search. The ladder comes down to
  // one rung (1/9 epoch: 40.5 s); one trial may take 85% of the time, so the rung grows to what that allows.
  auto in = images(60, 270, 10);
  const auto plan = plan_fidelity(in);
  ASSERT_TRUE(plan.fits) << plan.reason;
  EXPECT_DOUBLE_EQ(plan.min_budget, plan.max_budget);
  EXPECT_NEAR(plan.max_budget, (k_max_trial_share * 60 - 0.5 - 10) / 270, 1e-12);
  EXPECT_LE(plan.first_trial_seconds, 60);
  // A faster pace gives a larger first rung.
  in.pace.epoch_seconds = 27;
  in.pace.eval_seconds = 1;
  in.search_seconds = 6000;
  const auto faster = plan_fidelity(in);
  EXPECT_GT(faster.min_budget, plan.min_budget);
  // The first trial (at twice the measured pace) ends within k_first_model_share of the time.
  EXPECT_LE(k_pace_safety * faster.first_trial_seconds, k_first_model_share * 6000 + 1e-9);
}

TEST(Fidelity, AShortSearchKeepsOneEpochOnTheTopRungWhenTheFirstBracketFits) {
  // Flattened MNIST with a core busy, as measured here: 3.2 s an epoch, 0.38 s a validation pass, 77 s for the
  // search on one worker. A whole cycle up to one epoch does not fit (the ladder would stop at 1/3 epoch), but its
  // first bracket does, within k_first_bracket_share of the time: the top rung stays at one epoch. Trials below
  // an epoch are validated on at least 2048 of the 18000 validation samples, as the search does.
  auto in = tiny_cs(77, 1, 3.2);
  in.pace.setup_seconds = 0.013;
  in.pace.eval_seconds = 0.38;
  in.pace.min_eval_fraction = 2048.0 / 18000.0;
  const auto plan = plan_fidelity(in);
  ASSERT_TRUE(plan.fits);
  EXPECT_DOUBLE_EQ(plan.max_budget, 1);
  EXPECT_DOUBLE_EQ(plan.min_budget, 1.0 / 9);
  EXPECT_GT(plan.cycle_seconds, 77);
  EXPECT_LE(first_bracket_seconds(in.pace, 3, 1.0 / 9, 1), k_first_bracket_share * 77);
  EXPECT_NE(plan.reason.find("first bracket"), std::string::npos) << plan.reason;
  // Three times slower: the first bracket does not fit either, and the top rung stays below one epoch.
  in.pace.epoch_seconds = 9.6;
  const auto slower = plan_fidelity(in);
  EXPECT_LT(slower.max_budget, 1);
  EXPECT_EQ(slower.reason.find("first bracket"), std::string::npos) << slower.reason;
}

// Small data (iris: 78 training rows, an epoch in a millisecond): the rungs grow by eta while five cycles fit,
// until the top rung trains on k_top_rung_samples samples; large data, flags, time budgets and tight time keep them.
TEST(Fidelity, RungsGrowOnSmallDataWhenManyCyclesFit) {
  FidelityInputs iris = tiny_cs(1000, 2, 0.001);
  iris.pace.setup_seconds = 0.02;
  iris.pace.eval_seconds = 0.0005;
  iris.train_samples = 78;
  const auto grown = plan_fidelity(iris);
  EXPECT_GT(grown.max_budget, 27.0);
  EXPECT_GE(grown.max_budget * 78, k_top_rung_samples);           // 2187 epochs: 170,586 samples
  EXPECT_LT(grown.max_budget / 3 * 78, k_top_rung_samples);       // one step less would not reach it
  EXPECT_DOUBLE_EQ(grown.min_budget / grown.max_budget, 1.0 / 27); // the preset's ratio
  EXPECT_LE(grown.cycle_seconds * k_growth_cycles, 2000.0);
  EXPECT_NE(grown.reason.find("grown: an epoch is 78 samples"), std::string::npos) << grown.reason;

  FidelityInputs tight = iris;
  tight.search_seconds = 2; // five cycles of larger rungs do not fit
  EXPECT_LT(plan_fidelity(tight).max_budget, grown.max_budget);

  // Unchanged from what the rungs would be without the rule (train_samples 0):
  const auto without_rule = [](FidelityInputs in) {
    in.train_samples = 0;
    return plan_fidelity(in).max_budget;
  };
  FidelityInputs mnist = tiny_cs(20000, 2);
  mnist.train_samples = 42000;
  EXPECT_DOUBLE_EQ(plan_fidelity(mnist).max_budget, 27.0);
  FidelityInputs fixed = iris;
  fixed.max_fixed = true;
  EXPECT_DOUBLE_EQ(plan_fidelity(fixed).max_budget, 27.0);
  FidelityInputs seconds = iris;
  seconds.pace.time_budget = true;
  EXPECT_DOUBLE_EQ(plan_fidelity(seconds).max_budget, without_rule(seconds));
  EXPECT_DOUBLE_EQ(without_rule(iris), 27.0);
}

TEST(Fidelity, FlagsAreKept) {
  auto in = tiny_cs(100, 1);
  in.min_fixed = in.max_fixed = true;
  const auto plan = plan_fidelity(in);
  EXPECT_DOUBLE_EQ(plan.min_budget, 1);
  EXPECT_DOUBLE_EQ(plan.max_budget, 27);
  in.max_fixed = false;
  const auto smaller = plan_fidelity(in);
  EXPECT_DOUBLE_EQ(smaller.min_budget, 1); // fixed by a flag
  EXPECT_LT(smaller.max_budget, 27);
  EXPECT_GE(smaller.max_budget, 1);
}

TEST(Fidelity, TimeBudgetsAsTheBookRanThem) {
  // --budget-type time --min-budget 100 --max-budget 1500, eta 3: 2000 s of search on two workers keeps them.
  FidelityInputs in;
  in.search_seconds = 2000;
  in.workers = 2;
  in.pace = {0.5, 20.0, 1.0, true};
  in.min_budget = 100;
  in.max_budget = 1500;
  in.eta = 3;
  in.min_fixed = in.max_fixed = true;
  in.smallest_budget = 5;
  auto plan = plan_fidelity(in);
  ASSERT_TRUE(plan.fits);
  EXPECT_DOUBLE_EQ(plan.min_budget, 100);
  EXPECT_DOUBLE_EQ(plan.max_budget, 1500);
  // Without the flags (a preset's values) and 300 s, the seconds per trial come down.
  in.min_fixed = in.max_fixed = false;
  in.search_seconds = 300;
  plan = plan_fidelity(in);
  ASSERT_TRUE(plan.fits);
  EXPECT_LE(plan.cycle_seconds, 600);
  EXPECT_LT(plan.max_budget, 1500);
  EXPECT_LE(plan.first_trial_seconds * k_pace_safety, k_first_model_share * 300 + 1e-9);
}

TEST(Fidelity, NotEvenTheSmallestStepFitsAndTheMessageSaysWhatWould) {
  FidelityInputs in;
  in.search_seconds = 50;
  in.workers = 1;
  in.pace = {0.5, 1.0, 1.0, true};
  in.min_budget = 100;
  in.max_budget = 1500;
  in.min_fixed = true;
  in.smallest_budget = 5;
  const auto plan = plan_fidelity(in);
  EXPECT_FALSE(plan.fits);
  EXPECT_EQ(plan.reason, "the smallest trial (100 s) takes about 100.5 s at the measured pace, and the search has "
                         "50.0 s; it needs about 51 s more of --budget, or --min-budget 49.5 or less");
  // Epochs, nothing fixed: even a few batches do not fit.
  auto short_images = images(8, 270, 10);
  short_images.smallest_budget = 0.04;
  const auto none = plan_fidelity(short_images);
  EXPECT_FALSE(none.fits);
  EXPECT_NE(none.reason.find("the smallest trial (0.04 epochs) takes about 21.3 s"), std::string::npos) << none.reason;
}

TEST(Fidelity, APortfolioEntryMustReachTheLargestRungInAThirdOfTheWorkerSeconds) {
  // 600 s on one worker: 200 s; two workers: 400 s.
  EXPECT_TRUE(portfolio_entry_fits(200.0, 600.0, 1));
  EXPECT_FALSE(portfolio_entry_fits(201.0, 600.0, 1));
  EXPECT_TRUE(portfolio_entry_fits(201.0, 600.0, 2));
  EXPECT_FALSE(portfolio_entry_fits(401.0, 600.0, 2));
  // convnet_optuna's entry in a 2000 s search on 2 workers (1970 s after the export's reserve): about 1100 s.
  EXPECT_TRUE(portfolio_entry_fits(1100.0, 1970.0, 2));
  // The pace of a deep configuration measured on a busy core (about 30 s an epoch): 3 epochs fit a 600 s
  // search, 1 epoch does not fit a 90 s one.
  TrialPace deep;
  deep.setup_seconds = 1;
  deep.epoch_seconds = 30;
  deep.eval_seconds = 2;
  EXPECT_TRUE(portfolio_entry_fits(deep.with_largest_rung(3).seconds(3), 580.0, 1));
  EXPECT_FALSE(portfolio_entry_fits(deep.with_largest_rung(1).seconds(1), 80.0, 1));
}

TEST(Fidelity, TheDefaultGoesOnEarlyToTheRungAboveOneEpochOrTheTopRung) {
  EXPECT_DOUBLE_EQ(early_budget_in_epochs(3, 1.0 / 3, 9), 3.0);      // convnet_optuna's rungs 1/3, 1, 3, 9
  EXPECT_DOUBLE_EQ(early_budget_in_epochs(3, 1.0 / 9, 3), 3.0);      // 1/9, 1/3, 1, 3
  EXPECT_DOUBLE_EQ(early_budget_in_epochs(3, 1.0 / 27, 1), 1.0);     // one epoch is the top rung
  EXPECT_DOUBLE_EQ(early_budget_in_epochs(3, 1.0 / 27, 1.0 / 3), 1.0 / 3); // all below an epoch: the top rung
  EXPECT_DOUBLE_EQ(early_budget_in_epochs(2, 0.25, 4), 2.0);
  EXPECT_DOUBLE_EQ(early_budget_in_epochs(3, 1.0 / 9, 27), 3.0);     // not beyond the rung above one epoch
  EXPECT_EQ(early_budget_in_epochs(3, 1, 27), 0.0);     // the first rung is an epoch already
  EXPECT_EQ(early_budget_in_epochs(3, 0.5, 0.5), 0.0);  // one rung
  EXPECT_EQ(early_budget_in_epochs(3, 0.5, 1.2), 0.0);  // one rung: the ladder anchored at 1.2 starts at 1.2
}
