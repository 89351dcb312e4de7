#pragma once
// The exported model: one TorchScript file holding preprocessing + network (`forward(x)` takes raw inputs
// in the data's own layout and returns logits), plus extra files that describe it:
//   automl/config.json         the hyperparameters
//   automl/schema.json         kind, sample_shape, class_names, feature_names
//   automl/architecture.txt    the PyTorch-style printout
//   automl/versions.json       automl and LibTorch versions, export time
//   automl/training.json       what training reached (epochs, accuracies, seconds, ...)
//   automl/ensemble.json       only in an ensemble (export/ensemble.hpp): its members (trial, configuration,
//                              budget, weight, validation accuracy) and its validation accuracy
// In Python: torch.jit.load(path, _extra_files={"automl/schema.json": ""}).

#include "data/dataset.hpp"

#include <nlohmann/json.hpp>
#include <torch/script.h>

#include <filesystem>

namespace automl::export_ {

struct ModelInfo {
  nlohmann::json config;
  data::Schema schema;
  std::string architecture;
  nlohmann::json training;
  nlohmann::json versions; // filled by save_model
  nlohmann::json ensemble; // null for a single model
};

// Saves `module` (switched to eval mode) with its info, reloads the file and checks that its outputs on
// `check_inputs` (raw inputs) match the module's within 1e-5; throws automl::Error otherwise.
void save_model(torch::jit::Module& module, ModelInfo info, const std::filesystem::path& path,
                const torch::Tensor& check_inputs);

struct LoadedModel {
  torch::jit::Module module; // in eval mode
  ModelInfo info;
};

// Throws InputError naming the file when it is missing or is not an automl model.
LoadedModel load_model(const std::filesystem::path& path);

// The model's metadata from the extra files as read from `file` (the names above as keys; a missing one
// reads as empty). Checks what the commands rely on: valid JSON; versions an object, config and training
// objects or null (training's "epochs" a number, versions' "automl" and "libtorch" strings where present), the
// ensemble absent or an object with a "members" list of objects; a schema as
// schema_from_json() wants it. Throws InputError naming the file, the extra file and the key at fault.
ModelInfo parse_model_info(const std::string& file, const torch::jit::ExtraFilesMap& extra);

nlohmann::json to_json(const data::Schema& schema);
// Throws InputError ("sample_shape: ...") unless `j` is an object with kind "tabular" (one dimension) or
// "image" (H x W or C x H x W), sample_shape dimensions > 0 with at most data::k_max_sample_features
// features, at least one class name, and feature_names empty or one per feature, all names strings.
data::Schema schema_from_json(const nlohmann::json& j);

} // namespace automl::export_
