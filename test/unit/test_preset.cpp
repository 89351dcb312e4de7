// The presets and the Optuna space as shipped, preset lookup, run settings, preset chains, space updates.

#include "commands/train.hpp"
#include "config/preset.hpp"
#include "support/expect_error.hpp"
#include "support/test_files.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>

using namespace automl;
using automl::test::TempDir;
using testing::HasSubstr;

namespace {

config::LoadedSetup load_preset(const std::string& preset, std::optional<config::DataKind> kind = std::nullopt,
                                std::vector<std::string> updates = {}) {
  config::LoadOptions options;
  options.preset = preset;
  options.data_kind = kind;
  options.space_updates = std::move(updates);
  return config::load_setup(options);
}

// Samples `n` configurations and checks each: valid for the space (so no inactive hyperparameter is present
// and every active one is), and the same after encode/decode (exactly, except floats to rounding).
void sample_and_round_trip(const space::SearchSpace& s, int n, std::uint64_t seed) {
  core::Rng rng(seed);
  for (int i = 0; i < n; ++i) {
    const auto point = s.sample_prior(rng);
    const auto c = s.decode(point);
    const auto problems = s.check(c);
    ASSERT_TRUE(problems.empty()) << "sample " << i << ": " << problems.front();
    for (const auto& hp : s.hyperparameters()) {
      // Present exactly when every condition holds on the sampled parents.
      bool active = true;
      for (const auto& cond : hp.conditions)
        active = active && c.contains(cond.parent) && cond.holds(c.at(cond.parent));
      ASSERT_EQ(c.contains(hp.name), active) << hp.name << " in sample " << i;
    }
    const auto x = s.encode(c);
    ASSERT_EQ(x.size(), point.size());
    const auto back = s.decode(x);
    ASSERT_EQ(back.size(), c.size());
    for (const auto& [name, value] : c) {
      const auto& other = back.at(name);
      if (std::holds_alternative<double>(value))
        ASSERT_NEAR(std::get<double>(other), std::get<double>(value), 1e-12 * std::max(1.0, std::abs(std::get<double>(value)))) << name;
      else
        ASSERT_EQ(other, value) << name;
    }
    for (std::size_t d = 0; d < x.size(); ++d) {
      if (std::isnan(point[d])) {
        ASSERT_TRUE(std::isnan(x[d])) << s.dimension_name(d);
      } else if (s.cardinality(d) > 0 || s.dimension_hyperparameter(d).type == space::Type::integer) {
        ASSERT_EQ(x[d], point[d]) << s.dimension_name(d); // on the grid: exact
      } else {
        ASSERT_NEAR(x[d], point[d], 1e-12) << s.dimension_name(d);
      }
    }
  }
}

std::vector<std::string> free_names(const space::SearchSpace& s) {
  std::vector<std::string> names;
  for (std::size_t d = 0; d < s.dimension(); ++d) names.push_back(s.dimension_name(d));
  return names;
}

} // namespace

TEST(Presets, EveryPresetAndTheOptunaSpaceSampleValidConfigurations) {
  struct Case {
    std::string preset;
    std::optional<config::DataKind> kind;
    std::string expected_file;
  };
  const std::vector<Case> cases{{"tiny_cs", std::nullopt, "presets/tiny_cs.yaml"},
                                {"medium_cs", std::nullopt, "presets/medium_cs.yaml"},
                                {"full_cs", std::nullopt, "presets/full_cs.yaml"},
                                {"tiny_cs", config::DataKind::image, "presets/image/tiny_cs.yaml"},
                                {"medium_cs", config::DataKind::image, "presets/image/medium_cs.yaml"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.expected_file);
    const auto setup = load_preset(c.preset, c.kind);
    EXPECT_THAT(setup.preset_file, testing::EndsWith(c.expected_file));
    EXPECT_EQ(setup.run.kind, c.expected_file.find("image/") != std::string::npos ? config::DataKind::image : config::DataKind::feature);
    sample_and_round_trip(setup.space, 10000, 1);
    EXPECT_TRUE(setup.space.check(setup.space.default_config()).empty());
  }
  config::LoadOptions optuna;
  optuna.space_file = "convnet_optuna"; // a name in configs/
  sample_and_round_trip(config::load_setup(optuna).space, 10000, 2);
}

