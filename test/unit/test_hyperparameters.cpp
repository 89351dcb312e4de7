#include "core/hyperparameters.hpp"
#include "support/expect_error.hpp"

using automl::core::Hyperparameters;

TEST(Hyperparameters, ScopedThenBareThenDefault) {
  const Hyperparameters hp(nlohmann::json{{"network:mlpnet:num_layers", 3}, {"lr", 0.5}, {"network", "mlpnet"}});
  EXPECT_EQ(hp.get_int("network:mlpnet", "num_layers"), 3);
  EXPECT_DOUBLE_EQ(hp.get_double("optimizer:sgd", "lr"), 0.5);
  EXPECT_EQ(hp.get_string("", "network"), "mlpnet");
  EXPECT_TRUE(hp.get_bool("network:mlpnet", "use_dropout", true));
}

TEST(Hyperparameters, NumbersConvertWhereExact) {
  const Hyperparameters hp(nlohmann::json{{"a", 3.0}, {"b", 2}, {"c", 2.5}});
  EXPECT_EQ(hp.get_int("", "a"), 3);
  EXPECT_DOUBLE_EQ(hp.get_double("", "b"), 2.0);
  automl::test::expect_input_error([&] { hp.get_int("", "c"); }, {"c: expected an integer, got 2.5"});
}

TEST(Hyperparameters, ErrorsNameTheKey) {
  const Hyperparameters hp(nlohmann::json{{"network:mlpnet:num_layers", "three"}});
  automl::test::expect_input_error([&] { hp.get_int("network:mlpnet", "num_layers"); },
                                   {"network:mlpnet:num_layers: expected an integer, got \"three\""});
  automl::test::expect_input_error([&] { hp.get_double("network:mlpnet", "max_units"); },
                                   {"network:mlpnet:max_units: required hyperparameter is not set"});
  automl::test::expect_input_error([] { Hyperparameters(nlohmann::json::array()); }, {"must be a map"});
  automl::test::expect_input_error([] { Hyperparameters(nlohmann::json{{"a", {1, 2}}}); }, {"a: expected a number, string or boolean"});
}
