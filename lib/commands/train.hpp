#pragma once
// `automl train`: train one fixed configuration and export it (what a user runs to reproduce or refit a
// search result).

#include "data/split.hpp"

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

namespace automl::commands {

// Example: TrainCommandOptions o; o.config = "cfg.yaml"; o.out = "runs/cfg"; o.epochs = 5;
struct TrainCommandOptions {
  std::string config;                 // required: YAML map of hyperparameters, or a best_config.json
  std::string data = "mnist";         // training source (split into train/validation)
  std::string target;                 // CSV target column
  std::string data_dir;               // where named sources live
  std::string test;                   // optional source evaluated once at the end
  std::optional<double> epochs;       // budget in epochs (fractions allowed); default 10 when no budget given
  std::optional<double> seconds;      // or in seconds of training
  std::string out;                    // required: output directory (model.pt, train.json)
  double validation_split = data::k_default_validation_split;
  std::uint64_t seed = 0;
  int threads = 0;                    // 0 = one per core
  std::string device = "auto";
  std::string precision = "fp32";     // fp32, bf16, fp16 (train/runtime.hpp)
  bool json = false;                  // one JSON object on stdout instead of progress lines
};

int train(const TrainCommandOptions& options, std::ostream& out);

} // namespace automl::commands
