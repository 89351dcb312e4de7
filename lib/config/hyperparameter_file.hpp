#pragma once
// A fixed configuration from a file, for `automl train --config`: a YAML map of hyperparameter names to
// scalar values (the names a search space uses), or the JSON a search writes (best_config.json, whose
// "config" object is taken). Errors carry file:line:column.

#include <nlohmann/json.hpp>

#include <filesystem>

namespace automl::config {

// Returns a flat JSON object of scalars. Throws InputError for a missing file, bad syntax, or a value
// that is not a scalar.
nlohmann::json load_hyperparameters(const std::filesystem::path& path);

} // namespace automl::config
