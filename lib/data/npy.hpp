#pragma once
// NumPy .npy files as `np.save` writes them (format versions 1.0-3.0), and X.npy + y.npy data sets.

#include "data/dataset.hpp"

#include <filesystem>

namespace automl::data {

struct NpyArray {
  std::vector<std::int64_t> shape;
  torch::Tensor values; // the file's own dtype
};

// Reads one array: dtypes uint8, int8, int16, int32, int64, float32, float64, little-endian (or
// byte-sized), C order. Anything else, a malformed header, or a data length that does not match the header
// is an InputError naming the file; the length is checked against the file size before allocating.
NpyArray read_npy(const std::filesystem::path& path);

// X (N x features, or N x H x W / N x C x H x W for images) and y (N or N x 1; integers, or floats that
// are whole numbers). Classes are the distinct values of y, sorted.
Dataset load_npy(const std::filesystem::path& x_path, const std::filesystem::path& y_path);

} // namespace automl::data
