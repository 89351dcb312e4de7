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

// Classes are the distinct labels, sorted: numerically when every label is a number ("2" < "10"; "1", "01" and
// "1.0" are one class, named as first written), lexicographically otherwise (as scikit-learn's LabelEncoder does).
LabelEncoding encode_labels(const std::vector<std::string>& labels);
LabelEncoding encode_labels(const std::vector<std::int64_t>& labels);

// Whether two labels name the same class: the same text, or the same finite number ("1" and "1.0").
bool same_label(const std::string& a, const std::string& b);

// Per-class sample counts, sized num_classes.
std::vector<std::int64_t> class_counts(const std::vector<std::int64_t>& indices, std::int64_t num_classes);

} // namespace automl::data
