#pragma once
// Running an exported model on a data set: schema checks with clear errors, label mapping by class name,
// batched probabilities. Used by `automl predict`, and by `automl train` for its test accuracy so that
// both report the same number.

#include "data/dataset.hpp"

#include <torch/script.h>

namespace automl::export_ {

// Throws InputError when `data` cannot be fed to a model trained on `model_schema`: another kind, another
// sample shape or feature count, or other feature names. Images may come as H x W or 1 x H x W.
void check_input(const data::Schema& model_schema, const data::Dataset& data);

// The labels of `data` as indices into the model's classes (matched by name). Throws InputError for a
// label the model does not know.
torch::Tensor labels_for_model(const data::Schema& model_schema, const data::Dataset& data);

// Softmax probabilities [N, classes] from module.forward on raw inputs, in batches, without gradients.
torch::Tensor predict_probabilities(torch::jit::Module& module, const torch::Tensor& inputs,
                                    std::int64_t batch_size = 1024);

// A 1-D integer tensor (labels, argmax predictions) as int64 values, for code that does not use torch.
std::vector<std::int64_t> to_indices(const torch::Tensor& tensor);

} // namespace automl::export_
