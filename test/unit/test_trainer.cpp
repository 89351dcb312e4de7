#include "data/split.hpp"
#include "support/expect_error.hpp"
#include "support/test_files.hpp"
#include "support/tiny_data.hpp"
#include "train/runtime.hpp"
#include "train/trainer.hpp"

#include <ATen/autocast_mode.h>
#include <c10/util/Exception.h>
#include <torch/version.h>
#ifdef AUTOML_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using automl::core::Hyperparameters;
using namespace automl::train;

namespace {

const nlohmann::json k_mlp{{"network", "mlpnet"},   {"num_layers", 1},        {"num_units_1", 16},
                           {"optimizer", "adam"},   {"optimizer:adam:lr", 0.01}, {"batch_size", 32}};

struct Data {
  automl::data::Dataset train, validation;
};

Data blob_split(std::int64_t n = 300) {
  auto tv = automl::data::split_train_validation(automl::test::blobs(n, 4, 3), 0.2, 1);
  return {tv.train, tv.validation};
}

std::vector<torch::Tensor> weights(Trainer& t) {
  std::vector<torch::Tensor> out;
  for (const auto& p : t.pipeline().module.parameters()) out.push_back(p.detach().clone());
  return out;
}

bool same_weights(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

} // namespace

TEST(Trainer, LearnsSeparableBlobsAndReportsEachEpoch) {
  torch::set_num_threads(1);
  const auto d = blob_split();
  Trainer t(Hyperparameters(k_mlp), d.train, d.validation, 7);
  std::vector<double> epochs;
  const auto r = t.train({5, 0}, {[&](const EpochReport& e) {
                                    epochs.push_back(e.epoch);
                                    return true;
                                  },
                                  {}});
  EXPECT_EQ(r.status, TrainStatus::budget_reached);
  EXPECT_EQ(epochs, (std::vector<double>{1, 2, 3, 4, 5}));
  EXPECT_GT(r.val_accuracy, 0.95);
  EXPECT_DOUBLE_EQ(t.epochs_done(), 5.0);
  EXPECT_GT(t.evaluate(d.validation).accuracy, 0.95);
}

TEST(Trainer, SameSeedOneThreadSameWeightsBitForBit) {
  torch::set_num_threads(1);
  const auto d = blob_split();
  auto config = k_mlp;
  config["use_dropout"] = true;
  config["dropout_1"] = 0.3;
  Trainer a(Hyperparameters(config), d.train, d.validation, 3);
  Trainer b(Hyperparameters(config), d.train, d.validation, 3);
  Trainer c(Hyperparameters(config), d.train, d.validation, 4);
  a.train({2, 0});
  b.train({2, 0});
  c.train({2, 0});
  EXPECT_TRUE(same_weights(weights(a), weights(b)));
  EXPECT_FALSE(same_weights(weights(a), weights(c)));
}

// Trials running at once (--workers N) each draw from their own generator: initialisation, shuffles, mixup and
// dropout give the same weights as when each runs alone.
TEST(Trainer, TrialsRunningAtOnceGiveTheSameWeightsAsAlone) {
  torch::set_num_threads(1);
  const auto d = blob_split();
  auto config = k_mlp;
  config["use_dropout"] = true;
  config["dropout_1"] = 0.3;
  config["mixup_alpha"] = 0.4;
  const Hyperparameters hp(config);
  const auto alone = [&](std::uint64_t seed) {
    Trainer t(hp, d.train, d.validation, seed);
    t.train({3, 0});
    return weights(t);
  };
  const auto first = alone(3), second = alone(4);
  torch::rand({7}); // the global generator elsewhere: it does not matter
  std::vector<torch::Tensor> a, b;
  std::thread ta([&] { a = alone(3); });
  std::thread tb([&] { b = alone(4); });
  ta.join();
  tb.join();
  EXPECT_TRUE(same_weights(a, first));
  EXPECT_TRUE(same_weights(b, second));
}

TEST(Trainer, ACheckpointIsReplacedWholeAndLeavesNoTemporaryFiles) {
  const auto d = blob_split();
  automl::test::TempDir dir;
  const Hyperparameters hp(k_mlp);
  Trainer t(hp, d.train, d.validation, 5);
  t.train({1, 0});
  t.save_checkpoint(dir / "ckpt");
  t.train({2, 0});
  t.save_checkpoint(dir / "ckpt"); // over the first one
  EXPECT_DOUBLE_EQ(Trainer::resume(dir / "ckpt", hp, d.train, d.validation).epochs_done(), 2.0);
  EXPECT_EQ(automl::test::names_in(dir.path()), std::vector<std::string>{"ckpt"});
}

// A checkpoint without the optimizer's state (the largest rung's, which nothing continues from) is a model: it
// loads as one, and continuing from it is refused by name.
TEST(Trainer, ACheckpointWithoutTheOptimizerIsAModelOnly) {
  const auto d = blob_split();
  automl::test::TempDir dir;
  const Hyperparameters hp(k_mlp);
  Trainer t(hp, d.train, d.validation, 5);
  t.train({1, 0});
  t.save_checkpoint(dir / "full");
  t.save_checkpoint(dir / "model", false);
  EXPECT_EQ(automl::test::names_in(dir / "full"), (std::vector<std::string>{"optimizer.pt", "pipeline.pt", "state.json"}));
  EXPECT_EQ(automl::test::names_in(dir / "model"), (std::vector<std::string>{"pipeline.pt", "state.json"}));
  auto model = automl::train::load_checkpoint_pipeline(dir / "model");
  auto full = automl::train::load_checkpoint_pipeline(dir / "full");
  model.module.eval();
  full.module.eval();
  const auto x = d.validation.features.slice(0, 0, 8);
  EXPECT_TRUE(torch::equal(model.module.forward({x}).toTensor(), full.module.forward({x}).toTensor()));
  const auto message = automl::test::error_of([&] { Trainer::resume(dir / "model", hp, d.train, d.validation); });
  EXPECT_THAT(message, testing::HasSubstr((dir / "model").string() + ": the checkpoint holds a model only (no optimizer.pt)"));
}

TEST(Trainer, ContinuingFromACheckpointEqualsTrainingStraightThrough) {
  torch::set_num_threads(1);
  const auto d = blob_split();
  automl::test::TempDir dir;
  auto config = k_mlp;
  config["lr_scheduler"] = "cosine_annealing";
  config["T_max"] = 4;
  const Hyperparameters hp(config);
  Trainer straight(hp, d.train, d.validation, 5);
  straight.train({3, 0});
  {
    Trainer first(hp, d.train, d.validation, 5);
    first.train({1, 0});
    first.save_checkpoint(dir / "ckpt");
  }
  auto resumed = Trainer::resume(dir / "ckpt", hp, d.train, d.validation);
  EXPECT_DOUBLE_EQ(resumed.epochs_done(), 1.0);
  const auto r = resumed.train({3, 0});
  EXPECT_EQ(r.history.size(), 2u); // epochs 2 and 3 only
  EXPECT_TRUE(same_weights(weights(straight), weights(resumed)));
  auto other = config;
  other["optimizer:adam:lr"] = 0.02;
  EXPECT_THROW(Trainer::resume(dir / "ckpt", Hyperparameters(other), d.train, d.validation), automl::Error);
}

TEST(Trainer, FractionalEpochs) {
  const auto d = blob_split();
  Trainer t(Hyperparameters(k_mlp), d.train, d.validation, 1);
  const auto r = t.train({0.5, 0});
  ASSERT_EQ(r.history.size(), 1u);
  // 240 samples in batches of 32 = 8 batches per epoch; half of it is 4 batches.
  EXPECT_DOUBLE_EQ(r.history[0].epoch, 0.5);
  t.train({1.5, 0});
  EXPECT_DOUBLE_EQ(t.epochs_done(), 1.5);
}

TEST(Trainer, AScaledScheduleAnnealsWithinAFractionOfAnEpoch) {
  // Cosine over 10 schedule epochs, one schedule epoch = 0.05 training epochs: annealed by half an epoch.
  const auto d = blob_split();
  auto config = k_mlp;
  config["lr_scheduler"] = "cosine_annealing";
  config["T_max"] = 10;
  Trainer t(Hyperparameters(config), d.train, d.validation, 1);
  t.set_schedule_scale(0.05);
  const auto r = t.train({0.5, 0});
  ASSERT_EQ(r.history.size(), 1u);
  // The last of 4 batches started at 3/8 of an epoch = 7.5 schedule epochs: lr = 0.01 (1 + cos(0.75 pi)) / 2.
  EXPECT_NEAR(r.history[0].lr, 0.01 * (1 + std::cos(0.75 * 3.14159265358979323846)) / 2, 1e-12);
  // Unscaled, the rate stays at its epoch-0 value for the whole first epoch.
  Trainer plain(Hyperparameters(config), d.train, d.validation, 1);
  EXPECT_DOUBLE_EQ(plain.train({0.5, 0}).history[0].lr, 0.01);
  EXPECT_THROW(t.set_schedule_scale(0), automl::Error);
}

TEST(Trainer, CallbackStopsAndShouldStopInterrupts) {
  const auto d = blob_split();
  Trainer t(Hyperparameters(k_mlp), d.train, d.validation, 1);
  auto r = t.train({10, 0}, {[](const EpochReport& e) { return e.epoch < 2; }, {}});
  EXPECT_EQ(r.status, TrainStatus::stopped);
  EXPECT_DOUBLE_EQ(t.epochs_done(), 2.0);
  int polls = 0;
  r = t.train({10, 0}, {{}, [&] { return ++polls > 3; }});
  EXPECT_EQ(r.status, TrainStatus::stopped);
  EXPECT_DOUBLE_EQ(t.epochs_done(), 2.0 + 3.0 / 8.0); // three more batches, then the stop
  EXPECT_EQ(r.history.size(), 1u);                    // evaluated on what it reached
  polls = 0;
  TrainCallbacks no_evaluation{{}, [&] { return ++polls > 2; }, [] { return false; }};
  r = t.train({10, 0}, no_evaluation);
  EXPECT_EQ(r.status, TrainStatus::stopped);
  EXPECT_DOUBLE_EQ(t.epochs_done(), 2.0 + 5.0 / 8.0);
  EXPECT_TRUE(r.history.empty()); // stopped without a validation pass
  // Asked at the cut, and evaluated when it says so: the report is at the fraction reached.
  polls = 0;
  int asked = 0;
  TrainCallbacks evaluate_when_asked{{}, [&] { return ++polls > 1; }, [&] { return ++asked > 0; }};
  r = t.train({10, 0}, evaluate_when_asked);
  EXPECT_EQ(asked, 1);
  ASSERT_EQ(r.history.size(), 1u);
  EXPECT_DOUBLE_EQ(r.history[0].epoch, 2.0 + 6.0 / 8.0);
  EXPECT_TRUE(std::isfinite(r.val_accuracy));
}

TEST(Trainer, SecondsBudget) {
  const auto d = blob_split();
  Trainer t(Hyperparameters(k_mlp), d.train, d.validation, 1);
  const auto r = t.train({0, 0.3});
  EXPECT_EQ(r.status, TrainStatus::budget_reached);
  EXPECT_GE(t.seconds_trained(), 0.3);
  EXPECT_GT(t.epochs_done(), 0.0);
}

TEST(Trainer, DivergingLossFailsWithAMessage) {
  auto config = k_mlp;
  config["optimizer"] = "sgd";
  config["optimizer:sgd:lr"] = 100.0;
  config.erase("optimizer:adam:lr");
  auto d = blob_split();
  d.train.features.mul_(1e6);
  Trainer t(Hyperparameters(config), d.train, d.validation, 1);
  const auto r = t.train({20, 0});
  EXPECT_EQ(r.status, TrainStatus::failed);
  EXPECT_NE(r.message.find("training diverged: loss is"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find(", by batch "), std::string::npos) << r.message;
}

TEST(Trainer, WeightedLossMixupAndImageNetworks) {
  const auto images = automl::test::quadrant_images(120);
  const auto tv = automl::data::split_train_validation(images, 0.25, 1);
  const nlohmann::json config{{"network", "residual_cnn"},
                              {"base_channels", 4},
                              {"num_stages", 2},
                              {"blocks_per_stage", 1},
                              {"optimizer", "adamw"},
                              {"lr", 0.01},
                              {"batch_size", 16},
                              {"loss", "cross_entropy_weighted"},
                              {"mixup_alpha", 0.2}};
  Trainer t(Hyperparameters(config), tv.train, tv.validation, 2);
  const auto r = t.train({8, 0});
  EXPECT_EQ(r.status, TrainStatus::budget_reached);
  EXPECT_GT(r.val_accuracy, 0.9);
}

// Every image comes out as itself moved by its own offsets (all its channels alike), the uncovered border filled
// with its edge pixels.
TEST(Trainer, ShiftedImagesAreTheImagesMovedByTheirOffsets) {
  namespace F = torch::nn::functional;
  const std::int64_t shift = 2;
  const auto x = torch::rand({25, 2, 6, 7});
  const auto grid = torch::arange(25, torch::kInt64);
  const auto offsets = torch::stack({grid.div(5, "floor") - 2, grid.remainder(5) - 2}); // every pair once
  const auto shifted = shift_images(x, shift, offsets);
  ASSERT_EQ(shifted.sizes(), x.sizes());
  const auto padded = F::pad(x, F::PadFuncOptions({shift, shift, shift, shift}).mode(torch::kReplicate));
  for (std::int64_t i = 0; i < x.size(0); ++i) {
    const auto dy = offsets[0][i].item<std::int64_t>(), dx = offsets[1][i].item<std::int64_t>();
    EXPECT_TRUE(torch::equal(shifted[i], padded[i].narrow(1, dy + shift, 6).narrow(2, dx + shift, 7))) << "image " << i;
  }
  // Spelled out for one image: moved down by one row and left by two columns, the last columns and the first
  // row repeat the edge.
  const auto one = torch::arange(12, torch::kFloat32).view({1, 1, 3, 4});
  const auto moved = shift_images(one, 2, torch::tensor({{-1}, {2}}, torch::kInt64));
  EXPECT_TRUE(torch::equal(moved.view({3, 4}),
                           torch::tensor({{2, 3, 3, 3}, {2, 3, 3, 3}, {6, 7, 7, 7}}, torch::kFloat32)))
      << moved;
}

// random_shift moves the training images (other weights than without it), the same seed giving the same weights,
// and the network still learns; validation sees the images unmoved.
TEST(Trainer, RandomShiftTrainsImageNetworksOnMovedImages) {
  torch::set_num_threads(1);
  const auto tv = automl::data::split_train_validation(automl::test::quadrant_images(160, 12), 0.25, 1);
  nlohmann::json config{{"network", "residual_cnn"}, {"base_channels", 4}, {"num_stages", 2}, {"blocks_per_stage", 1},
                        {"optimizer", "adamw"},      {"lr", 0.01},         {"batch_size", 16}};
  const auto trained = [&](std::int64_t shift, double* accuracy = nullptr) {
    config["random_shift"] = shift;
    Trainer t(Hyperparameters(config), tv.train, tv.validation, 2);
    const auto r = t.train({6, 0});
    if (accuracy) *accuracy = r.val_accuracy;
    return weights(t);
  };
  double accuracy = 0;
  const auto shifted = trained(1, &accuracy);
  EXPECT_GT(accuracy, 0.9);
  EXPECT_TRUE(same_weights(trained(1), shifted));
  EXPECT_FALSE(same_weights(trained(0), shifted));
}

TEST(Trainer, BadTrainingSettings) {
  using automl::test::expect_input_error;
  const auto d = blob_split();
  auto config = k_mlp;
  config["batch_size"] = 0;
  expect_input_error([&] { Trainer(Hyperparameters(config), d.train, d.validation, 1); }, {"batch_size: must be >= 1, got 0"});
  config = k_mlp;
  config["loss"] = "hinge";
  expect_input_error([&] { Trainer(Hyperparameters(config), d.train, d.validation, 1); },
                     {"loss: unknown 'hinge'; valid: cross_entropy, cross_entropy_weighted"});
  config = k_mlp;
  config["random_shift"] = 2;
  expect_input_error([&] { Trainer(Hyperparameters(config), d.train, d.validation, 1); },
                     {"random_shift: moves images, but this network takes flattened or tabular samples"});
  const auto images = automl::test::quadrant_images(40);
  const nlohmann::json cnn{{"network", "residual_cnn"}, {"base_channels", 4}, {"num_stages", 2}, {"blocks_per_stage", 1}};
  for (const auto& [shift, message] : std::vector<std::pair<int, std::string>>{
           {-1, "random_shift: must be >= 0, got -1"}, {4, "random_shift: 4 pixels is too far for images of 8 x 8; at most 3"}}) {
    auto bad = cnn;
    bad["random_shift"] = shift;
    expect_input_error([&] { Trainer(Hyperparameters(bad), images, images, 1); }, {message});
  }
  Trainer t(Hyperparameters(k_mlp), d.train, d.validation, 1);
  expect_input_error([&] { t.train({1, 1}); }, {"exactly one of epochs or seconds"});
}

// On a GPU: the same training reaches the same quality, and the model exported from it (moved to the CPU)
// reproduces the GPU predictions. Skipped where LibTorch has no CUDA or no GPU is visible.
TEST(Trainer, TrainsOnTheGpuAndExportsForTheCpu_CUDA) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto d = blob_split();
  Trainer t(Hyperparameters(k_mlp), d.train, d.validation, 7, torch::Device(torch::kCUDA, 0));
  const auto r = t.train({5, 0});
  EXPECT_EQ(r.status, TrainStatus::budget_reached);
  EXPECT_GT(r.val_accuracy, 0.95);
  const auto gpu_predictions = t.evaluate(d.validation).predictions.cpu();
  auto& module = t.pipeline().module;
  module.to(torch::kCPU);
  module.train(false);
  torch::NoGradGuard no_grad;
  const auto cpu_predictions = module.forward({d.validation.features}).toTensor().argmax(1);
  EXPECT_TRUE(torch::equal(gpu_predictions, cpu_predictions));
}

// --device: the forms a user types, and the errors for the others, before anything asks for a GPU.
TEST(Runtime, DevicesParseAndBadOnesNameTheFlag) {
  using automl::test::expect_input_error;
  EXPECT_EQ(parse_device("cpu"), torch::Device(torch::kCPU));
  EXPECT_EQ(parse_device("auto"), torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU));
  for (const char* bad : {"gpu", "CPU", "", "cuda0", "cuda:", "cuda:x", "cuda:-1", "cuda:01", "cuda:1,2", "cuda:99999"})
    expect_input_error([&] { parse_device(bad); }, {"--device"});
  expect_input_error([&] { parse_device("tpu"); }, {"unknown 'tpu'", "valid: auto, cpu, cuda, cuda:<index>"});
  expect_input_error([&] { parse_device("cuda:abc"); }, {"expected cuda:<index>"});
  if (!torch::cuda::is_available()) {
    expect_input_error([&] { parse_device("cuda"); }, {"--device cuda: this LibTorch has no CUDA or no GPU is visible"});
    expect_input_error([&] { parse_device("cuda:1"); }, {"no CUDA"});
  }
}

