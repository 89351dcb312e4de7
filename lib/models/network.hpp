#pragma once
// Network families, built from a configuration into the `net(self, x)` method of a TorchScript module.
//
// Feature families (input N x features; images are flattened first), after Auto-PyTorch:
//   mlpnet        num_layers, num_units_<i> (i = 1..num_layers), activation, use_dropout, dropout_<i>,
//                 use_batch_norm (BatchNorm after each hidden Linear; default false, as in Auto-PyTorch)
//   shapedmlpnet  num_layers, max_units, mlp_shape, activation, use_dropout, max_dropout
//   resnet        num_groups, blocks_per_group, num_units_<i> (i = 0..num_groups), activation, use_dropout,
//                 dropout_<i> (i = 1..num_groups), use_shake_shake, use_shake_drop, max_shake_drop_probability
//   shapedresnet  num_groups, blocks_per_group, max_units, resnet_shape, activation, use_dropout, max_dropout,
//                 use_shake_shake, use_shake_drop, max_shake_drop_probability
// Image families (input N x C x H x W):
//   convnet       the Optuna chapter's ConvNet: num_conv_layers (1-4), conv_depth_<i> (i = 0..), conv_dropout,
//                 num_fc_layers (1-2), fc_output_feat_<i>, fc_dropout_<i>
//   residual_cnn  a residual CNN with BatchNorm: base_channels, num_stages, blocks_per_stage, dropout, activation
// Each name is looked up as "network:<family>:<name>", then "<name>" (core::Hyperparameters).

#include "core/hyperparameters.hpp"

#include <torch/script.h>

#include <cstdint>
#include <string>
#include <vector>

namespace automl::models {

struct NetworkInput {
  std::vector<std::int64_t> shape; // one sample after preprocessing: {features} or {C, H, W}
  std::int64_t num_classes = 0;
};

struct NetworkInfo {
  std::string family;
  std::vector<std::string> description; // PyTorch-style, one line per layer
};

// Names of all families; image_network(name) says which take N x C x H x W input.
std::vector<std::string> network_names();
bool image_network(const std::string& family);

// Registers the parameters of the family named by hyperparameter "network" on `module` and defines
// `net(self, x) -> Tensor` (logits), its weights drawn from `generator` (torch's global one when none is given).
// Throws InputError for an unknown family or a bad value.
NetworkInfo build_network(const core::Hyperparameters& hp, const NetworkInput& input, torch::jit::Module& module,
                          c10::optional<at::Generator> generator = c10::nullopt);

} // namespace automl::models
