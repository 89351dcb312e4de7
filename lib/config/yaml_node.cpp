#include "config/yaml_node.hpp"

#include "core/error.hpp"
#include "core/suggest.hpp"
#include "core/utf8.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

namespace automl::config {

std::string Location::to_string() const {
  if (line <= 0) return file;
  return fmt::format("{}:{}:{}", file, line, column);
}

Location location_of(const std::string& file, const YAML::Node& node) {
  // A missing key's node (root["hyperparameters"] when there is none) has no place in the file, and its
  // Mark() throws YAML::InvalidNode.
  if (!node.IsDefined()) return {file, 0, 0};
  const auto mark = node.Mark();
  if (mark.is_null()) return {file, 0, 0};
  return {file, mark.line + 1, mark.column + 1}; // yaml-cpp counts from 0
}

void fail_at(const Location& where, const std::string& message) {
  throw InputError(where.to_string() + ": " + message);
}

void fail_at(const std::string& file, const YAML::Node& node, const std::string& message) {
  fail_at(location_of(file, node), message);
}

namespace {

// Walks `root` as its readers will, aliases expanded, and fails once that is more than `limit` nodes. The
// walk stops at the limit, so it costs at most that much however far the aliases expand (an alias inside
// its own anchor makes yaml-cpp build a cycle, which this walk also stops).
void check_expanded_size(const YAML::Node& root, const std::string& file, std::size_t limit) {
  std::vector<YAML::Node> stack{root};
  std::size_t visited = 0;
  while (!stack.empty()) {
    const YAML::Node node = std::move(stack.back());
    stack.pop_back();
    if (++visited > limit)
      throw InputError(fmt::format("{}: the YAML holds more than {} nodes, counting aliases at every use (the "
                                   "limit: {} or the file's size in bytes, whichever is larger)",
                                   file, limit, k_min_yaml_node_limit));
    if (node.IsSequence()) {
      for (const auto& item : node) stack.push_back(item);
    } else if (node.IsMap()) {
      for (const auto& entry : node) {
        stack.push_back(entry.first);
        stack.push_back(entry.second);
      }
    }
  }
}

} // namespace

YAML::Node load_yaml_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw InputError(path.string() + ": a directory, not a YAML file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string() + ": cannot read the file (" + std::strerror(errno) + ")");
  // Refuse a huge file before reading it into memory.
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > k_max_yaml_bytes)
    throw InputError(fmt::format("{}: the file is {} bytes; YAML files are limited to {} bytes", path.string(), size,
                                 k_max_yaml_bytes));
  std::ostringstream text;
  text << in.rdbuf();
  return load_yaml_text(text.str(), path.string());
}

YAML::Node load_yaml_text(const std::string& text, const std::string& file) {
  if (text.size() > k_max_yaml_bytes)
    throw InputError(fmt::format("{}: the file is {} bytes; YAML files are limited to {} bytes", file, text.size(),
                                 k_max_yaml_bytes));
  // Names and values end up in JSON (effective_config.json, the model file), which must be UTF-8. Control
  // characters other than tab and line breaks are not YAML either, and yaml-cpp turns a NUL byte into
  // invalid UTF-8 (fuzz_space_yaml found it).
  const auto fail_at_byte = [&](std::size_t at, const std::string& what) {
    const auto newline = text.rfind('\n', at); // text[at] itself is no newline
    const auto line_start = newline == std::string::npos ? 0 : newline + 1;
    const int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
    fail_at(Location{file, line, static_cast<int>(at - line_start) + 1},
            fmt::format("{} (byte 0x{:02X}): YAML files must be UTF-8 text", what, static_cast<unsigned char>(text[at])));
  };
  if (const auto bad = core::first_invalid_utf8(text)) fail_at_byte(*bad, "invalid UTF-8");
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) fail_at_byte(i, "a control character");
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    fail_at(Location{file, e.mark.line + 1, e.mark.column + 1}, "YAML syntax error: " + e.msg);
  }
  check_expanded_size(root, file, std::max(k_min_yaml_node_limit, text.size()));
  return root;
}

space::Value typed_scalar(const std::string& text, bool quoted) {
  if (quoted) return text;
  static const std::regex k_int(R"([-+]?[0-9]+)");
  static const std::regex k_float(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  if (std::regex_match(text, k_int)) {
    errno = 0;
    const long long v = std::strtoll(text.c_str(), nullptr, 10);
    if (errno != ERANGE) return static_cast<std::int64_t>(v);
  }
  if (std::regex_match(text, k_float) || std::regex_match(text, k_int)) return std::strtod(text.c_str(), nullptr);
  return text;
}

space::Value scalar_value(const std::string& file, const YAML::Node& node, const std::string& what) {
  if (!node.IsScalar())
    fail_at(file, node, what + ": expected a value (a number, true/false or a name), got " +
                            (node.IsMap() ? "a map" : node.IsSequence() ? "a list" : "nothing"));
  return typed_scalar(node.Scalar(), node.Tag() == "!");
}

double number_value(const std::string& file, const YAML::Node& node, const std::string& what) {
  const auto v = scalar_value(file, node, what);
  const auto x = space::as_number(v);
  if (!x) fail_at(file, node, what + ": expected a number, got '" + space::to_string(v) + "'");
  return *x;
}

bool bool_value(const std::string& file, const YAML::Node& node, const std::string& what) {
  const auto v = scalar_value(file, node, what);
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  fail_at(file, node, what + ": expected true or false, got '" + space::to_string(v) + "'");
}

std::string string_value(const std::string& file, const YAML::Node& node, const std::string& what) {
  if (!node.IsScalar()) fail_at(file, node, what + ": expected a string");
  return node.Scalar();
}

void check_keys(const std::string& file, const YAML::Node& node, const std::vector<std::string>& allowed,
                const std::string& what) {
  const std::string prefix = what.empty() ? "" : what + ": ";
  if (!node.IsMap()) fail_at(file, node, prefix + "expected a map (key: value lines)");
  std::vector<std::string> seen;
  for (const auto& entry : node) {
    const auto key = entry.first.Scalar();
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) fail_at(file, entry.first, prefix + "duplicate key '" + key + "'");
    seen.push_back(key);
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string message = prefix + "unknown key '" + key + "'";
    if (const auto near = core::closest_match(key, allowed)) message += " (did you mean '" + *near + "'?)";
    else message += fmt::format(" (known keys: {})", fmt::join(allowed, ", "));
    fail_at(file, entry.first, message);
  }
}

} // namespace automl::config