TEST(Runtime, CudaDevicesParse_CUDA) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  EXPECT_EQ(parse_device("cuda"), torch::Device(torch::kCUDA, 0));
  EXPECT_EQ(parse_device("cuda:0"), torch::Device(torch::kCUDA, 0));
  const auto count = static_cast<int>(torch::cuda::device_count());
  automl::test::expect_input_error([&] { parse_device("cuda:" + std::to_string(count)); }, {"GPU(s) visible"});
}

// --device with several GPUs: every element is read (and a bad one named) before CUDA is asked.
TEST(Runtime, DeviceListsParseAndBadOnesNameTheFlag) {
  using automl::test::expect_input_error;
  EXPECT_EQ(parse_devices("cpu"), std::vector<torch::Device>{torch::kCPU});
  expect_input_error([&] { parse_devices("cuda:0,cuda:x"); }, {"--device cuda:x", "expected cuda:<index>"});
  expect_input_error([&] { parse_devices("cuda:0,01"); }, {"--device", "expected cuda:<index>"});
  expect_input_error([&] { parse_devices("cuda:0,0"); }, {"--device cuda:0,0: cuda:0 is named twice"});
  expect_input_error([&] { parse_devices("cuda:1,cuda:0,1"); }, {"cuda:1 is named twice"});
  for (const char* mixed : {"cpu,cuda:0", "cuda:0,cpu", "cuda:0,auto", "cuda,1"})
    expect_input_error([&] { parse_devices(mixed); }, {"several devices are GPUs by number (cuda:0,1)"});
  expect_input_error([&] { parse_devices("cuda:0,"); }, {"--device"});
  expect_input_error([&] { parse_devices("cuda:0,tpu"); }, {"unknown 'tpu'"});
  if (!torch::cuda::is_available()) expect_input_error([&] { parse_devices("cuda:0,1"); }, {"--device cuda:0: this LibTorch has no CUDA"});
  EXPECT_EQ(device_names({torch::kCPU, torch::Device(torch::kCUDA, 1)}), (std::vector<std::string>{"cpu", "cuda:1"}));
}

