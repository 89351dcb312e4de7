#include "space/search_space.hpp"
#include "support/expect_error.hpp"

#include <gmock/gmock.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <map>

using namespace automl;
using namespace automl::space;
using testing::HasSubstr;

namespace {

Value str(const char* s) { return Value{std::string(s)}; }
Value num(std::int64_t i) { return Value{i}; }

Hyperparameter numeric(const std::string& name, Type type, double lower, double upper, bool log = false) {
  Hyperparameter hp;
  hp.name = name;
  hp.type = type;
  hp.lower = lower;
  hp.upper = upper;
  hp.log = log;
  return hp;
}

Hyperparameter categorical(const std::string& name, std::vector<Value> choices) {
  Hyperparameter hp;
  hp.name = name;
  hp.type = Type::categorical;
  hp.choices = std::move(choices);
  return hp;
}

Hyperparameter constant(const std::string& name, Value value) {
  Hyperparameter hp;
  hp.name = name;
  hp.type = Type::constant;
  hp.value = std::move(value);
  return hp;
}

// Equal coordinates, NaN matching NaN.
bool same_point(const UnitVector& a, const UnitVector& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
  return true;
}

Hyperparameter with_condition(Hyperparameter hp, Condition c) {
  hp.conditions.push_back(std::move(c));
  return hp;
}

// network: [mlp, resnet] with a sub-space each, an optimizer, a conditional layer width, a constant.
SearchSpace example_space() {
  SearchSpace s;
  s.add(categorical("network", {str("mlp"), str("resnet")}));
  s.add(numeric("network:mlp:num_layers", Type::integer, 1, 4));
  s.add(with_condition(numeric("network:mlp:units_3", Type::integer, 16, 64),
                       {"network:mlp:num_layers", ConditionOp::greater, {num(2)}}));
  s.add(numeric("network:resnet:max_units", Type::integer, 10, 1024, true));
  s.add(categorical("optimizer", {str("adam"), str("sgd"), str("rmsprop")}));
  s.add(with_condition(numeric("momentum", Type::real, 0.1, 0.999),
                       {"optimizer", ConditionOp::in, {str("sgd"), str("rmsprop")}}));
  s.add(numeric("lr", Type::real, 1e-5, 1e-1, true));
  Hyperparameter b;
  b.name = "use_dropout";
  b.type = Type::boolean;
  s.add(b);
  s.add(constant("batch_size", num(125)));
  return s;
}

} // namespace

TEST(SearchSpace, DimensionsSkipConstants) {
  const auto s = example_space();
  EXPECT_EQ(s.dimension(), 8u);
  EXPECT_EQ(s.dimension_name(0), "network");
  EXPECT_EQ(s.dimension_name(7), "use_dropout");
  EXPECT_EQ(s.cardinality(0), 2u);
  EXPECT_EQ(s.cardinality(1), 0u); // ints are numerical dimensions
  EXPECT_EQ(s.cardinality(4), 3u);
  EXPECT_EQ(s.cardinality(7), 2u);
}

TEST(SearchSpace, ComponentNamesImplyConditions) {
  const auto s = example_space();
  const auto* hp = s.find("network:resnet:max_units");
  ASSERT_NE(hp, nullptr);
  ASSERT_EQ(hp->conditions.size(), 1u);
  EXPECT_EQ(hp->conditions[0].to_string(), "network == resnet");
  // An explicit condition comes after the implied one.
  EXPECT_EQ(s.find("network:mlp:units_3")->conditions.size(), 2u);
}

TEST(SearchSpace, ComponentNameWithAnUnknownChoiceIsAnError) {
  SearchSpace s;
  s.add(categorical("network", {str("shapedresnet"), str("mlpnet")}));
  try {
    s.add(numeric("network:shapedresnt:max_units", Type::integer, 10, 1024));
    FAIL() << "no error";
  } catch (const SpaceError& e) {
    EXPECT_STREQ(e.what(), "network:shapedresnt:max_units: network has no choice 'shapedresnt' (did you mean 'shapedresnet'?)");
  }
  SearchSpace fixed;
  fixed.add(constant("network", str("shapedresnet")));
  try {
    fixed.add(numeric("network:mlpnet:num_layers", Type::integer, 1, 4));
    FAIL() << "no error";
  } catch (const SpaceError& e) {
    EXPECT_STREQ(e.what(), "network:mlpnet:num_layers: network is the constant shapedresnet, so this hyperparameter could "
                           "never be active");
    EXPECT_EQ(e.field(), "name");
  }
}

