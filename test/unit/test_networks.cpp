#include "models/network.hpp"
#include "support/expect_error.hpp"
#include "train/pipeline.hpp"

using automl::core::Hyperparameters;
using automl::models::build_network;

namespace {

struct Built {
  torch::jit::Module module{"Test"};
  automl::models::NetworkInfo info;
};

std::unique_ptr<Built> build(const nlohmann::json& config, std::vector<std::int64_t> shape, std::int64_t classes = 3) {
  auto b = std::make_unique<Built>();
  b->module.register_attribute("training", c10::BoolType::get(), true);
  torch::manual_seed(0);
  b->info = build_network(Hyperparameters(config), {std::move(shape), classes}, b->module);
  return b;
}

std::vector<std::int64_t> output_shape(Built& b, std::vector<std::int64_t> input) {
  b.module.train(false);
  return b.module.get_method("net")({torch::randn(input)}).toTensor().sizes().vec();
}

} // namespace

// Parameter counts worked out by hand for each family (see the comments).
TEST(Networks, Mlpnet) {
  // Linear(4,8) + Linear(8,6) + Linear(6,3) = 40 + 54 + 21.
  auto b = build({{"network", "mlpnet"}, {"network:mlpnet:num_layers", 2}, {"network:mlpnet:num_units_1", 8},
                  {"network:mlpnet:num_units_2", 6}, {"network:mlpnet:use_dropout", true},
                  {"network:mlpnet:dropout_1", 0.2}},
                 {4});
  EXPECT_EQ(automl::train::parameter_count(b->module), 115);
  EXPECT_EQ(output_shape(*b, {5, 4}), (std::vector<std::int64_t>{5, 3}));
  EXPECT_EQ(b->info.description.front(), "Linear(in_features=4, out_features=8, bias=True)");
  EXPECT_NE(std::find(b->info.description.begin(), b->info.description.end(), "Dropout(p=0.2, inplace=False)"),
            b->info.description.end());
}

