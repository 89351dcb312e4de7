#pragma once
// Preprocessing fitted on the training split only, compiled into the `preprocess(self, x)` method of the
// pipeline module so that training and the exported model run the very same code.
//
// Feature networks (images are flattened): imputation (hyperparameter `imputation`: mean, median,
// most_frequent), then scaling (`scaling`: standardize, minmax, maxabs, none), then a projection
// (`feature_preprocessor`: none, truncated_svd, pca; `feature_preprocessor:<name>:target_dim`, default 100).
// Image networks: pixels divided by the training maximum's scale (255 for 8-bit data), then normalised by
// the training mean and standard deviation per channel (`image_normalize`, default true).

#include "core/hyperparameters.hpp"
#include "data/dataset.hpp"

#include <torch/script.h>

namespace automl::train {

struct PreprocessingInfo {
  std::vector<std::int64_t> output_shape;  // one sample after preprocessing
  std::vector<std::string> description;    // PyTorch-style lines
};

// Fits on `train` (raw features in the data's layout), registers buffers on `module` and defines
// `preprocess(self, x) -> Tensor`. `for_images` selects the image path (N x C x H x W output).
PreprocessingInfo fit_preprocessing(const core::Hyperparameters& hp, const data::Dataset& train, bool for_images,
                                    torch::jit::Module& module);

// module.preprocess(raw) on `device`, contiguous. When `module` carries a fit that is still cached (the fit is
// shared by the trials of a search) the result is remembered per (raw tensor, device) and shared: the trials of
// a search preprocess their training and validation sets once. Callers must not change the result in place.
// Thread safe.
torch::Tensor preprocess_cached(torch::jit::Module& module, const torch::Tensor& raw, torch::Device device);

} // namespace automl::train