TEST(SearchSpace, EncodingConventions) {
  const auto s = example_space();
  Config c;
  c.set("network", str("resnet"));
  c.set("network:resnet:max_units", num(1024));
  c.set("optimizer", str("adam"));
  c.set("lr", 1e-5);
  c.set("use_dropout", true);
  c.set("batch_size", num(125));
  const auto x = s.encode(c);
  ASSERT_EQ(x.size(), 8u);
  EXPECT_DOUBLE_EQ(x[0], 0.75); // choice 1 of 2: (1 + 0.5) / 2
  EXPECT_TRUE(std::isnan(x[1]));  // mlp's sub-space is inactive
  EXPECT_TRUE(std::isnan(x[2]));
  EXPECT_GT(x[3], 0.99); // upper end of the log range
  EXPECT_LE(x[3], 1.0);
  EXPECT_DOUBLE_EQ(x[4], 0.5 / 3);
  EXPECT_TRUE(std::isnan(x[5])); // momentum only for sgd and rmsprop
  EXPECT_DOUBLE_EQ(x[6], 0.0);
  EXPECT_DOUBLE_EQ(x[7], 0.75);
  auto back = s.decode(x);
  EXPECT_NEAR(back.get_double("lr"), 1e-5, 1e-18); // floats round trip to rounding
  back.set("lr", 1e-5);
  EXPECT_EQ(back, c); // everything else exactly
}

TEST(SearchSpace, LogEncodingOfFloats) {
  SearchSpace s;
  s.add(numeric("lr", Type::real, 1e-4, 1e-2, true));
  Config c;
  c.set("lr", 1e-3);
  EXPECT_NEAR(s.encode(c)[0], 0.5, 1e-12);
  EXPECT_NEAR(s.decode({0.5}).get_double("lr"), 1e-3, 1e-15);
}

TEST(SearchSpace, IntsOwnEqualSlicesOfTheUnitInterval) {
  SearchSpace s;
  s.add(numeric("n", Type::integer, 1, 4));
  EXPECT_EQ(s.decode({0.0}).get_int("n"), 1);
  EXPECT_EQ(s.decode({0.2499}).get_int("n"), 1);
  EXPECT_EQ(s.decode({0.25}).get_int("n"), 2);
  EXPECT_EQ(s.decode({1.0}).get_int("n"), 4);
  Config c;
  c.set("n", num(3));
  EXPECT_DOUBLE_EQ(s.encode(c)[0], 2.5 / 4);
}

TEST(SearchSpace, StepsMakeAGrid) {
  SearchSpace s;
  auto f = numeric("dropout", Type::real, 0.1, 0.4);
  f.step = 0.1;
  s.add(f);
  auto i = numeric("units", Type::integer, 16, 64);
  i.step = 16;
  s.add(i);
  core::Rng rng(3);
  std::map<std::string, int> seen;
  for (int k = 0; k < 2000; ++k) {
    const auto c = s.sample(rng);
    seen[space::to_string(c.at("dropout"))]++;
    const auto u = c.get_int("units");
    EXPECT_EQ(u % 16, 0);
    EXPECT_TRUE(s.check(c).empty());
  }
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen.count("0.30000000000000004"), 0u); // grid values as written
  EXPECT_EQ(seen.count("0.3"), 1u);
}

TEST(SearchSpace, SamplingRespectsConditionsAndIsDeterministic) {
  const auto s = example_space();
  core::Rng a(42), b(42);
  int with_units_3 = 0, with_momentum = 0;
  for (int i = 0; i < 3000; ++i) {
    const auto x = s.sample_prior(a);
    EXPECT_TRUE(same_point(x, s.sample_prior(b))) << "same seed, same points";
    const auto c = s.decode(x);
    EXPECT_TRUE(s.check(c).empty()) << fmt::format("{}", fmt::join(s.check(c), "; "));
    const bool mlp = c.get_string("network") == "mlp";
    EXPECT_EQ(c.contains("network:mlp:num_layers"), mlp);
    EXPECT_EQ(c.contains("network:resnet:max_units"), !mlp);
    if (c.contains("network:mlp:units_3")) {
      ++with_units_3;
      EXPECT_GT(c.get_int("network:mlp:num_layers"), 2);
    }
    if (c.contains("momentum")) {
      ++with_momentum;
      EXPECT_NE(c.get_string("optimizer"), "adam");
    }
    EXPECT_EQ(c.get_int("batch_size"), 125);
  }
  EXPECT_NEAR(with_units_3, 3000 / 2 / 2, 150); // mlp half the time, num_layers in {3, 4} half of that
  EXPECT_NEAR(with_momentum, 2000, 150);
}

TEST(SearchSpace, LogIntSamplingIsLogUniform) {
  SearchSpace s;
  s.add(numeric("units", Type::integer, 10, 1000, true));
  core::Rng rng(1);
  int below_100 = 0;
  for (int i = 0; i < 4000; ++i)
    if (s.sample(rng).get_int("units") < 100) ++below_100;
  EXPECT_NEAR(below_100, 2000, 200); // half the log range lies below 100
}

