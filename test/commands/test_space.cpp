#include "commands/space.hpp"
#include "support/expect_error.hpp"
#include "support/test_files.hpp"

#include <nlohmann/json.hpp>

#include <regex>
#include <sstream>

using namespace automl;
using automl::test::TempDir;
using testing::HasSubstr;
using testing::Not;

namespace {

commands::SpaceOptions preset(const std::string& name) {
  commands::SpaceOptions options;
  options.preset = name;
  return options;
}

std::string run_space(const commands::SpaceOptions& options, int expected_exit = 0) {
  std::ostringstream out;
  EXPECT_EQ(commands::space(options, out), expected_exit);
  return out.str();
}

// The listing line of one hyperparameter, with runs of spaces squeezed to one.
std::string line_of(const std::string& listing, const std::string& name) {
  std::istringstream in(listing);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("  " + name + " ", 0) == 0) return std::regex_replace(line.substr(2), std::regex(" +"), " ");
  return "";
}

} // namespace

TEST(SpaceCommand, TinyCsShowsSixFreeHyperparametersAndTheConstants) {
  const auto text = run_space(preset("tiny_cs"));
  EXPECT_THAT(text, HasSubstr("6 free hyperparameters (dimensions), 15 constants, 0 forbidden clauses\n"));
  EXPECT_EQ(line_of(text, "network:shapedresnet:num_groups"), "network:shapedresnet:num_groups int [1, 9] default 2");
  EXPECT_EQ(line_of(text, "network:shapedresnet:blocks_per_group"), "network:shapedresnet:blocks_per_group int [1, 4] default 2");
  EXPECT_EQ(line_of(text, "network:shapedresnet:max_units"), "network:shapedresnet:max_units int [10, 1024] log default 128");
  EXPECT_EQ(line_of(text, "optimizer:sgd:lr"), "optimizer:sgd:lr float [0.0001, 0.1] log default 0.01");
  EXPECT_EQ(line_of(text, "optimizer:sgd:momentum"), "optimizer:sgd:momentum float [0.1, 0.999] default 0.9");
  EXPECT_EQ(line_of(text, "optimizer:sgd:weight_decay"), "optimizer:sgd:weight_decay float [1e-05, 0.1] default 0.0001");
  EXPECT_EQ(line_of(text, "network"), "network constant shapedresnet");
  EXPECT_EQ(line_of(text, "network:shapedresnet:resnet_shape"), "network:shapedresnet:resnet_shape constant brick");
  EXPECT_EQ(line_of(text, "batch_size"), "batch_size constant 125");
  EXPECT_EQ(line_of(text, "lr_scheduler:cosine_annealing:T_max"), "lr_scheduler:cosine_annealing:T_max constant 10");
  EXPECT_EQ(line_of(text, "loss"), "loss constant cross_entropy_weighted");
  EXPECT_THAT(text, HasSubstr("\n[network]\n"));
  EXPECT_THAT(text, HasSubstr("\n[optimizer]\n"));
  EXPECT_THAT(text, HasSubstr("budget      budget_type epochs, min_budget 1, max_budget 27, eta 3, typical_pace 4, portfolio_to_largest_rung false\n"));
}

TEST(SpaceCommand, ConditionsAreShown) {
  const auto text = run_space(preset("medium_cs"));
  EXPECT_EQ(line_of(text, "network:mlpnet:dropout_2"),
            "network:mlpnet:dropout_2 float [0, 0.5] default 0.2 if network == mlpnet && network:mlpnet:num_layers >= 2 && "
            "network:mlpnet:use_dropout == true");
}

TEST(SpaceCommand, SpaceUpdateNarrowingLrChangesThePrintedRangeAndTheSamples) {
  TempDir dir;
  test::write_file(dir / "narrow_lr.yaml", "optimizer:sgd:lr: {range: [1.0e-3, 1.0e-2]}\n");
  auto options = preset("tiny_cs");
  options.space_updates = {(dir / "narrow_lr.yaml").string()};
  const auto text = run_space(options);
  EXPECT_EQ(line_of(text, "optimizer:sgd:lr"), "optimizer:sgd:lr float [0.001, 0.01] log default 0.01");
  EXPECT_THAT(text, HasSubstr("narrow_lr.yaml"));

  options.json = true;
  options.sample = 500;
  options.seed = 11;
  const auto j = nlohmann::json::parse(run_space(options));
  ASSERT_EQ(j["samples"].size(), 500u);
  for (const auto& s : j["samples"]) {
    const double lr = s["optimizer:sgd:lr"];
    EXPECT_GE(lr, 1e-3);
    EXPECT_LE(lr, 1e-2);
  }
}

TEST(SpaceCommand, JsonForTools) {
  auto options = preset("tiny_cs");
  options.json = true;
  const auto j = nlohmann::json::parse(run_space(options));
  EXPECT_EQ(j["space"], "tiny_cs");
  EXPECT_EQ(j["dimensions"], 6);
  EXPECT_EQ(j["fingerprint"].get<std::string>().size(), 16u);
  EXPECT_EQ(j["hyperparameters"].size(), 21u);
  EXPECT_EQ(j["run_config"]["budget"]["eta"], 3.0);
  EXPECT_EQ(j["default_config"]["batch_size"], 125);
  const auto& max_units = j["hyperparameters"][7];
  EXPECT_EQ(max_units["name"], "network:shapedresnet:max_units");
  EXPECT_EQ(max_units["type"], "int");
  EXPECT_EQ(max_units["lower"], 10);
  EXPECT_EQ(max_units["upper"], 1024);
  EXPECT_EQ(max_units["log"], true);
  EXPECT_EQ(max_units["default"], 128);
}

