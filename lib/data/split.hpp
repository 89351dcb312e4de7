#pragma once
// Stratified, seeded train/validation splits (what Auto-PyTorch's fit(validation_split=...) does).

#include <cstdint>
#include <vector>

namespace automl::data {

// Auto-PyTorch's default share of the training data held out for validation.
constexpr double k_default_validation_split = 0.1;

struct SplitIndices {
  std::vector<std::int64_t> train;      // ascending
  std::vector<std::int64_t> validation; // ascending
};

// Puts round(fraction * N) samples in validation, spread over the classes in proportion to their size
// (largest remainders get the extra samples); within a class the choice is a seeded shuffle. A class
// with one sample keeps it for training. fraction must be in [0, 1); throws InputError otherwise.
// labels: class indices in [0, num_classes). Same (labels, fraction, seed): same split, on any platform.
SplitIndices stratified_split(const std::vector<std::int64_t>& labels, std::int64_t num_classes, double fraction,
                              std::uint64_t seed);

} // namespace automl::data