TEST(SearchSpace, ForbiddenCombinationsAreNeverSampled) {
  auto s = example_space();
  s.add_forbidden({{{"optimizer", {str("sgd")}}, {"use_dropout", {Value{true}}}}});
  core::Rng rng(7);
  int sgd = 0;
  for (int i = 0; i < 2000; ++i) {
    const auto c = s.sample(rng);
    if (c.get_string("optimizer") == "sgd") {
      ++sgd;
      EXPECT_FALSE(c.get_bool("use_dropout"));
    }
  }
  EXPECT_GT(sgd, 300);
  Config bad = s.decode(*s.make_valid(UnitVector(s.dimension(), std::nan(""))));
  bad.set("optimizer", str("sgd"));
  bad.set("momentum", 0.5);
  bad.set("use_dropout", true);
  EXPECT_THAT(s.check(bad), testing::ElementsAre("forbidden combination: optimizer == sgd && use_dropout == true"));
  auto x = s.encode(s.default_config());
  x[4] = 0.5; // sgd
  x[5] = 0.5;
  x[7] = 0.9; // dropout on
  EXPECT_FALSE(s.make_valid(x).has_value());
}

TEST(SearchSpace, ForbiddingTheDefaultIsAnError) {
  auto s = example_space();
  try {
    s.add_forbidden({{{"optimizer", {str("adam")}}}});
    FAIL() << "no error";
  } catch (const SpaceError& e) {
    EXPECT_STREQ(e.what(), "forbidden optimizer == adam: it forbids the default configuration");
  }
  EXPECT_TRUE(s.forbidden().empty());
}

TEST(SearchSpace, ForbiddenClausesCanLeaveASingleCombination) {
  SearchSpace s;
  s.add(categorical("a", {str("x"), str("y")}));
  Hyperparameter b = categorical("b", {str("u"), str("v")});
  s.add(b);
  s.add_forbidden({{{"a", {str("y")}}}});
  s.add_forbidden({{{"b", {str("v")}}}});
  // Only (x, u) is left, which is fine; sampling still finds it.
  core::Rng rng(1);
  const auto c = s.sample(rng);
  EXPECT_EQ(c.get_string("a"), "x");
  EXPECT_EQ(c.get_string("b"), "u");
}

TEST(SearchSpace, MakeValidSnapsClampsAndFills) {
  const auto s = example_space();
  const double nan = std::nan("");
  // Every coordinate set, as a KDE proposes: inactive ones become NaN, ints and categoricals snap.
  const auto x = s.make_valid({0.1, 0.6, 0.9, 0.5, 0.2, 0.3, 1.7, 0.2});
  ASSERT_TRUE(x);
  EXPECT_DOUBLE_EQ((*x)[0], 0.25);          // mlp
  EXPECT_DOUBLE_EQ((*x)[1], 2.5 / 4);       // num_layers 3
  EXPECT_FALSE(std::isnan((*x)[2]));        // units_3 active since 3 > 2
  EXPECT_TRUE(std::isnan((*x)[3]));         // resnet inactive
  EXPECT_DOUBLE_EQ((*x)[4], 0.5 / 3);       // adam
  EXPECT_TRUE(std::isnan((*x)[5]));         // momentum inactive for adam
  EXPECT_DOUBLE_EQ((*x)[6], 1.0);           // clamped
  EXPECT_DOUBLE_EQ((*x)[7], 0.25);          // false
  EXPECT_TRUE(same_point(*s.make_valid(*x), *x)); // idempotent
  // Active but NaN: the default.
  const auto filled = s.make_valid({0.1, nan, nan, nan, nan, nan, nan, nan});
  ASSERT_TRUE(filled);
  const auto c = s.decode(*filled);
  EXPECT_EQ(c.get_int("network:mlp:num_layers"), 3); // middle of 1..4, 2.5, rounded half away from zero
  EXPECT_EQ(c.get_int("network:mlp:units_3"), 40);   // active (3 > 2), so filled with its default
  EXPECT_TRUE(s.check(c).empty());
}

