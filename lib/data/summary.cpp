#include "data/summary.hpp"

#include "data/labels.hpp"

#include <cmath>

namespace automl::data {

DataSummary summarize(const Dataset& d) {
  DataSummary s;
  s.origin = d.origin;
  s.kind = d.schema.kind;
  s.samples = d.size();
  s.sample_shape = d.schema.sample_shape;
  s.features = d.schema.num_features();
  s.class_names = d.schema.class_names;
  s.class_counts = class_counts(d.label_vector(), d.schema.num_classes());
  if (s.samples == 0) return s;

  const auto flat = d.features.reshape({s.samples, s.features});
  const auto missing = torch::isnan(flat);
  s.missing_values = missing.sum().item<std::int64_t>();
  s.samples_with_missing = missing.any(1).sum().item<std::int64_t>();
  if (s.missing_values > 0) {
    const auto per_feature = missing.sum(0).contiguous();
    const auto* counts = per_feature.data_ptr<std::int64_t>();
    for (std::int64_t f = 0; f < s.features; ++f) {
      if (counts[f] == 0) continue;
      const auto i = static_cast<std::size_t>(f);
      s.missing_by_feature.push_back(
          {i < d.schema.feature_names.size() ? d.schema.feature_names[i] : "feature_" + std::to_string(f), counts[f]});
    }
  }
  // With missing values, NaN must not win min/max: fill it with the opposite extreme first.
  const auto lo = s.missing_values ? flat.masked_fill(missing, INFINITY).min() : flat.min();
  const auto hi = s.missing_values ? flat.masked_fill(missing, -INFINITY).max() : flat.max();
  if (s.missing_values < flat.numel()) {
    s.min_value = lo.item<double>();
    s.max_value = hi.item<double>();
  }
  return s;
}

} // namespace automl::data
