#pragma once
// Files for searches in tests: a CSV of Gaussian blobs split into train.csv and test.csv (same distribution),
// and a small search space (a one-layer MLP: width and learning rate are searched) that trains in milliseconds.

#include "commands/search.hpp"

#include <filesystem>

namespace automl::test {

// Writes train.csv (`train` rows), test.csv (`test` rows) and space.yaml into `dir`. With `flip_test_every` > 0,
// every such test row gets a wrong label (so that test accuracy stays below 1).
void write_search_files(const std::filesystem::path& dir, int train = 240, int test = 120, int flip_test_every = 0);

// `automl search` on those files: 60 s, rungs of 1 and 3 epochs, 2 iterations (3 + 1 + 2 trials: the study
// finishes long before the budget), 1 thread on the CPU, seed 3, output in dir/run, JSON on stdout, warnings only.
commands::SearchOptions small_search(const std::filesystem::path& dir);

} // namespace automl::test
