// Training and inference throughput of our trainer on two reference models, on MNIST:
//   mlp: Linear(784,256)-BatchNorm-ReLU-Linear(256,256)-BatchNorm-ReLU-Linear(256,10), Adam, batch 128
//   cnn: the PyTorch MNIST example (conv 32, conv 64, max-pool, dropout 0.25, fc 128, dropout 0.5, fc 10), Adam,
//        batch 128 (our convnet family with those values)
// Prints one JSON object. bench/run_train_throughput runs it next to PyTorch from Python
// (bench/train_throughput.py) and writes bench/results/train_throughput.json.
//
//   train_throughput --model mlp|cnn --threads N --samples N --epochs E [--device cpu|cuda]

#include "core/blas.hpp"
#include "data/source.hpp"
#include "train/runtime.hpp"
#include "train/trainer.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <map>
#include <string>

using namespace automl;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

} // namespace

int main(int argc, char** argv) {
  core::use_best_blas_kernel(argv);
  std::map<std::string, std::string> args{{"model", "mlp"}, {"threads", "1"}, {"samples", "20000"}, {"epochs", "2"},
                                        {"device", "cpu"}};
  for (int i = 1; i + 1 < argc; i += 2) args[std::string(argv[i]).substr(2)] = argv[i + 1];
  const int threads = train::configure_threads(std::stoi(args["threads"]));
  const auto samples = std::stoll(args["samples"]);
  const double epochs = std::stod(args["epochs"]);
  const torch::Device device = train::parse_device(args["device"]);

  auto mnist = data::load_source("mnist");
  std::vector<std::int64_t> rows(static_cast<std::size_t>(samples));
  for (std::int64_t i = 0; i < samples; ++i) rows[static_cast<std::size_t>(i)] = i;
  const auto train_set = mnist.subset(rows);
  const auto empty = mnist.subset({});

  nlohmann::json config;
  if (args["model"] == "cnn") {
    config = {{"network", "convnet"},   {"num_conv_layers", 2}, {"conv_depth_0", 32}, {"conv_depth_1", 64},
              {"conv_dropout", 0.25},   {"num_fc_layers", 1},   {"fc_output_feat_0", 128}, {"fc_dropout_0", 0.5},
              {"optimizer", "adam"},    {"lr", 1e-3},           {"batch_size", 128}};
  } else {
    config = {{"network", "mlpnet"}, {"num_layers", 2},    {"num_units_1", 256}, {"num_units_2", 256},
              {"use_batch_norm", true}, {"optimizer", "adam"}, {"lr", 1e-3},        {"batch_size", 128},
              {"scaling", "none"}};
  }
  train::Trainer trainer(core::Hyperparameters(config), train_set, empty, 0, device);
  const auto inputs = train_set.features.to(device);
  const auto start = std::chrono::steady_clock::now();
  trainer.train({epochs, 0});
  if (device.is_cuda()) torch::cuda::synchronize();
  const double train_seconds = seconds_since(start);

  auto& module = trainer.pipeline().module;
  module.train(false);
  torch::NoGradGuard no_grad;
  const auto infer_start = std::chrono::steady_clock::now();
  for (std::int64_t s = 0; s < samples; s += 1000)
    module.forward({inputs.narrow(0, s, std::min<std::int64_t>(1000, samples - s))});
  if (device.is_cuda()) torch::cuda::synchronize();
  const double infer_seconds = seconds_since(infer_start);

  std::cout << nlohmann::json{{"impl", "automl"},
                              {"model", args["model"]},
                              {"threads", threads},
                              {"device", device.str()},
                              {"samples", samples},
                              {"epochs", epochs},
                              {"train_samples_per_s", static_cast<double>(samples) * epochs / train_seconds},
                              {"infer_samples_per_s", static_cast<double>(samples) / infer_seconds},
                              {"parameters", train::parameter_count(module)},
                              {"blas", core::blas_description()}}
                   .dump()
            << "\n";
}