TEST(Presets, TinyCsIsLegacyAutoPyTorchsTinyCs) {
  const auto setup = load_preset("tiny_cs");
  const auto& s = setup.space;
  EXPECT_THAT(free_names(s), testing::ElementsAre("network:shapedresnet:num_groups", "network:shapedresnet:blocks_per_group",
                                                  "network:shapedresnet:max_units", "optimizer:sgd:lr",
                                                  "optimizer:sgd:momentum", "optimizer:sgd:weight_decay"));
  EXPECT_EQ(s.find("network:shapedresnet:num_groups")->domain_text(), "[1, 9]");
  EXPECT_EQ(s.find("network:shapedresnet:blocks_per_group")->domain_text(), "[1, 4]");
  EXPECT_EQ(s.find("network:shapedresnet:max_units")->domain_text(), "[10, 1024] log");
  EXPECT_EQ(s.find("optimizer:sgd:lr")->domain_text(), "[0.0001, 0.1] log");
  EXPECT_EQ(s.find("optimizer:sgd:momentum")->domain_text(), "[0.1, 0.999]");
  EXPECT_EQ(s.find("optimizer:sgd:weight_decay")->domain_text(), "[1e-05, 0.1]");
  const auto c = s.default_config();
  EXPECT_EQ(c.get_string("network"), "shapedresnet");
  EXPECT_EQ(c.get_string("network:shapedresnet:resnet_shape"), "brick");
  EXPECT_EQ(c.get_string("network:shapedresnet:activation"), "relu");
  EXPECT_FALSE(c.get_bool("network:shapedresnet:use_dropout"));
  EXPECT_FALSE(c.get_bool("network:shapedresnet:use_shake_shake"));
  EXPECT_FALSE(c.get_bool("network:shapedresnet:use_shake_drop"));
  EXPECT_EQ(c.get_string("optimizer"), "sgd");
  EXPECT_EQ(c.get_string("lr_scheduler"), "cosine_annealing");
  EXPECT_EQ(c.get_int("lr_scheduler:cosine_annealing:T_max"), 10);
  EXPECT_EQ(c.get_int("batch_size"), 125);
  EXPECT_EQ(c.get_string("imputation"), "median");
  EXPECT_EQ(c.get_string("scaling"), "standardize");
  EXPECT_EQ(c.get_string("feature_preprocessor"), "truncated_svd");
  EXPECT_EQ(c.get_int("feature_preprocessor:truncated_svd:target_dim"), 100);
  EXPECT_EQ(c.get_string("loss"), "cross_entropy_weighted");
  EXPECT_EQ(c.size(), 21u); // six free + fifteen constants
  EXPECT_EQ(setup.run.budget.budget_type, config::BudgetType::epochs);
  EXPECT_DOUBLE_EQ(setup.run.data.validation_split, 0.3);
}

