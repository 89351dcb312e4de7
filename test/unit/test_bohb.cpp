#include "hpo/generator.hpp"
#include "support/expect_error.hpp"
#include "support/toy_space.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <deque>

using automl::core::Rng;
using automl::hpo::BohbGenerator;
using automl::hpo::BohbOptions;
using automl::hpo::Observation;
using automl::test::ToySpace;

namespace {

// n observations of a 2-d numerical space on `budget`, loss = distance to (0.2, 0.8).
struct History {
  std::deque<automl::space::UnitVector> points;
  std::vector<Observation> observations;
  void add(const automl::space::UnitVector& x, double budget, double loss) {
    points.push_back(x);
    observations.push_back(Observation{&points.back(), budget, loss});
  }
};

double distance_to_target(const automl::space::UnitVector& x) { return std::hypot(x[0] - 0.2, x[1] - 0.8); }

} // namespace

TEST(Bohb, ModelNeedsMoreThanDPointsInBothGoodAndBad) {
  const ToySpace space({0, 0});
  const BohbGenerator bohb(space, BohbOptions{});
  EXPECT_EQ(bohb.min_points_in_model(), 3u); // d + 1
  History h;
  Rng rng(1);
  // With min_points 3: good = 3 points, bad needs 3 more: a model from 6 observations on a budget.
  for (int i = 0; i < 5; ++i) h.add(space.sample_prior(rng), 1.0, i);
  EXPECT_FALSE(bohb.model_budget(h.observations));
  h.add(space.sample_prior(rng), 1.0, 5);
  EXPECT_EQ(bohb.model_budget(h.observations), 1.0);
  // The largest budget that has a model wins.
  for (int i = 0; i < 5; ++i) h.add(space.sample_prior(rng), 3.0, i);
  EXPECT_EQ(bohb.model_budget(h.observations), 1.0);
  h.add(space.sample_prior(rng), 3.0, 9);
  EXPECT_EQ(bohb.model_budget(h.observations), 3.0);
}

TEST(Bohb, MinPointsInModelIsAtLeastDPlusOne) {
  const ToySpace space({0, 0, 2});
  BohbOptions options;
  options.min_points_in_model = 1;
  EXPECT_EQ(BohbGenerator(space, options).min_points_in_model(), 4u);
  options.min_points_in_model = 10;
  EXPECT_EQ(BohbGenerator(space, options).min_points_in_model(), 10u);
}

TEST(Bohb, ProposesFromThePriorUntilAModelExists) {
  const ToySpace space({0, 0});
  const BohbGenerator bohb(space, BohbOptions{});
  History h;
  Rng rng(2);
  for (int i = 0; i < 3; ++i) h.add(space.sample_prior(rng), 1.0, i);
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(bohb.propose(h.observations, 1.0, rng).model_based);
}

TEST(Bohb, ModelBasedProposalsConcentrateWhereTheLossIsLow) {
  const ToySpace space({0, 0});
  BohbOptions options;
  options.random_fraction = 0.0;
  const BohbGenerator bohb(space, options);
  History h;
  Rng rng(3);
  for (int i = 0; i < 60; ++i) {
    const auto x = space.sample_prior(rng);
    h.add(x, 1.0, distance_to_target(x));
  }
  double model_distance = 0.0, prior_distance = 0.0;
  const int n = 200;
  for (int i = 0; i < n; ++i) {
    const auto p = bohb.propose(h.observations, 1.0, rng);
    ASSERT_TRUE(p.model_based);
    model_distance += distance_to_target(p.unit);
    prior_distance += distance_to_target(space.sample_prior(rng));
  }
  EXPECT_LT(model_distance / n, 0.5 * prior_distance / n);
}

TEST(Bohb, FailedObservationsCountAsBad) {
  // Good points only near (0.2, 0.8); everything near (0.8, 0.2) failed: proposals avoid the failures.
  const ToySpace space({0, 0});
  BohbOptions options;
  options.random_fraction = 0.0;
  const BohbGenerator bohb(space, options);
  History h;
  Rng rng(4);
  for (int i = 0; i < 40; ++i) {
    const auto x = space.sample_prior(rng);
    h.add(x, 1.0, x[0] > 0.5 ? INFINITY : distance_to_target(x));
  }
  int on_failed_side = 0;
  for (int i = 0; i < 100; ++i) on_failed_side += bohb.propose(h.observations, 1.0, rng).unit[0] > 0.5;
  EXPECT_LT(on_failed_side, 10);
}

