#pragma once
// Files for searches in tests: a CSV of Gaussian blobs split into train.csv and test.csv (same distribution),
// and a small search space (a one-layer MLP: width and learning rate are searched) that trains in milliseconds.

#include <filesystem>

namespace automl::test {

// Writes train.csv (`train` rows), test.csv (`test` rows) and space.yaml into `dir`. With `flip_test_every` > 0,
// every such test row gets a wrong label (so that test accuracy stays below 1).
void write_search_files(const std::filesystem::path& dir, int train = 240, int test = 120, int flip_test_every = 0);

} // namespace automl::test