TEST(Presets, OptunaSpaceIsTheChaptersSpace) {
  config::LoadOptions options;
  options.space_file = "convnet_optuna";
  const auto s = config::load_setup(options).space;
  EXPECT_EQ(s.dimension(), 13u);
  const std::string p = "network:convnet:";
  EXPECT_EQ(s.find(p + "num_conv_layers")->domain_text(), "[1, 4]");
  EXPECT_EQ(s.find(p + "num_fc_layers")->domain_text(), "[1, 2]");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(s.find(p + "conv_depth_" + std::to_string(i))->domain_text(), "[16, 64]");
  EXPECT_EQ(s.find(p + "conv_dropout")->domain_text(), "[0.1, 0.4]");
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(s.find(p + "fc_output_feat_" + std::to_string(i))->domain_text(), "[16, 64]");
    EXPECT_EQ(s.find(p + "fc_dropout_" + std::to_string(i))->domain_text(), "[0.1, 0.4]");
  }
  EXPECT_EQ(s.find("optimizer")->domain_text(), "[adam, adadelta, rmsprop, sgd]");
  EXPECT_EQ(s.find("lr")->domain_text(), "[1e-05, 0.1] log");
  // Fixed by the file, not searched: the schedule annealed over the largest budget, and the run settings.
  const auto setup = config::load_setup(options);
  EXPECT_EQ(s.default_config().get_int("lr_scheduler:cosine_annealing:T_max"), 9);
  EXPECT_DOUBLE_EQ(setup.run.budget.max_budget, 9);
  EXPECT_NEAR(setup.run.budget.min_budget, 1.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(setup.run.data.validation_split, 0.1);
  core::Rng rng(5);
  for (int i = 0; i < 2000; ++i) {
    const auto c = s.sample(rng);
    const auto convs = c.get_int(p + "num_conv_layers");
    for (int k = 0; k < 4; ++k) EXPECT_EQ(c.contains(p + "conv_depth_" + std::to_string(k)), k < convs);
    const auto fcs = c.get_int(p + "num_fc_layers");
    for (int k = 0; k < 2; ++k) {
      EXPECT_EQ(c.contains(p + "fc_output_feat_" + std::to_string(k)), k < fcs);
      EXPECT_EQ(c.contains(p + "fc_dropout_" + std::to_string(k)), k < fcs);
    }
  }
}

TEST(Presets, ImageVariantIsPickedForImageData) {
  EXPECT_THAT(config::find_preset("tiny_cs", config::DataKind::image).string(), testing::EndsWith("presets/image/tiny_cs.yaml"));
  EXPECT_THAT(config::find_preset("tiny_cs", config::DataKind::feature).string(), testing::EndsWith("presets/tiny_cs.yaml"));
  EXPECT_THAT(config::find_preset("tiny_cs", std::nullopt).string(), testing::EndsWith("presets/tiny_cs.yaml"));
  // No image variant: the feature preset (images are flattened).
  EXPECT_THAT(config::find_preset("full_cs", config::DataKind::image).string(), testing::EndsWith("presets/full_cs.yaml"));
  EXPECT_THAT(config::preset_names(config::DataKind::feature), testing::ElementsAre("full_cs", "medium_cs", "tiny_cs"));
  EXPECT_THAT(config::preset_names(config::DataKind::image), testing::ElementsAre("medium_cs", "tiny_cs"));
}

TEST(Presets, UnknownPresetNamesTheKnownOnes) {
  test::expect_input_error([] { config::find_preset("tiny_sc", std::nullopt); },
                           {"unknown preset 'tiny_sc' (did you mean 'tiny_cs'?); presets in ", ": full_cs, medium_cs, tiny_cs"});
  test::expect_input_error([] { config::find_preset("nowhere/p.yaml", std::nullopt); },
                           {"preset file 'nowhere/p.yaml' does not exist"});
}

TEST(Presets, ARunConfigBuildsOnAPresetAndUpdatesIt) {
  TempDir dir;
  test::write_file(dir / "run.yaml", R"(preset: tiny_cs
description: tiny_cs with a narrower learning rate
budget:
  max_budget: 9
  eta: 2
training:
  early_stopping_patience: 3
space_updates:
  optimizer:sgd:lr: {range: [1.0e-3, 1.0e-2]}
)");
  const auto setup = load_preset((dir / "run.yaml").string());
  EXPECT_EQ(setup.run.description, "tiny_cs with a narrower learning rate");
  EXPECT_DOUBLE_EQ(setup.run.budget.max_budget, 9);
  EXPECT_DOUBLE_EQ(setup.run.budget.eta, 2);
  EXPECT_DOUBLE_EQ(setup.run.budget.min_budget, 1); // from tiny_cs
  EXPECT_EQ(setup.run.training.early_stopping_patience, 3);
  EXPECT_EQ(setup.space.find("optimizer:sgd:lr")->domain_text(), "[0.001, 0.01] log");
  EXPECT_EQ(setup.files.size(), 2u);
  EXPECT_NE(setup.space.fingerprint(), load_preset("tiny_cs").space.fingerprint());
}

