#pragma once
// A labelled classification data set held in two contiguous tensors, plus what is known about its layout.

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace automl::data {

enum class DataKind { tabular, image };

std::string to_string(DataKind kind);

struct Schema {
  DataKind kind = DataKind::tabular;
  // Shape of one sample: {features} for tabular data, {H, W} or {C, H, W} for images.
  std::vector<std::int64_t> sample_shape;
  // Class index -> name. Its size is the class count.
  std::vector<std::string> class_names;
  // One name per feature where the source has them (a CSV header); empty otherwise.
  std::vector<std::string> feature_names;

  std::int64_t num_classes() const { return static_cast<std::int64_t>(class_names.size()); }
  // Product of sample_shape: the width of a flattened sample. Throws std::logic_error when it is out of
  // range: loaders check their shapes with check_sample_shape() first, so that is a bug.
  std::int64_t num_features() const;
};

// Largest number of features one sample may have: more than any real data set, small enough that a
// flattened width fits every index type torch uses (int32 included).
constexpr std::int64_t k_max_sample_features = (std::int64_t{1} << 31) - 1;

// Checks a sample shape read from `file` and returns its product: each dimension > 0 (a zero-sized sample
// holds no features), the product computed without overflow and at most k_max_sample_features. Throws
// InputError naming the file otherwise.
std::int64_t check_sample_shape(const std::vector<std::int64_t>& sample_shape, const std::string& file);

// Invariants (checked by validate()): features is float32, contiguous, shaped [N, sample_shape...], with
// NaN marking a missing value; labels is int64 [N] with values in [0, num_classes).
// Image pixel values are kept as stored (0-255 for MNIST); scaling is preprocessing's job.
struct Dataset {
  torch::Tensor features;
  torch::Tensor labels;
  Schema schema;
  std::string origin; // where it was loaded from, for messages
  // False for inputs without a target (a CSV holding only the model's features): labels are then all 0
  // and mean nothing.
  bool labeled = true;

  std::int64_t size() const { return labels.defined() ? labels.size(0) : 0; }

  // The rows at `indices`, copied with index_select (contiguous, same schema).
  Dataset subset(const std::vector<std::int64_t>& indices) const;

  // Labels as a plain vector, for code that does not use torch (splits, counts).
  std::vector<std::int64_t> label_vector() const;
};

struct TrainValidation {
  Dataset train;
  Dataset validation; // empty (0 rows, same schema) when fraction is 0
};

// Stratified, seeded split of `dataset`; see stratified_split() in data/split.hpp.
TrainValidation split_train_validation(const Dataset& dataset, double fraction, std::uint64_t seed);

// A fingerprint of the content: kind, shape, class names, every feature value and label (a 64-bit hash, 16 hex
// digits; stable across machines of the same byte order). Workers joining a study compare theirs with the
// study's: the same source name on another machine may hold other data. ~0.1 s for MNIST's 60000 images.
std::string fingerprint(const Dataset& dataset);

// Throws std::logic_error when a loader broke the invariants above: a bug, not bad input.
void validate(const Dataset& dataset);

} // namespace automl::data
