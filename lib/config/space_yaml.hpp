#pragma once
// Search spaces written in YAML, and space updates. The format (README "Search spaces and presets"):
//
//   hyperparameters:
//     network:                                  # a component choice: each choice may own a sub-space
//       choices:
//         shapedresnet:
//           num_groups: {type: int, range: [1, 9], default: 2}      # -> network:shapedresnet:num_groups
//           max_units: {type: int, range: [10, 1024], log: true}
//         mlpnet: ~
//     num_conv_layers: {type: int, range: [1, 4]}
//     conv_depth_3: {type: int, range: [16, 64], condition: "num_conv_layers > 3"}
//     optimizer: [adam, sgd]                    # short for {type: categorical, choices: [adam, sgd]}
//     batch_size: 125                           # short for {type: constant, value: 125}
//   forbidden:
//     - {scaling: none, feature_preprocessor: [pca, truncated_svd]}
//
// A condition names its parent relative to the component it is written in first (`num_groups` inside
// network:shapedresnet means network:shapedresnet:num_groups), then as a full name.

#include "config/yaml_node.hpp"
#include "space/search_space.hpp"

#include <map>
#include <string>
#include <vector>

namespace automl::config {

// A hyperparameter with where its parts were written, so that errors found later (when the space is built,
// after updates) point at the right line.
struct HyperparameterSource {
  space::Hyperparameter hp;
  Location where;                         // the entry's name
  std::map<std::string, Location> fields; // "range", "log", "step", "default", "choices", "value", "condition"
};

struct ForbiddenSource {
  space::ForbiddenClause clause;
  Location where;
};

// A search space as read, before it is built.
struct SpaceSource {
  std::vector<HyperparameterSource> hyperparameters;
  std::vector<ForbiddenSource> forbidden;
  // Space updates were applied: building drops what can no longer be active (the sub-space of a removed
  // choice, a layer beyond a lowered maximum) instead of rejecting it.
  bool updated = false;
};

// Parses the `hyperparameters:` map and the `forbidden:` list (may be a null node) of `file`. Errors at
// file:line:col: unknown keys, bad types and values, conditions on unknown or later-defined hyperparameters,
// cycles among conditions.
SpaceSource parse_space(const std::string& file, const YAML::Node& hyperparameters, const YAML::Node& forbidden);

// Applies a map `name: {range, log, step, default, choices, value}` to `source`, in order. `value` fixes the
// hyperparameter to that constant. A default that the new range or choices exclude moves to the nearest
// bound (numbers) or to the first choice. Unknown names are errors with "did you mean".
void apply_space_updates(SpaceSource& source, const std::string& file, const YAML::Node& updates);

// The SearchSpace of a source; errors carry the location of the field at fault.
space::SearchSpace build_space(const SpaceSource& source);

} // namespace automl::config
