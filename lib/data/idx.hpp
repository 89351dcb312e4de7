#pragma once
// IDX files (the MNIST format, http://yann.lecun.com/exdb/mnist/): a 4-byte magic number (0, 0, type,
// dimension count), big-endian uint32 sizes, then big-endian values. Raw or gzip-compressed.

#include "data/dataset.hpp"

#include <filesystem>

namespace automl::data {

struct IdxArray {
  std::vector<std::int64_t> shape;
  torch::Tensor values; // the file's own element type (uint8, int8, int16, int32, float32, float64)
};

// Reads one IDX file. Throws InputError naming the file for a bad magic number, an unknown type, or data
// whose length does not match the header; the header's claim is checked before anything is allocated
// for it.
IdxArray read_idx(const std::filesystem::path& path);

// An images file (N x ...) and a labels file (N, integer). Labels are class indices as stored (MNIST's
// digits), so class c is named "c" and the class count is max(label) + 1. Three or more image dimensions
// make an image data set, two a tabular one.
Dataset load_idx(const std::filesystem::path& images, const std::filesystem::path& labels);

} // namespace automl::data
