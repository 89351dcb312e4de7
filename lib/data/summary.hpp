#pragma once
// What `automl data inspect` reports about a data set.

#include "data/dataset.hpp"

namespace automl::data {

struct FeatureMissing {
  std::string name; // feature name, or "feature_<i>" when the source has none
  std::int64_t count;
};

struct DataSummary {
  std::string origin;
  DataKind kind = DataKind::tabular;
  std::int64_t samples = 0;
  std::vector<std::int64_t> sample_shape;
  std::int64_t features = 0; // flattened width
  std::vector<std::string> class_names;
  std::vector<std::int64_t> class_counts;
  std::int64_t missing_values = 0;
  std::int64_t samples_with_missing = 0;
  std::vector<FeatureMissing> missing_by_feature; // only features with missing values, in column order
  double min_value = 0;                           // over all non-missing feature values (0 when none)
  double max_value = 0;
};

DataSummary summarize(const Dataset& dataset);

} // namespace automl::data