TEST(Bohb, CategoricalAndConditionalDimensions) {
  // x0 categorical(3); x1 numerical active only when x0 is choice 0; x2 categorical(2). Best: x0 = 2, x2 = 1.
  const ToySpace space({3, 0, 2}, ToySpace::Condition{1, 0, 0});
  BohbOptions options;
  options.random_fraction = 0.0;
  const BohbGenerator bohb(space, options);
  History h;
  Rng rng(5);
  for (int i = 0; i < 80; ++i) {
    const auto x = space.sample_prior(rng);
    const double loss = (std::floor(x[0] * 3) == 2 ? 0.0 : 1.0) + (x[2] > 0.5 ? 0.0 : 1.0) + 0.01 * i / 80.0;
    h.add(x, 1.0, loss);
  }
  int best = 0;
  for (int i = 0; i < 100; ++i) {
    const auto p = bohb.propose(h.observations, 1.0, rng);
    ASSERT_TRUE(p.model_based);
    // Valid encodings only: categorical at (i + 0.5) / k, the conditional dimension NaN when inactive.
    const double c0 = p.unit[0] * 3 - 0.5;
    EXPECT_NEAR(c0, std::round(c0), 1e-9);
    EXPECT_EQ(std::isnan(p.unit[1]), std::round(c0) != 0);
    best += std::round(c0) == 2 && p.unit[2] > 0.5;
  }
  EXPECT_GT(best, 60);
}

TEST(Bohb, SameSeedSameProposal) {
  const ToySpace space({0, 2, 0});
  const BohbGenerator bohb(space, BohbOptions{});
  History h;
  Rng rng(6);
  for (int i = 0; i < 30; ++i) h.add(space.sample_prior(rng), 1.0, i % 7);
  Rng a(99), b(99);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(bohb.propose(h.observations, 1.0, a).unit, bohb.propose(h.observations, 1.0, b).unit);
}

TEST(Bohb, CoordinatesOfCategoricalChoices) {
  EXPECT_EQ(automl::hpo::to_kde_coordinate(0.5 / 3, 3), 0.0);
  EXPECT_EQ(automl::hpo::to_kde_coordinate(2.5 / 3, 3), 2.0);
  EXPECT_EQ(automl::hpo::to_kde_coordinate(1.0, 3), 2.0);
  EXPECT_DOUBLE_EQ(automl::hpo::from_kde_coordinate(1.0, 4), 1.5 / 4);
  EXPECT_EQ(automl::hpo::to_kde_coordinate(0.37, 0), 0.37);
  EXPECT_TRUE(std::isnan(automl::hpo::to_kde_coordinate(std::nan(""), 2)));
}

TEST(Optimizers, RegistryByName) {
  const ToySpace space({0});
  automl::hpo::OptimizerOptions options;
  options.hyperband.min_budget = 1;
  options.hyperband.max_budget = 9;
  EXPECT_TRUE(automl::hpo::make_optimizer("bohb", space, options).schedule.is_hyperband());
  EXPECT_TRUE(automl::hpo::make_optimizer("hyperband", space, options).schedule.is_hyperband());
  EXPECT_FALSE(automl::hpo::make_optimizer("random", space, options).schedule.is_hyperband());
  automl::test::expect_input_error([&] { automl::hpo::make_optimizer("bohbb", space, options); },
                                   {"unknown optimizer 'bohbb'; did you mean 'bohb'?; valid: bohb, hyperband, random"});
}

TEST(Optimizers, RejectsBadBohbOptions) {
  const ToySpace space({0});
  BohbOptions options;
  options.top_n_percent = 0;
  automl::test::expect_input_error([&] { BohbGenerator(space, options); }, {"top_n_percent: must be in (0, 100), got 0"});
  options = BohbOptions{};
  options.random_fraction = 1.5;
  automl::test::expect_input_error([&] { BohbGenerator(space, options); }, {"random_fraction: must be in [0, 1], got 1.5"});
}