TEST(Presets, ASpaceFileCarriesRunSettingsThatOverrideThePresets) {
  TempDir dir;
  test::write_file(dir / "s.yaml", R"(budget:
  max_budget: 9
data:
  validation_split: 0.1
hyperparameters:
  lr: {type: float, range: [0.001, 0.1]}
)");
  config::LoadOptions options;
  options.preset = "tiny_cs";
  options.space_file = (dir / "s.yaml").string();
  const auto setup = config::load_setup(options);
  EXPECT_DOUBLE_EQ(setup.run.budget.max_budget, 9);
  EXPECT_DOUBLE_EQ(setup.run.data.validation_split, 0.1);
  EXPECT_DOUBLE_EQ(setup.run.budget.min_budget, 1); // tiny_cs's, not touched by the space file
  EXPECT_EQ(setup.space.dimension(), 1u);
  const auto file = (dir / "s.yaml").string();
  test::write_file(dir / "s.yaml", "budget:\n  eta: 0.5\nhyperparameters:\n  lr: 0.1\n");
  test::expect_input_error([&] { config::load_setup(options); }, {file + ":2:8: budget.eta: must be > 1, got 0.5"});
  test::write_file(dir / "s.yaml", "budget:\n  typical_pace: 0\nhyperparameters:\n  lr: 0.1\n");
  test::expect_input_error([&] { config::load_setup(options); }, {file + ":2:17: budget.typical_pace: must be > 0, got 0"});
  test::write_file(dir / "s.yaml", "budget:\n  typical_pace: 2.5\nhyperparameters:\n  lr: 0.1\n");
  EXPECT_DOUBLE_EQ(config::load_setup(options).run.budget.typical_pace, 2.5);
  EXPECT_FALSE(config::load_setup(options).run.budget.portfolio_to_largest_rung);
  test::write_file(dir / "s.yaml", "budget:\n  portfolio_to_largest_rung: yes please\nhyperparameters:\n  lr: 0.1\n");
  test::expect_input_error([&] { config::load_setup(options); },
                           {file + ":2:30: budget.portfolio_to_largest_rung: expected true or false, got 'yes please'"});
  test::write_file(dir / "s.yaml", "budget:\n  portfolio_to_largest_rung: true\nhyperparameters:\n  lr: 0.1\n");
  EXPECT_TRUE(config::load_setup(options).run.budget.portfolio_to_largest_rung);
  test::write_file(dir / "s.yaml", "budget:\n  min_budget: 30\nhyperparameters:\n  lr: 0.1\n");
  test::expect_input_error([&] { config::load_setup(options); }, {file + ": budget.min_budget 30 > budget.max_budget 27"});
  test::write_file(dir / "s.yaml", "preset: tiny_cs\nhyperparameters:\n  lr: 0.1\n");
  test::expect_input_error([&] { config::load_setup(options); }, {file + ":1:1: unknown key 'preset'"});
}

TEST(Presets, PresetLoopsAreErrors) {
  TempDir dir;
  test::write_file(dir / "a.yaml", "preset: b.yaml\n");
  test::write_file(dir / "b.yaml", "preset: a.yaml\n");
  test::expect_input_error([&] { load_preset((dir / "a.yaml").string()); }, {"presets build on each other in a loop: "});
}

