// Trains configurations on MNIST (the standard 54,000/6,000 split of the training set, seed 0) and reports
// validation and test accuracy and time: the accuracy figures of bench/README.md, run where a GPU is.
//
//   accuracy --device cuda --epochs E --config '{"network": "convnet", ...}' [--config ... ]

#include "data/source.hpp"
#include "train/runtime.hpp"
#include "train/trainer.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>

using namespace automl;

int main(int argc, char** argv) {
  std::string device_name = "cpu";
  double epochs = 5;
  std::vector<nlohmann::json> configs;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--device") device_name = argv[i + 1];
    else if (key == "--epochs") epochs = std::stod(argv[i + 1]);
    else if (key == "--config") configs.push_back(nlohmann::json::parse(argv[i + 1]));
  }
  train::configure_threads(4);
  const auto device = train::parse_device(device_name);
  const auto mnist = data::load_source("mnist");
  const auto test = data::load_source("mnist:test");
  const auto split = data::split_train_validation(mnist, 0.1, 0);
  for (const auto& config : configs) {
    const auto start = std::chrono::steady_clock::now();
    train::Trainer trainer(core::Hyperparameters(config), split.train, split.validation, 0, device);
    const auto result = trainer.train({epochs, 0});
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double test_accuracy = trainer.evaluate(test).accuracy;
    std::cout << nlohmann::json{{"config", config}, {"device", device.str()}, {"epochs", trainer.epochs_done()},
                                {"val_accuracy", result.val_accuracy}, {"test_accuracy", test_accuracy},
                                {"seconds", seconds}, {"parameters", train::parameter_count(trainer.pipeline().module)}}
                     .dump()
              << std::endl;
  }
}
