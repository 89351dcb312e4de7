#pragma once
// Turning raw labels (strings or integers, as found in a CSV or NPY file) into class indices.

#include <cstdint>
#include <string>
#include <vector>

namespace automl::data {

struct LabelEncoding {
  std::vector<std::string> class_names; // class index -> the label as written in the source
  std::vector<std::int64_t> indices;    // one class index per sample
};

// Classes are the distinct labels, sorted: numerically when every label is an integer ("2" < "10"),
// lexicographically otherwise (as scikit-learn's LabelEncoder does).
LabelEncoding encode_labels(const std::vector<std::string>& labels);
LabelEncoding encode_labels(const std::vector<std::int64_t>& labels);

// Per-class sample counts, sized num_classes.
std::vector<std::int64_t> class_counts(const std::vector<std::int64_t>& indices, std::int64_t num_classes);

} // namespace automl::data
