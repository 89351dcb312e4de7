#pragma once
// The trainable pipeline: one TorchScript module with
//   preprocess(self, x) -> Tensor   raw inputs in the data's layout -> network input (fitted on training data)
//   net(self, x) -> Tensor          the network: logits
//   forward(self, x) -> Tensor      net(preprocess(x))
// It is trained as it is and exported as it is.

#include "core/hyperparameters.hpp"
#include "data/dataset.hpp"

#include <torch/script.h>

#include <cstdint>
#include <string>
#include <vector>

namespace automl::train {

struct Pipeline {
  torch::jit::Module module;
  std::string family;                          // network family
  std::vector<std::string> preprocessing;      // description lines
  std::vector<std::string> network;            // description lines
  std::vector<std::int64_t> network_input;     // one sample after preprocessing
};

// Fits the preprocessing on `train` and initialises the network from a generator of its own seeded with `seed`
// (the same weights whichever thread builds it, and whatever runs beside it).
// Throws InputError for a bad configuration.
Pipeline build_pipeline(const core::Hyperparameters& hp, const data::Dataset& train, std::uint64_t seed);

// PyTorch-style printout: preprocessing first, then the network, with the parameter count.
std::string describe(const Pipeline& pipeline);

std::int64_t parameter_count(const torch::jit::Module& module);

} // namespace automl::train