TEST(Presets, RunSettingErrorsHaveLocations) {
  TempDir dir;
  const auto file = (dir / "p.yaml").string();
  const std::string space = "hyperparameters:\n  lr: {type: float, range: [0.001, 0.1]}\n";
  test::write_file(dir / "p.yaml", "budget:\n  min_budgt: 1\n" + space);
  test::expect_input_error([&] { load_preset(file); }, {file + ":2:3: budget: unknown key 'min_budgt' (did you mean 'min_budget'?)"});
  test::write_file(dir / "p.yaml", "budget:\n  eta: 1\n" + space);
  test::expect_input_error([&] { load_preset(file); }, {file + ":2:8: budget.eta: must be > 1, got 1"});
  test::write_file(dir / "p.yaml", "data:\n  validation_split: 1.5\n" + space);
  test::expect_input_error([&] { load_preset(file); }, {file + ":2:21: data.validation_split: must be in (0, 1), got 1.5"});
  test::write_file(dir / "p.yaml", "budget:\n  budget_type: epoch\n" + space);
  test::expect_input_error([&] { load_preset(file); }, {file + ":2:16: budget.budget_type: expected epochs or time, got 'epoch'"});
  test::write_file(dir / "p.yaml", "budget:\n  min_budget: 10\n  max_budget: 5\n" + space);
  test::expect_input_error([&] { load_preset(file); }, {file + ": budget.min_budget 10 > budget.max_budget 5"});
  test::write_file(dir / "p.yaml", "kind: images\n" + space);
  test::expect_input_error([&] { load_preset(file); }, {file + ":1:7: kind: expected feature or image, got 'images'"});
  test::write_file(dir / "p.yaml", "budgets:\n  eta: 3\n" + space);
  test::expect_input_error([&] { load_preset(file); }, {file + ":1:1: unknown key 'budgets' (did you mean 'budget'?)"});
  test::write_file(dir / "p.yaml", "budget:\n  eta: 3\n");
  test::expect_input_error([&] { load_preset(file); }, {file + ":1:1: a preset needs hyperparameters"});
  // Numbers beyond a double's range are infinities: refused, not turned into endless rungs.
  test::write_file(dir / "p.yaml", "budget:\n  max_budget: 1e999\n" + space);
  test::expect_input_error([&] { load_preset(file); }, {file + ":2:15: budget.max_budget: must be a finite number, got inf"});
  test::write_file(dir / "p.yaml", "budget:\n  eta: -1e999\n" + space);
  test::expect_input_error([&] { load_preset(file); }, {file + ":2:8: budget.eta: must be a finite number, got -inf"});
  // data.source was read and ignored (the data come from --data): now an unknown key.
  test::write_file(dir / "p.yaml", "data:\n  source: mnist\n" + space);
  test::expect_input_error([&] { load_preset(file); }, {file + ":2:3: data: unknown key 'source'"});
}

TEST(Presets, RunConfigKeyTableDocumentsDefaults) {
  const auto keys = config::run_config_keys();
  ASSERT_FALSE(keys.empty());
  const auto eta = std::find_if(keys.begin(), keys.end(), [](const config::RunConfigKey& k) { return k.name == "budget.eta"; });
  ASSERT_NE(eta, keys.end());
  EXPECT_EQ(eta->default_value, "3");
  EXPECT_EQ(eta->type, "number");
  const auto typical = std::find_if(keys.begin(), keys.end(), [](const config::RunConfigKey& k) { return k.name == "budget.typical_pace"; });
  ASSERT_NE(typical, keys.end());
  EXPECT_EQ(typical->default_value, "4"); // hpo::k_typical_pace: what the flattened tiny_cs space measured
  // The image tiny_cs space is sized for CPUs: its configurations cost less over the default's.
  EXPECT_LT(load_preset("tiny_cs", config::DataKind::image).run.budget.typical_pace, 4);
  const auto j = config::to_json(config::RunConfig{});
  EXPECT_EQ(j["budget"]["budget_type"], "epochs");
  // One default everywhere (a space file without a data section, automl train, data inspect): Auto-PyTorch's.
  EXPECT_EQ(j["data"]["validation_split"], automl::data::k_default_validation_split);
  EXPECT_EQ(automl::commands::TrainCommandOptions{}.validation_split, automl::data::k_default_validation_split);
  EXPECT_EQ(j["training"]["best_over_epochs"], false);
}