TEST(Runtime, CudaDeviceListsParse_CUDA) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto count = static_cast<int>(torch::cuda::device_count());
  EXPECT_EQ(parse_devices("cuda:0"), std::vector<torch::Device>{torch::Device(torch::kCUDA, 0)});
  if (count >= 2) {
    EXPECT_EQ(parse_devices("cuda:0,1"), (std::vector<torch::Device>{torch::Device(torch::kCUDA, 0), torch::Device(torch::kCUDA, 1)}));
    EXPECT_EQ(parse_devices("cuda:1,cuda:0"), (std::vector<torch::Device>{torch::Device(torch::kCUDA, 1), torch::Device(torch::kCUDA, 0)}));
  }
  automl::test::expect_input_error([&] { parse_devices("cuda:0," + std::to_string(count)); }, {"GPU(s) visible"});
}

TEST(Runtime, PrecisionsParseAndBadOnesNameTheFlag) {
  using automl::test::expect_input_error;
  EXPECT_EQ(parse_precision("fp32"), Precision::fp32);
  EXPECT_EQ(parse_precision("bf16"), Precision::bf16);
  EXPECT_EQ(parse_precision("fp16"), Precision::fp16);
  EXPECT_STREQ(precision_name(Precision::bf16), "bf16");
  for (const char* bad : {"", "FP32", "fp8", "half", "amp"})
    expect_input_error([&] { parse_precision(bad); }, {"--precision: unknown", "valid: fp32, bf16, fp16"});
  check_precision(Precision::bf16, torch::kCPU);
  check_precision(Precision::fp32, torch::kCPU);
#if TORCH_VERSION_MAJOR < 2
  expect_input_error([&] { check_precision(Precision::fp16, torch::kCPU); }, {"--precision fp16", "bf16 only"});
  const auto d = blob_split();
  Trainer t(Hyperparameters(k_mlp), d.train, d.validation, 1);
  expect_input_error([&] { t.set_precision(Precision::fp16); }, {"--precision fp16"});
#endif
}

