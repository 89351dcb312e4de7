#pragma once
// "Did you mean" for unknown names (keys, columns, presets).

#include <optional>
#include <string>
#include <vector>

namespace automl::core {

// Levenshtein distance between two strings.
std::size_t edit_distance(const std::string& a, const std::string& b);

// The candidate closest to `name` when it is close enough to be a likely typo (at most a third of the
// name's length in edits, and at least one), else nothing.
std::optional<std::string> closest_match(const std::string& name, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" for the closest_match() of `name`, or "" when there is none: to append to a message.
std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates);

} // namespace automl::core