TEST(SpaceUpdates, NarrowingTheLearningRate) {
  TempDir dir;
  test::write_file(dir / "u.yaml", "optimizer:sgd:lr: {range: [1.0e-3, 1.0e-2]}\n");
  const auto s = load_preset("tiny_cs", std::nullopt, {(dir / "u.yaml").string()}).space;
  const auto* lr = s.find("optimizer:sgd:lr");
  EXPECT_EQ(lr->domain_text(), "[0.001, 0.01] log");
  EXPECT_EQ(lr->effective_default(), space::Value{0.01}); // 0.01 was already inside
  core::Rng rng(9);
  double lowest = 1, highest = 0;
  for (int i = 0; i < 5000; ++i) {
    const double x = s.sample(rng).get_double("optimizer:sgd:lr");
    lowest = std::min(lowest, x);
    highest = std::max(highest, x);
  }
  EXPECT_GE(lowest, 1e-3);
  EXPECT_LE(highest, 1e-2);
  EXPECT_LT(lowest, 1.2e-3);
  EXPECT_GT(highest, 0.8e-2);
}

TEST(SpaceUpdates, FixingAComponentDropsTheOthersSubSpaces) {
  TempDir dir;
  test::write_file(dir / "u.yaml", R"(network: {value: mlpnet}
optimizer: {choices: [adam, sgd], default: sgd}
network:mlpnet:num_layers: {range: [1, 2]}
lr_scheduler: {choices: [plateau]}
feature_preprocessor:truncated_svd:target_dim: {value: 64}
)");
  const auto s = load_preset("medium_cs", std::nullopt, {(dir / "u.yaml").string()}).space;
  EXPECT_EQ(s.find("network")->type, space::Type::constant);
  EXPECT_EQ(s.find("network:resnet:num_groups"), nullptr);
  EXPECT_EQ(s.find("network:mlpnet:num_units_3"), nullptr); // needs num_layers >= 3, now impossible
  ASSERT_NE(s.find("network:mlpnet:num_units_2"), nullptr);
  EXPECT_EQ(s.find("network:mlpnet:num_layers")->effective_default(), space::Value{std::int64_t{2}}); // 3 moved inside
  EXPECT_EQ(s.find("optimizer:rmsprop:lr"), nullptr);
  EXPECT_EQ(s.find("lr_scheduler")->type, space::Type::constant); // one choice left
  EXPECT_EQ(s.find("lr_scheduler:cosine_annealing:T_max"), nullptr);
  EXPECT_EQ(s.find("feature_preprocessor:truncated_svd:target_dim")->domain_text(), "64");
  sample_and_round_trip(s, 2000, 3);
}

TEST(SpaceUpdates, ErrorsPointIntoTheUpdateFile) {
  TempDir dir;
  const auto file = (dir / "u.yaml").string();
  // `token` is where the error must point, on the one line of `yaml`.
  const auto fails = [&](const std::string& yaml, const std::string& token, const std::string& message) {
    test::write_file(dir / "u.yaml", yaml);
    const auto where = file + ":1:" + std::to_string(yaml.find(token) + 1) + ": ";
    test::expect_input_error([&] { load_preset("tiny_cs", std::nullopt, {file}); }, {where + message});
  };
  fails("optimizer:sgd:lrr: {range: [1.0e-3, 1.0e-2]}\n", "optimizer",
        "space update: unknown hyperparameter 'optimizer:sgd:lrr' (did you mean 'optimizer:sgd:lr'?)");
  fails("optimizer:sgd:lr: {range: [1.0e-2, 1.0e-3]}\n", "[", "optimizer:sgd:lr: lower 0.01 > upper 0.001");
  fails("optimizer:sgd:lr: {range: [0, 1.0e-3]}\n", "[", "optimizer:sgd:lr: log scale needs a positive range, got lower 0");
  fails("optimizer:sgd:lr: {default: 0.5}\n", "0.5", "optimizer:sgd:lr: default 0.5 is out of range [0.0001, 0.1] log");
  fails("optimizer:sgd:lr: {rang: [1, 2]}\n", "rang", "optimizer:sgd:lr: unknown key 'rang' (did you mean 'range'?)");
  fails("optimizer:sgd:lr: {value: 2.0}\n", "2.0", "optimizer:sgd:lr: value 2 is out of range [0.0001, 0.1] log");
  fails("batch_size: {range: [16, 256]}\n", "[", "batch_size: 'range' cannot be updated: batch_size is constant");
  fails("optimizer:sgd:lr: {value: 0.01, log: false}\n", "false",
        "optimizer:sgd:lr: 'log' cannot be updated: `value` fixes the hyperparameter to a constant");
}

