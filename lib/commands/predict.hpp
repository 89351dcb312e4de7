#pragma once
// `automl predict`: predictions from an exported model file alone.

#include <iosfwd>
#include <optional>
#include <string>

namespace automl::commands {

// Example: PredictOptions o; o.model = "runs/x/best_model.pt"; o.data = "mnist:test"; o.fail_under = 0.97;
struct PredictOptions {
  std::string model;                  // required: a model.pt written by automl
  std::string data;                   // required: a source; a CSV holding exactly the model's features is unlabelled
  std::string target;                 // CSV target column
  std::string data_dir;
  std::string output;                 // optional CSV: id, predicted label, (true label), one probability per class
  std::optional<double> fail_under;   // exit 3 when accuracy is below this (needs labels)
  int threads = 0;
  bool json = false;
};

// Returns 0, or 3 when accuracy < fail_under.
int predict(const PredictOptions& options, std::ostream& out);

} // namespace automl::commands