// bf16 autocast on the CPU: the forward passes in bf16 train as well as fp32 on easy data; the weights (what is
// exported) stay fp32, and autocast is off again after training.
TEST(Trainer, TrainsWithBf16AutocastAndKeepsFp32Weights) {
  const auto d = blob_split();
  Trainer t(Hyperparameters(k_mlp), d.train, d.validation, 7);
  t.set_precision(Precision::bf16);
  const auto r = t.train({5, 0});
  EXPECT_EQ(r.status, TrainStatus::budget_reached);
  EXPECT_GT(r.val_accuracy, 0.95);
  EXPECT_TRUE(std::isfinite(r.val_loss));
  for (const auto& p : t.pipeline().module.parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat32);
  EXPECT_EQ(t.validation_probabilities().scalar_type(), torch::kFloat32);
  {
    AutocastGuard guard(torch::kCPU, Precision::bf16);
    const auto y = torch::mm(torch::ones({2, 2}), torch::ones({2, 2}));
    EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(torch::mm(torch::ones({2, 2}), torch::ones({2, 2})).scalar_type(), torch::kFloat32);
}

// On a GPU, bf16 and fp16 (with its loss scale) train to the same quality; the model moved to the CPU (fp32
// weights, no autocast) predicts what the GPU's fp32 pass predicts.
TEST(Trainer, MixedPrecisionOnTheGpu_CUDA) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto d = blob_split();
  for (const auto precision : {Precision::bf16, Precision::fp16}) {
    SCOPED_TRACE(precision_name(precision));
    Trainer t(Hyperparameters(k_mlp), d.train, d.validation, 7, torch::Device(torch::kCUDA, 0));
    t.set_precision(precision);
    const auto r = t.train({5, 0});
    EXPECT_EQ(r.status, TrainStatus::budget_reached);
    EXPECT_GT(r.val_accuracy, 0.95);
    for (const auto& p : t.pipeline().module.parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat32);
    t.set_precision(Precision::fp32);
    const auto gpu_predictions = t.evaluate(d.validation).predictions.cpu();
    auto& module = t.pipeline().module;
    module.to(torch::kCPU);
    module.train(false);
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(gpu_predictions, module.forward({d.validation.features}).toTensor().argmax(1)));
  }
}