TEST(Presets, PresetDirectoryFromTheEnvironment) {
  TempDir dir;
  std::filesystem::create_directories(dir / "image");
  test::write_file(dir / "mine.yaml", "hyperparameters:\n  lr: {type: float, range: [0.001, 0.1], log: true}\n");
  test::write_file(dir / "image/mine.yaml", "kind: image\nhyperparameters:\n  lr: {type: float, range: [0.01, 0.1]}\n");
  ASSERT_EQ(setenv("AUTOML_PRESET_DIR", dir.path().c_str(), 1), 0);
  const auto feature = load_preset("mine");
  const auto image = load_preset("mine", config::DataKind::image);
  const auto names = config::preset_names(config::DataKind::feature);
  unsetenv("AUTOML_PRESET_DIR");
  EXPECT_EQ(feature.preset_file, (dir / "mine.yaml").string());
  EXPECT_EQ(feature.space.find("lr")->domain_text(), "[0.001, 0.1] log");
  EXPECT_EQ(image.preset_file, (dir / "image/mine.yaml").string());
  EXPECT_EQ(image.run.kind, config::DataKind::image);
  EXPECT_THAT(names, testing::ElementsAre("mine"));
}

TEST(Presets, EveryPresetsPortfolioIsValidInItsSpace) {
  // Each entry valid, not the default, and the same after the unit-cube round trip; returns how many there were.
  const auto check_portfolio = [](const config::LoadedSetup& setup) {
    for (const auto& c : setup.portfolio) {
      EXPECT_THAT(setup.space.check(c), testing::IsEmpty());
      EXPECT_NE(c, setup.space.default_config());
      const auto back = setup.space.decode(setup.space.encode(c));
      EXPECT_EQ(back.size(), c.size());
    }
    return setup.portfolio.size();
  };
  std::size_t entries = 0;
  for (const auto kind : {config::DataKind::feature, config::DataKind::image})
    for (const auto& name : config::preset_names(kind)) {
      SCOPED_TRACE(name);
      entries += check_portfolio(load_preset(name, kind));
    }
  // The shipped search-space files' portfolios too (convnet_optuna has one).
  std::size_t space_file_entries = 0;
  for (const auto& file : std::filesystem::directory_iterator(config::configs_dir())) {
    SCOPED_TRACE(file.path().string());
    config::LoadOptions options;
    options.space_file = file.path().string();
    space_file_entries += check_portfolio(config::load_setup(options));
  }
  EXPECT_GE(load_preset("tiny_cs").portfolio.size(), 3u);
  EXPECT_GE(entries, 3u);
  EXPECT_GE(space_file_entries, 1u);
}

