#include "hpo/hyperband.hpp"
#include "support/expect_error.hpp"

#include <gtest/gtest.h>

using automl::hpo::BracketSchedule;
using automl::hpo::HyperbandOptions;

namespace {

HyperbandOptions options(double min_budget, double max_budget, double eta = 3.0) {
  HyperbandOptions o;
  o.min_budget = min_budget;
  o.max_budget = max_budget;
  o.eta = eta;
  return o;
}

} // namespace

TEST(Hyperband, BudgetsAnchoredAtMaxBudget) {
  struct Case {
    double min, max, eta;
    std::vector<double> budgets;
  };
  // Worked out by hand: max_SH_iter = floor(log(max/min)/log(eta)) + 1, budgets max * eta^-k.
  const std::vector<Case> cases{
      {1, 9, 3, {1, 3, 9}},
      {100, 1500, 3, {1500.0 / 9, 500, 1500}},
      {9, 729, 3, {9, 27, 81, 243, 729}},
      {3, 100, 3, {100.0 / 27, 100.0 / 9, 100.0 / 3, 100}},
      {1, 8, 2, {1, 2, 4, 8}},
      {5, 5, 3, {5}},
      {2, 5, 3, {5}},
      {1.5, 5, 3, {5.0 / 3, 5}},
  };
  for (const auto& c : cases) {
    const auto budgets = automl::hpo::hyperband_budgets(options(c.min, c.max, c.eta));
    ASSERT_EQ(budgets.size(), c.budgets.size()) << c.min << ".." << c.max;
    for (std::size_t i = 0; i < budgets.size(); ++i) EXPECT_NEAR(budgets[i], c.budgets[i], 1e-9) << c.min << ".." << c.max;
  }
  EXPECT_NEAR(automl::hpo::hyperband_budgets(options(100, 1500))[0], 166.6667, 1e-4);
}

TEST(Hyperband, BracketSizesCycleFromMostToLeastAggressive) {
  struct Case {
    std::size_t iteration;
    std::size_t s;
    std::vector<std::size_t> sizes;
    std::vector<double> budgets;
  };
  // 1/9/3: brackets [9,3,1], [3,1], [3], then again.
  const std::vector<Case> cases{
      {0, 2, {9, 3, 1}, {1, 3, 9}}, {1, 1, {3, 1}, {3, 9}}, {2, 0, {3}, {9}},
      {3, 2, {9, 3, 1}, {1, 3, 9}}, {4, 1, {3, 1}, {3, 9}},
  };
  for (const auto& c : cases) {
    const auto shape = automl::hpo::hyperband_bracket(options(1, 9), c.iteration);
    EXPECT_EQ(shape.s, c.s) << "iteration " << c.iteration;
    EXPECT_EQ(shape.sizes, c.sizes) << "iteration " << c.iteration;
    ASSERT_EQ(shape.budgets.size(), c.budgets.size());
    for (std::size_t i = 0; i < c.budgets.size(); ++i) EXPECT_NEAR(shape.budgets[i], c.budgets[i], 1e-9);
  }
}

TEST(Hyperband, CountingOnesBrackets) {
  // 9..729, eta 3: s_max = 4; n0 = floor(5/(s+1)) * 3^s.
  const std::vector<std::vector<std::size_t>> expected{
      {81, 27, 9, 3, 1}, {27, 9, 3, 1}, {9, 3, 1}, {6, 2}, {5}};
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(automl::hpo::hyperband_bracket(options(9, 729), i).sizes, expected[i]) << "iteration " << i;
}

TEST(Hyperband, FullBudgetScheduleRunsOneTrialAtMaxBudget) {
  const auto schedule = BracketSchedule::full_budget(options(1, 9));
  for (std::size_t i = 0; i < 3; ++i) {
    const auto shape = schedule.bracket(i);
    EXPECT_EQ(shape.sizes, std::vector<std::size_t>{1});
    EXPECT_EQ(shape.budgets, std::vector<double>{9});
  }
}

TEST(Hyperband, PromotesAtMostTheNonFailed) {
  EXPECT_EQ(automl::hpo::promoted_count(3, 9), 3u);
  EXPECT_EQ(automl::hpo::promoted_count(3, 2), 2u);
  EXPECT_EQ(automl::hpo::promoted_count(1, 0), 0u);
}

TEST(Hyperband, RejectsBadOptions) {
  automl::test::expect_input_error([] { automl::hpo::validate(options(1, 9, 1.0)); }, {"eta: must be > 1, got 1"});
  automl::test::expect_input_error([] { automl::hpo::validate(options(0, 9)); }, {"min_budget: must be > 0, got 0"});
  automl::test::expect_input_error([] { automl::hpo::validate(options(10, 9)); },
                                   {"max_budget: must be >= min_budget (10), got 9"});
}
