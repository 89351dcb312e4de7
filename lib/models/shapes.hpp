#pragma once
// Layer widths of the "shaped" networks (Auto-PyTorch's get_shaped_neuron_counts): the widths of
// `layer_count` layers from `in_features` to `out_features` following a named shape, with at most
// max(in_features, max_units) units. The last entry is out_features. No torch here.

#include <cstdint>
#include <string>
#include <vector>

namespace automl::models {

// Shape names: funnel, long_funnel, diamond, hexagon, brick, triangle, stairs.
const std::vector<std::string>& shape_names();

// Throws InputError for an unknown shape (listing the valid ones).
std::vector<std::int64_t> shaped_widths(const std::string& shape, std::int64_t in_features, std::int64_t out_features,
                                        std::int64_t max_units, std::int64_t layer_count);

} // namespace automl::models