TEST(Presets, PortfolioEntriesAreCompletedFromTheDefaultsAndCheckedWhereTheyAreWritten) {
  TempDir dir;
  const std::string space = "hyperparameters:\n"
                            "  network:\n"
                            "    choices:\n"
                            "      mlpnet:\n"
                            "        num_units_1: {type: int, range: [4, 64], default: 8}\n"
                            "        num_layers: 1\n"
                            "      shapedmlpnet:\n"
                            "        max_units: {type: int, range: [4, 64], default: 16}\n"
                            "  optimizer:\n"
                            "    choices:\n"
                            "      adam:\n"
                            "        lr: {type: float, range: [1.0e-4, 0.1], log: true, default: 1.0e-3}\n";
  test::write_file(dir / "p.yaml", space + "portfolio:\n"
                                           "  - network: shapedmlpnet\n"
                                           "    network:shapedmlpnet:max_units: 40\n"
                                           "  - optimizer:adam:lr: 0.01\n");
  const auto setup = load_preset((dir / "p.yaml").string());
  ASSERT_EQ(setup.portfolio.size(), 2u);
  const auto& first = setup.portfolio[0];
  EXPECT_EQ(first.get_string("network"), "shapedmlpnet");
  EXPECT_EQ(first.get_int("network:shapedmlpnet:max_units"), 40);
  EXPECT_FALSE(first.contains("network:mlpnet:num_units_1")); // inactive under shapedmlpnet
  EXPECT_DOUBLE_EQ(first.get_double("optimizer:adam:lr"), 1e-3);
  EXPECT_EQ(setup.portfolio[1].get_int("network:mlpnet:num_units_1"), 8);
  EXPECT_DOUBLE_EQ(setup.portfolio[1].get_double("optimizer:adam:lr"), 0.01);

  // Bad entries are errors at their line.
  const auto fails = [&](const std::string& portfolio, std::vector<std::string> parts) {
    test::write_file(dir / "bad.yaml", space + "portfolio:\n" + portfolio);
    test::expect_input_error([&] { load_preset((dir / "bad.yaml").string()); }, std::move(parts));
  };
  fails("  - optimizer:adam:lrr: 0.01\n", {"bad.yaml:14:5", "unknown hyperparameter", "did you mean"});
  fails("  - network:mlpnet:num_units_1: 1000\n", {"bad.yaml:14:5", "out of range"});
  fails("  - network:shapedmlpnet:max_units: 40\n", {"bad.yaml:14:5", "inactive"});
  fails("  - {}\n", {"bad.yaml:14:5", "non-empty map"});
  fails("  optimizer:adam:lr: 0.01\n", {"bad.yaml:14:3", "expected a list"});
  fails("  - optimizer:adam:lr: 0.01\n    optimizer:adam:lr: 0.02\n", {"bad.yaml:15:5", "duplicate key"});

  // Updates that make an entry invalid leave it out, with a note; a replaced space drops the portfolio.
  test::write_file(dir / "narrow.yaml", "optimizer:adam:lr: {range: [1.0e-4, 1.0e-3]}\n");
  const auto updated = load_preset((dir / "p.yaml").string(), std::nullopt, {(dir / "narrow.yaml").string()});
  ASSERT_EQ(updated.portfolio.size(), 1u);
  EXPECT_EQ(updated.portfolio[0].get_string("network"), "shapedmlpnet");
  ASSERT_EQ(updated.portfolio_dropped.size(), 1u);
  EXPECT_THAT(updated.portfolio_dropped[0], HasSubstr("p.yaml:16:5"));
  test::write_file(dir / "derived.yaml", "preset: p.yaml\nbudget:\n  eta: 2\n");
  EXPECT_EQ(load_preset((dir / "derived.yaml").string()).portfolio.size(), 2u); // inherited
  test::write_file(dir / "own.yaml", "preset: p.yaml\n" + space);
  EXPECT_TRUE(load_preset((dir / "own.yaml").string()).portfolio.empty()); // its own space, no portfolio
  config::LoadOptions replaced;
  replaced.preset = (dir / "p.yaml").string();
  replaced.space_file = (dir / "own.yaml").string();
  test::write_file(dir / "own.yaml", space);
  EXPECT_TRUE(config::load_setup(replaced).portfolio.empty());
}