TEST(SpaceCommand, SpaceFileWithoutPreset) {
  commands::SpaceOptions options;
  options.space_file = "convnet_optuna";
  const auto text = run_space(options);
  EXPECT_THAT(text, HasSubstr("13 free hyperparameters (dimensions), 5 constants, 0 forbidden clauses\n"));
  EXPECT_EQ(line_of(text, "network:convnet:conv_depth_3"),
            "network:convnet:conv_depth_3 int [16, 64] default 32 if network:convnet:num_conv_layers > 3");
  EXPECT_EQ(line_of(text, "optimizer"), "optimizer categorical [adam, adadelta, rmsprop, sgd] default adam");
  // The portfolio entry shows what it changes, not the defaults it was completed with.
  EXPECT_THAT(text, HasSubstr("after the default; what differs from it)\n  {\"network:convnet:conv_depth_1\":64,"
                              "\"network:convnet:conv_depth_2\":64,\"network:convnet:num_conv_layers\":3}\n"));
}

TEST(SpaceCommand, ImageDataPicksTheImageVariant) {
  TempDir dir;
  // Four 2x2 images: an IDX pair makes an image data set.
  test::write_idx(dir / "images", 0x08, {4, 2, 2}, std::string(16, '\x01'));
  test::write_idx(dir / "labels", 0x08, {4}, std::string{0, 1, 0, 1});
  auto options = preset("tiny_cs");
  options.data = (dir / "images").string() + "," + (dir / "labels").string();
  const auto text = run_space(options);
  EXPECT_THAT(text, HasSubstr("presets/image/tiny_cs.yaml"));
  EXPECT_THAT(text, HasSubstr("kind        image\n"));
  EXPECT_THAT(text, HasSubstr("network:residual_cnn:base_channels"));
  // Feature data keeps the feature preset.
  test::write_file(dir / "d.csv", "a,b,y\n1,2,x\n3,4,z\n");
  options.data = (dir / "d.csv").string();
  EXPECT_THAT(run_space(options), HasSubstr("6 free hyperparameters (dimensions), 15 constants"));
}

TEST(SpaceCommand, CheckAConfiguration) {
  TempDir dir;
  test::write_file(dir / "good.yaml", R"(network:shapedresnet:num_groups: 3
network:shapedresnet:blocks_per_group: 2
network:shapedresnet:max_units: 256
optimizer:sgd:lr: 0.01
optimizer:sgd:momentum: 0.9
optimizer:sgd:weight_decay: 0.001
batch_size: 125
)");
  auto options = preset("tiny_cs");
  options.check = (dir / "good.yaml").string();
  EXPECT_EQ(run_space(options), options.check + ": valid (7 hyperparameters)\n");

  test::write_file(dir / "bad.yaml", R"(network:shapedresnet:num_groups: 12
network:shapedresnet:blocks_per_group: 2
network:shapedresnet:max_units: 256
network:mlpnet:num_layers: 3
optimizer:sgd:lr: 0.01
optimizer:sgd:momentum: 0.9
batch_size: 64
)");
  options.check = (dir / "bad.yaml").string();
  EXPECT_EQ(run_space(options, 2), options.check + ": 4 problems\n"
                                                   "  network:mlpnet:num_layers: unknown hyperparameter\n"
                                                   "  network:shapedresnet:num_groups: 12 is out of range [1, 9]\n"
                                                   "  optimizer:sgd:weight_decay: missing\n"
                                                   "  batch_size: must be the constant 125, got 64\n");
  options.json = true;
  const auto j = nlohmann::json::parse(run_space(options, 2));
  EXPECT_EQ(j["valid"], false);
  EXPECT_EQ(j["problems"].size(), 4u);
}

TEST(SpaceCommand, InactiveParametersInACheckedConfiguration) {
  TempDir dir;
  test::write_file(dir / "c.yaml", R"(network:convnet:num_conv_layers: 2
network:convnet:conv_depth_0: 32
network:convnet:conv_depth_1: 32
network:convnet:conv_depth_3: 32
network:convnet:conv_dropout: 0.2
network:convnet:num_fc_layers: 1
network:convnet:fc_output_feat_0: 20
network:convnet:fc_dropout_0: 0.2
optimizer: adam
lr: 0.001
)");
  commands::SpaceOptions options;
  options.space_file = "convnet_optuna";
  options.check = (dir / "c.yaml").string();
  EXPECT_THAT(run_space(options, 2),
              HasSubstr("  network:convnet:conv_depth_3: inactive: network:convnet:num_conv_layers > 3 does not hold "
                        "(network:convnet:num_conv_layers is 2)\n"));
}

TEST(SpaceCommand, UsageErrors) {
  commands::SpaceOptions none;
  test::expect_input_error([&] { run_space(none); }, {"give a preset (--preset NAME|FILE) or a search-space file (--space FILE)"});
  test::expect_input_error([&] { run_space(preset("tiny")); }, {"unknown preset 'tiny'"});
  auto options = preset("tiny_cs");
  options.check = "/nonexistent/config.yaml";
  test::expect_input_error([&] { run_space(options); }, {"/nonexistent/config.yaml: cannot read the file"});
}
