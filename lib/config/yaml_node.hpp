#pragma once
// Reading YAML with locations: every error lib/config throws starts with `file:line:col: `. Only lib/config
// includes yaml-cpp.

#include "space/config.hpp"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <vector>

namespace automl::config {

// Where something was written: 1-based line and column, as editors count.
struct Location {
  std::string file;
  int line = 0;
  int column = 0;

  // "presets/tiny_cs.yaml:12:5" (just the file when the line is unknown).
  std::string to_string() const;
};

Location location_of(const std::string& file, const YAML::Node& node);

// Throws InputError "file:line:col: message".
[[noreturn]] void fail_at(const Location& where, const std::string& message);
[[noreturn]] void fail_at(const std::string& file, const YAML::Node& node, const std::string& message);

// Limits on what a YAML file may hold, so that a hostile or broken file is an error instead of a process
// that grows until it is killed. Aliases count at every use: a few nested anchors can stand for billions of
// nodes ("billion laughs"), which yaml-cpp stores shared but every reader walks expanded. Real presets and
// spaces are a few kilobytes and a few thousand nodes.
// The node limit is the larger of k_min_yaml_node_limit and the file's size in bytes: a file without aliases
// never reaches it (every node takes at least two bytes), and what a reader walks stays linear in the size.
constexpr std::size_t k_max_yaml_bytes = std::size_t{16} << 20;
constexpr std::size_t k_min_yaml_node_limit = 1'000'000;

// Parses a YAML file. Throws InputError for a missing or unreadable file, for a syntax error with its
// location ("f.yaml:3:7: syntax error: end of map not found"), and for a file over the limits above. An
// empty file gives a null node.
YAML::Node load_yaml_file(const std::filesystem::path& path);
// The same for text in memory; `file` names it in errors.
YAML::Node load_yaml_text(const std::string& text, const std::string& file);

// Text as a typed value, by the YAML 1.2 core schema: true/false, integers, floats; quoted text (`quoted`)
// and anything else is a string. (yaml-cpp's own conversions also take yes/no/on/off as booleans, which
// would turn a choice named `no` into false.)
space::Value typed_scalar(const std::string& text, bool quoted);
// A scalar node as a typed value, as above. Null, sequences and maps are an error naming `what`.
space::Value scalar_value(const std::string& file, const YAML::Node& node, const std::string& what);
double number_value(const std::string& file, const YAML::Node& node, const std::string& what);
bool bool_value(const std::string& file, const YAML::Node& node, const std::string& what);
std::string string_value(const std::string& file, const YAML::Node& node, const std::string& what);

// Requires `node` to be a map whose keys are all in `allowed`, each once; an unknown key is an error at its
// own location with "did you mean" ("`what`: unknown key 'lgo' (did you mean 'log'?)"; no prefix when
// `what` is empty).
void check_keys(const std::string& file, const YAML::Node& node, const std::vector<std::string>& allowed,
                const std::string& what);

} // namespace automl::config
