#include "space/hyperparameter.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace automl::space;
using testing::HasSubstr;

namespace {

Hyperparameter int_hp(const std::string& name, double lower, double upper, bool log = false) {
  Hyperparameter hp;
  hp.name = name;
  hp.type = Type::integer;
  hp.lower = lower;
  hp.upper = upper;
  hp.log = log;
  return hp;
}

// The message and field of the SpaceError that validate() throws, or "" when it throws none.
std::pair<std::string, std::string> validation_error(const Hyperparameter& hp) {
  try {
    validate(hp);
  } catch (const SpaceError& e) {
    return {e.what(), e.field()};
  }
  return {"", ""};
}

} // namespace

TEST(Hyperparameter, ValidationMessagesNameTheFieldAtFault) {
  auto hp = int_hp("network:shapedresnet:max_units", 1024, 10);
  EXPECT_EQ(validation_error(hp), std::make_pair(std::string("network:shapedresnet:max_units: lower 1024 > upper 10"),
                                                 std::string("range")));
  hp = int_hp("u", 0, 10, true);
  EXPECT_EQ(validation_error(hp).first, "u: log scale needs a positive range, got lower 0");
  EXPECT_EQ(validation_error(hp).second, "log");
  hp = int_hp("u", 1, 10);
  hp.default_value = std::int64_t{11};
  EXPECT_EQ(validation_error(hp).first, "u: default 11 is out of range [1, 10]");
  EXPECT_EQ(validation_error(hp).second, "default");
  hp = int_hp("u", 1, 10);
  hp.step = 2.0;
  EXPECT_EQ(validation_error(hp).first, "u: range [1, 10] is not a whole number of steps of 2");
  hp = int_hp("u", 1.5, 10);
  EXPECT_THAT(validation_error(hp).first, HasSubstr("an int range needs integer bounds"));
  hp = int_hp("u", 1, 1e22);
  EXPECT_EQ(validation_error(hp).first, "u: an int range must lie within +-9007199254740992, got [1, 1e+22]");
  hp = int_hp("u", 3, 3);
  EXPECT_EQ(validation_error(hp).first, "u: empty range [3, 3]; use a constant for a fixed value");

  Hyperparameter c;
  c.name = "opt";
  c.type = Type::categorical;
  c.choices = {Value{std::string("adam")}, Value{std::string("adam")}};
  EXPECT_EQ(validation_error(c).first, "opt: choice 'adam' is listed twice");
  c.choices = {Value{std::string("adam")}, Value{std::string("sgd")}};
  c.default_value = std::string("rmsprop");
  EXPECT_EQ(validation_error(c).first, "opt: default 'rmsprop' is not one of [adam, sgd]");
  c.default_value.reset();
  EXPECT_EQ(validation_error(c).first, "");
}

TEST(Hyperparameter, ProblemsOfValues) {
  auto hp = int_hp("n", 10, 1024, true);
  EXPECT_FALSE(hp.problem(Value{std::int64_t{10}}));
  EXPECT_FALSE(hp.problem(Value{64.0})); // an integral float is an int
  EXPECT_EQ(*hp.problem(Value{std::int64_t{2000}}), "2000 is out of range [10, 1024] log");
  EXPECT_EQ(*hp.problem(Value{64.5}), "expected an integer, got 64.5");
  EXPECT_EQ(*hp.problem(Value{std::string("big")}), "expected an integer, got 'big'");
  Hyperparameter f;
  f.name = "x";
  f.lower = 0.1;
  f.upper = 0.4;
  f.step = 0.1;
  EXPECT_FALSE(f.problem(Value{0.3}));
  EXPECT_EQ(*f.problem(Value{0.25}), "0.25 is not on the grid 0.1 + k * 0.1");
  Hyperparameter k;
  k.name = "batch_size";
  k.type = Type::constant;
  k.value = std::int64_t{125};
  EXPECT_FALSE(k.problem(Value{125.0}));
  EXPECT_EQ(*k.problem(Value{std::int64_t{64}}), "must be the constant 125, got 64");
  Hyperparameter b;
  b.name = "use_dropout";
  b.type = Type::boolean;
  EXPECT_FALSE(b.problem(Value{true}));
  EXPECT_EQ(*b.problem(Value{std::int64_t{1}}), "'1' is not one of [false, true]");
}

