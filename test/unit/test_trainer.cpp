#include "data/split.hpp"
#include "support/expect_error.hpp"
#include "support/test_files.hpp"
#include "support/tiny_data.hpp"
#include "train/runtime.hpp"
#include "train/trainer.hpp"

#include <cmath>
#include <filesystem>
#include <thread>

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
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"ckpt"});
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
