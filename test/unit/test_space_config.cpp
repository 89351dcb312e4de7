#include "space/config.hpp"
#include "support/expect_error.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace automl;
using space::Config;
using space::Value;

TEST(SpaceConfig, ValueText) {
  EXPECT_EQ(space::to_string(Value{true}), "true");
  EXPECT_EQ(space::to_string(Value{std::int64_t{42}}), "42");
  EXPECT_EQ(space::to_string(Value{0.001}), "0.001");
  EXPECT_EQ(space::to_string(Value{1e-05}), "1e-05");
  EXPECT_EQ(space::to_string(Value{std::string("sgd")}), "sgd");
}

TEST(SpaceConfig, NumbersCompareAcrossIntAndFloat) {
  EXPECT_TRUE(space::values_equal(Value{std::int64_t{3}}, Value{3.0}));
  EXPECT_FALSE(space::values_equal(Value{std::int64_t{3}}, Value{3.5}));
  EXPECT_FALSE(space::values_equal(Value{true}, Value{std::int64_t{1}}));
  EXPECT_FALSE(space::values_equal(Value{std::string("3")}, Value{std::int64_t{3}}));
}

TEST(SpaceConfig, JsonRoundTripKeepsTypes) {
  Config c;
  c.set("network", std::string("shapedresnet"));
  c.set("network:shapedresnet:num_groups", std::int64_t{4});
  c.set("optimizer:sgd:lr", 0.1 + 0.2); // not a short decimal: must survive exactly
  c.set("lr", 1.0);                     // an integral float stays a float
  c.set("use_dropout", false);
  const auto text = to_json(c).dump();
  const auto back = space::config_from_json(nlohmann::json::parse(text));
  EXPECT_EQ(back, c);
  EXPECT_TRUE(std::holds_alternative<double>(back.at("lr")));
  EXPECT_TRUE(std::holds_alternative<std::int64_t>(back.at("network:shapedresnet:num_groups")));
}

TEST(SpaceConfig, TypedAccess) {
  Config c;
  c.set("n", std::int64_t{3});
  c.set("x", 0.5);
  c.set("s", std::string("adam"));
  c.set("b", true);
  EXPECT_EQ(c.get_int("n"), 3);
  EXPECT_DOUBLE_EQ(c.get_double("n"), 3.0);
  EXPECT_DOUBLE_EQ(c.get_double("x"), 0.5);
  EXPECT_EQ(c.get_string("s"), "adam");
  EXPECT_TRUE(c.get_bool("b"));
  test::expect_input_error([&] { c.get_int("x"); }, {"x: expected an integer, got '0.5'"});
  test::expect_input_error([&] { c.get_string("missing"); }, {"configuration has no hyperparameter 'missing'"});
}

TEST(SpaceConfig, FromJsonRejectsNonScalars) {
  test::expect_input_error([] { space::config_from_json(nlohmann::json::parse(R"({"a": [1, 2]})")); },
                           {"a: expected a boolean, number or string, got [1,2]"});
  test::expect_input_error([] { space::config_from_json(nlohmann::json::parse("[1]")); },
                           {"a configuration must be a JSON object"});
}
