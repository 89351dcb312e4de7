#include "space/config.hpp"

#include "core/error.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>

namespace automl::space {

std::string to_string(const Value& value) {
  struct Visitor {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    // Shortest text that reads back as the same double.
    std::string operator()(double d) const { return fmt::format("{}", d); }
    std::string operator()(const std::string& s) const { return s; }
  };
  return std::visit(Visitor{}, value);
}

std::optional<double> as_number(const Value& value) {
  if (const auto* i = std::get_if<std::int64_t>(&value)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&value)) return *d;
  return std::nullopt;
}

bool values_equal(const Value& a, const Value& b) {
  const auto x = as_number(a);
  const auto y = as_number(b);
  if (x && y) return *x == *y;
  return a == b;
}

nlohmann::json to_json(const Value& value) {
  return std::visit([](const auto& v) { return nlohmann::json(v); }, value);
}

Value value_from_json(const nlohmann::json& j) {
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_number_integer()) return j.get<std::int64_t>();
  if (j.is_number_float()) return j.get<double>();
  if (j.is_string()) return j.get<std::string>();
  throw InputError("expected a boolean, number or string, got " + j.dump());
}

const Value& Config::at(const std::string& name) const {
  const auto it = m_values.find(name);
  if (it == m_values.end()) throw InputError("configuration has no hyperparameter '" + name + "'");
  return it->second;
}

namespace {

[[noreturn]] void wrong_type(const std::string& name, const Value& value, const char* expected) {
  throw InputError(fmt::format("{}: expected {}, got '{}'", name, expected, to_string(value)));
}

} // namespace

std::int64_t Config::get_int(const std::string& name) const {
  const auto& v = at(name);
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  wrong_type(name, v, "an integer");
}

double Config::get_double(const std::string& name) const {
  const auto& v = at(name);
  if (const auto x = as_number(v)) return *x;
  wrong_type(name, v, "a number");
}

const std::string& Config::get_string(const std::string& name) const {
  const auto& v = at(name);
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  wrong_type(name, v, "a string");
}

bool Config::get_bool(const std::string& name) const {
  const auto& v = at(name);
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  wrong_type(name, v, "true or false");
}

nlohmann::json to_json(const Config& config) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, value] : config) j[name] = to_json(value);
  return j;
}

Config config_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw InputError("a configuration must be a JSON object, got " + j.dump());
  Config config;
  for (const auto& [name, value] : j.items()) {
    try {
      config.set(name, value_from_json(value));
    } catch (const InputError& e) {
      throw InputError(name + ": " + e.what());
    }
  }
  return config;
}

} // namespace automl::space
