#include "config/hyperparameter_file.hpp"

#include "core/error.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <fstream>

namespace automl::config {

namespace {

std::string where(const std::filesystem::path& path, const YAML::Mark& mark) {
  return fmt::format("{}:{}:{}", path.string(), mark.line + 1, mark.column + 1);
}

// A YAML scalar as the most specific JSON type it spells: bool, integer, float, else string.
nlohmann::json scalar(const YAML::Node& node) {
  const std::string text = node.Scalar();
  if (node.Tag() == "!") return text; // quoted: always a string
  bool b = false;
  if (YAML::convert<bool>::decode(node, b) && (text == "true" || text == "false" || text == "True" || text == "False"))
    return b;
  std::int64_t i = 0;
  if (YAML::convert<std::int64_t>::decode(node, i)) return i;
  double d = 0;
  if (YAML::convert<double>::decode(node, d)) return d;
  return text;
}

} // namespace

nlohmann::json load_hyperparameters(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("{}: cannot open", path.string()));
  if (path.extension() == ".json") {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::parse_error& e) {
      throw InputError(fmt::format("{}: {}", path.string(), e.what()));
    }
    if (j.is_object() && j.contains("config")) j = j["config"];
    if (!j.is_object()) throw InputError(fmt::format("{}: expected a JSON object of hyperparameters", path.string()));
    return j;
  }
  YAML::Node root;
  try {
    root = YAML::Load(in);
  } catch (const YAML::Exception& e) {
    throw InputError(fmt::format("{}: {}", where(path, e.mark), e.msg));
  }
  if (!root.IsMap())
    throw InputError(fmt::format("{}: expected a map of hyperparameter names to values", where(path, root.Mark())));
  nlohmann::json out = nlohmann::json::object();
  for (const auto& entry : root) {
    const auto key = entry.first.as<std::string>();
    if (!entry.second.IsScalar())
      throw InputError(fmt::format("{}: {}: expected a single value (number, string or boolean)",
                                   where(path, entry.second.Mark()), key));
    if (out.contains(key)) throw InputError(fmt::format("{}: {}: set twice", where(path, entry.first.Mark()), key));
    out[key] = scalar(entry.second);
  }
  return out;
}

} // namespace automl::config