TEST(SearchSpace, CheckListsEveryProblem) {
  const auto s = example_space();
  Config c;
  c.set("network", str("mlp"));
  c.set("network:mlp:num_layers", num(9));
  c.set("network:resnet:max_units", num(64));
  c.set("optimizer", str("adamw"));
  c.set("lr", 0.5);
  c.set("use_dropot", true);
  c.set("batch_size", num(64));
  EXPECT_THAT(s.check(c),
              testing::ElementsAre("use_dropot: unknown hyperparameter (did you mean 'use_dropout'?)",
                                   "network:mlp:num_layers: 9 is out of range [1, 4]",
                                   "network:mlp:units_3: missing",
                                   "network:resnet:max_units: inactive: network == resnet does not hold (network is mlp)",
                                   "optimizer: 'adamw' is not one of [adam, sgd, rmsprop]",
                                   "lr: 0.5 is out of range [1e-05, 0.1] log",
                                   "use_dropout: missing",
                                   "batch_size: must be the constant 125, got 64"));
  test::expect_input_error([&] { s.encode(c); }, {"configuration does not fit the search space: use_dropot"});
}

TEST(SearchSpace, ConstantsMayBeLeftOutOfACheckedConfig) {
  const auto s = example_space();
  auto c = s.default_config();
  c.erase("batch_size");
  EXPECT_TRUE(s.check(c).empty());
}

TEST(SearchSpace, ConditionErrors) {
  SearchSpace s;
  s.add(categorical("optimizer", {str("adam"), str("sgd")}));
  const auto error_of = [&](Hyperparameter hp) {
    try {
      s.add(std::move(hp));
    } catch (const SpaceError& e) {
      EXPECT_EQ(e.field(), "condition");
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error_of(with_condition(numeric("m", Type::real, 0, 1), {"optimzer", ConditionOp::equals, {str("sgd")}})),
            "m: condition optimzer == sgd: unknown hyperparameter 'optimzer' (did you mean 'optimizer'?)");
  EXPECT_EQ(error_of(with_condition(numeric("m", Type::real, 0, 1), {"optimizer", ConditionOp::equals, {str("sgdd")}})),
            "m: condition optimizer == sgdd: optimizer cannot take this value: 'sgdd' is not one of [adam, sgd]");
  EXPECT_EQ(error_of(with_condition(numeric("m", Type::real, 0, 1), {"optimizer", ConditionOp::greater, {num(1)}})),
            "m: condition optimizer > 1: optimizer is categorical; comparisons need an int or float");
  EXPECT_EQ(error_of(with_condition(numeric("m", Type::real, 0, 1), {"m", ConditionOp::greater, {num(1)}})),
            "m: condition m > 1: a hyperparameter cannot depend on itself");
}

TEST(SearchSpace, PruneDropsWhatCanNoLongerBeActive) {
  SearchSpace s;
  s.add(constant("network", str("mlp")));
  s.add(numeric("layers", Type::integer, 1, 2));
  EXPECT_FALSE(s.prune(numeric("network:resnet:units", Type::integer, 1, 9), {}).has_value());
  EXPECT_TRUE(s.prune(numeric("network:mlp:units", Type::integer, 1, 9), {}).has_value());
  EXPECT_FALSE(s.prune(with_condition(numeric("units_3", Type::integer, 1, 9), {"layers", ConditionOp::greater, {num(2)}}), {})
                   .has_value());
  // The component network:mlp:x (a categorical of mlp) was pruned before: its sub-space goes too.
  EXPECT_FALSE(s.prune(numeric("network:mlp:x:c:units", Type::integer, 1, 9), {"network:mlp:x"}).has_value());
}

TEST(SearchSpace, FingerprintIsStableAndSensitive) {
  const auto a = example_space();
  EXPECT_EQ(a.fingerprint(), example_space().fingerprint());
  EXPECT_EQ(a.fingerprint().size(), 16u);
  SearchSpace b = example_space();
  b.add(constant("loss", str("cross_entropy")));
  EXPECT_NE(a.fingerprint(), b.fingerprint());
  SearchSpace c;
  c.add(numeric("lr", Type::real, 1e-5, 1e-1, true));
  SearchSpace d;
  d.add(numeric("lr", Type::real, 1e-5, 1e-1, false));
  EXPECT_NE(c.fingerprint(), d.fingerprint());
  // A hand-computed value pins the hash (FNV-1a 64 of the JSON) across platforms and releases.
  SearchSpace e;
  e.add(constant("a", num(1)));
  EXPECT_EQ(e.to_json().dump(), R"({"forbidden":[],"hyperparameters":[{"conditions":[],"name":"a","type":"constant","value":1}]})");
  EXPECT_EQ(e.fingerprint(), "d158d03472b35ac8"); // python3: FNV-1a 64 of the string above
}

TEST(SearchSpace, ComponentCandidatesLongestFirst) {
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(component_candidates("network:shapedresnet:max_units"), (Pairs{{"network", "shapedresnet"}}));
  EXPECT_EQ(component_candidates("a:b:c:d"), (Pairs{{"a:b", "c"}, {"a", "b"}}));
  EXPECT_TRUE(component_candidates("a:b").empty());
  EXPECT_TRUE(component_candidates("lr").empty());
}