TEST(Hyperparameter, DerivedDefaults) {
  EXPECT_EQ(int_hp("n", 1, 9).effective_default(), Value{std::int64_t{5}});
  EXPECT_EQ(int_hp("n", 10, 1000, true).effective_default(), Value{std::int64_t{100}}); // geometric middle
  Hyperparameter f;
  f.lower = 1e-4;
  f.upper = 1e-2;
  f.log = true;
  EXPECT_NEAR(std::get<double>(f.effective_default()), 1e-3, 1e-15);
  Hyperparameter stepped;
  stepped.lower = 0.1;
  stepped.upper = 0.5;
  stepped.step = 0.1;
  EXPECT_EQ(stepped.effective_default(), Value{0.3}); // 0.1 + 2 * 0.1, as written: not 0.30000000000000004
  Hyperparameter c;
  c.type = Type::categorical;
  c.choices = {Value{std::string("b")}, Value{std::string("a")}};
  EXPECT_EQ(c.effective_default(), Value{std::string("b")});
  Hyperparameter b;
  b.type = Type::boolean;
  EXPECT_EQ(b.effective_default(), Value{false});
}

TEST(Hyperparameter, ConditionsHold) {
  Condition gt{"num_conv_layers", ConditionOp::greater, {Value{std::int64_t{3}}}};
  EXPECT_TRUE(gt.holds(Value{std::int64_t{4}}));
  EXPECT_FALSE(gt.holds(Value{std::int64_t{3}}));
  Condition ge{"n", ConditionOp::greater_equal, {Value{std::int64_t{3}}}};
  EXPECT_TRUE(ge.holds(Value{std::int64_t{3}}));
  Condition lt{"x", ConditionOp::less, {Value{0.5}}};
  EXPECT_TRUE(lt.holds(Value{0.25}));
  EXPECT_FALSE(lt.holds(Value{0.5}));
  Condition le{"x", ConditionOp::less_equal, {Value{0.5}}};
  EXPECT_TRUE(le.holds(Value{0.5}));
  Condition in{"optimizer", ConditionOp::in, {Value{std::string("sgd")}, Value{std::string("rmsprop")}}};
  EXPECT_TRUE(in.holds(Value{std::string("rmsprop")}));
  EXPECT_FALSE(in.holds(Value{std::string("adam")}));
  EXPECT_EQ(in.to_string(), "optimizer in [sgd, rmsprop]");
  EXPECT_EQ(gt.to_string(), "num_conv_layers > 3");
  Condition eq{"use_dropout", ConditionOp::equals, {Value{true}}};
  EXPECT_TRUE(eq.holds(Value{true}));
  EXPECT_FALSE(eq.holds(Value{false}));
  EXPECT_EQ(eq.to_string(), "use_dropout == true");
}

// Duplicate choices are found with sets since issue 15 (loading a component with k choices was O(k^2)):
// the same meaning as values_equal, numbers by value whatever their type.
TEST(Hyperparameter, DuplicateChoicesCompareAsValuesEqual) {
  Hyperparameter c;
  c.name = "k";
  c.type = Type::categorical;
  c.choices = {Value{std::int64_t{3}}, Value{std::string("3")}, Value{true}, Value{3.0}};
  EXPECT_EQ(validation_error(c).first, "k: choice '3' is listed twice");
  c.choices = {Value{std::int64_t{1}}, Value{std::string("1")}, Value{true}, Value{std::string("true")}};
  EXPECT_EQ(validation_error(c).first, "");
  c.choices = {Value{std::string("a")}, Value{false}, Value{false}};
  EXPECT_EQ(validation_error(c).first, "k: choice 'false' is listed twice");
}