TEST(Runtime, OutOfMemoryIsRecognisedByTypeAndMessage) {
  try {
    TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory. Tried to allocate 2.00 GiB");
  } catch (const std::exception& e) {
    EXPECT_TRUE(is_out_of_memory(e));
  }
  EXPECT_TRUE(is_out_of_memory(std::runtime_error("The following operation failed in the TorchScript interpreter.\n"
                                                  "RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB")));
  EXPECT_TRUE(is_out_of_memory(std::runtime_error("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate")));
  EXPECT_FALSE(is_out_of_memory(std::runtime_error("shape mismatch")));
  release_cached_memory(torch::kCPU); // nothing to do, and no error
}

// A real allocation the GPU cannot hold is recognised, and the cache it leaves is given back.
TEST(Runtime, OutOfMemoryOnTheGpuIsRecognisedAndReleased_CUDA) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Device gpu(torch::kCUDA, 0);
  bool recognised = false;
  try {
    const auto huge = torch::empty({std::int64_t{1} << 45}, torch::TensorOptions().dtype(torch::kFloat32).device(gpu)); // 128 TiB
    ADD_FAILURE() << "allocated " << huge.numel() << " floats";
  } catch (const std::exception& e) {
    recognised = is_out_of_memory(e);
  }
  EXPECT_TRUE(recognised);
  EXPECT_EQ(torch::ones({std::int64_t{1} << 28}, torch::TensorOptions().device(gpu)).numel(), std::int64_t{1} << 28); // 1 GiB, then cached
#ifdef AUTOML_WITH_CUDA
  const auto reserved = [] {
    return c10::cuda::CUDACachingAllocator::getDeviceStats(0).reserved_bytes[0].current;
  };
  EXPECT_GE(reserved(), std::int64_t{1} << 30);
  release_cached_memory(gpu);
  EXPECT_LT(reserved(), std::int64_t{1} << 30);
#endif
}