TEST(Networks, MlpnetWithBatchNorm) {
  // The 784-256-BN-256-BN-10 reference MLP: 200960 + 512 + 65792 + 512 + 2570.
  auto b = build({{"network", "mlpnet"}, {"num_layers", 2}, {"num_units_1", 256}, {"num_units_2", 256},
                  {"use_batch_norm", true}},
                 {784}, 10);
  EXPECT_EQ(automl::train::parameter_count(b->module), 270346);
  EXPECT_EQ(b->info.description[1], "BatchNorm1d(256, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
}

TEST(Networks, ShapedMlpnet) {
  // funnel(4 -> 3, max 16, 3 layers) = [16, 10, 3]: Linear(4,16) + Linear(16,10) + Linear(10,3) = 80 + 170 + 33.
  auto b = build({{"network", "shapedmlpnet"}, {"num_layers", 3}, {"max_units", 16}, {"mlp_shape", "funnel"}}, {4});
  EXPECT_EQ(automl::train::parameter_count(b->module), 283);
  EXPECT_EQ(output_shape(*b, {2, 4}), (std::vector<std::int64_t>{2, 3}));
}

TEST(Networks, ResnetSameWidth) {
  // Linear(4,8)=40; block: BN(8)=16, Linear(8,8)=72, BN(8)=16, Linear(8,8)=72; BN(8)=16; Linear(8,3)=27.
  auto b = build({{"network", "resnet"}, {"num_groups", 1}, {"blocks_per_group", 1}, {"num_units_0", 8}, {"num_units_1", 8}},
                 {4});
  EXPECT_EQ(automl::train::parameter_count(b->module), 259);
  EXPECT_EQ(output_shape(*b, {5, 4}), (std::vector<std::int64_t>{5, 3}));
}

TEST(Networks, ResnetProjectionShakeShakeAndShakeDrop) {
  // 8 -> 12: start BN(8)=16, shortcut Linear(8,12)=108, branch Linear(8,12)=108 + BN(12)=24 + Linear(12,12)=156;
  // stem 40, head BN(12)=24 + Linear(12,3)=39: 515. Shake-shake adds a second branch: + 288.
  const nlohmann::json config{{"network", "resnet"}, {"num_groups", 1}, {"blocks_per_group", 1}, {"num_units_0", 8},
                              {"num_units_1", 12}};
  EXPECT_EQ(automl::train::parameter_count(build(config, {4})->module), 515);
  auto shaken = config;
  shaken["use_shake_shake"] = true;
  shaken["use_shake_drop"] = true;
  auto b = build(shaken, {4});
  EXPECT_EQ(automl::train::parameter_count(b->module), 515 + 288);
  EXPECT_EQ(output_shape(*b, {6, 4}), (std::vector<std::int64_t>{6, 3}));
  // In training mode the shake noise makes two passes differ; in eval mode they agree.
  const auto x = torch::randn({6, 4});
  auto net = b->module.get_method("net");
  b->module.train(true);
  EXPECT_FALSE(torch::equal(net({x}).toTensor(), net({x}).toTensor()));
  b->module.train(false);
  EXPECT_TRUE(torch::equal(net({x}).toTensor(), net({x}).toTensor()));
}

TEST(Networks, ShapedResnetBrickEqualsResnet) {
  // brick(4 -> 3, max 8, groups + 2 = 3 layers) = [8, 8, 3] -> widths 8, 8: the same network as ResnetSameWidth.
  auto b = build({{"network", "shapedresnet"}, {"num_groups", 1}, {"blocks_per_group", 1}, {"max_units", 8},
                  {"resnet_shape", "brick"}},
                 {4});
  EXPECT_EQ(automl::train::parameter_count(b->module), 259);
}

TEST(Networks, Convnet) {
  // Conv2d(1,4,3)=40 on 8x8 -> 6x6, pool -> 3x3: 36 features; Linear(36,5)=185; Linear(5,3)=18.
  auto b = build({{"network", "convnet"}, {"num_conv_layers", 1}, {"conv_depth_0", 4}, {"conv_dropout", 0.25},
                  {"num_fc_layers", 1}, {"fc_output_feat_0", 5}, {"fc_dropout_0", 0.1}},
                 {1, 8, 8});
  EXPECT_EQ(automl::train::parameter_count(b->module), 243);
  EXPECT_EQ(output_shape(*b, {2, 1, 8, 8}), (std::vector<std::int64_t>{2, 3}));
}

TEST(Networks, ResnetCnn) {
  // stem conv 36 + BN 8; block 4->4: 144 + 8 + 144 + 8; block 4->8 stride 2: 288 + 16 + 576 + 16 + 1x1 32 + BN 16;
  // Linear(8,3) = 27.
  auto b = build({{"network", "residual_cnn"}, {"base_channels", 4}, {"num_stages", 2}, {"blocks_per_stage", 1}},
                 {1, 8, 8});
  EXPECT_EQ(automl::train::parameter_count(b->module), 1319);
  EXPECT_EQ(output_shape(*b, {3, 1, 8, 8}), (std::vector<std::int64_t>{3, 3}));
}

TEST(Networks, BadConfigurations) {
  using automl::test::expect_input_error;
  expect_input_error([] { build({{"network", "mlpnett"}}, {4}); },
                     {"network: unknown family 'mlpnett' (did you mean 'mlpnet'?); valid: convnet, mlpnet"});
  expect_input_error([] { build({{"network", "convnet"}, {"num_conv_layers", 1}, {"num_fc_layers", 1}}, {4}); },
                     {"'convnet' needs image data"});
  expect_input_error([] { build({{"network", "mlpnet"}, {"num_layers", 0}}, {4}); },
                     {"network:mlpnet:num_layers: must be in [1, 64], got 0"});
  expect_input_error([] { build({{"network", "mlpnet"}, {"num_layers", 1}}, {4}); },
                     {"network:mlpnet:num_units_1: required hyperparameter is not set"});
  expect_input_error([] { build({{"network", "mlpnet"}, {"num_layers", 1}, {"num_units_1", 4}, {"activation", "swish"}}, {4}); },
                     {"unknown activation 'swish'"});
  expect_input_error(
      [] {
        build({{"network", "convnet"}, {"num_conv_layers", 4}, {"conv_depth_0", 4}, {"conv_depth_1", 4}, {"conv_depth_2", 4},
               {"conv_depth_3", 4}, {"num_fc_layers", 1}, {"fc_output_feat_0", 4}},
              {1, 8, 8});
      },
      {"leave a 0x0 image"});
}
