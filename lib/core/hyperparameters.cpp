#include "core/hyperparameters.hpp"

#include "core/error.hpp"

#include <cmath>

namespace automl::core {

Hyperparameters::Hyperparameters(nlohmann::json values) : m_values(std::move(values)) {
  if (!m_values.is_object()) throw InputError("a configuration must be a map of hyperparameter names to values");
  for (const auto& [key, value] : m_values.items())
    if (value.is_structured() || value.is_null())
      throw InputError(key + ": expected a number, string or boolean, got " + value.dump());
}

const nlohmann::json* Hyperparameters::find(const std::string& scope, const std::string& name, std::string& key) const {
  const nlohmann::json* found = nullptr;
  if (!scope.empty()) {
    key = scope + ":" + name;
    if (auto it = m_values.find(key); it != m_values.end()) found = &*it;
  }
  if (!found) {
    key = name;
    if (auto it = m_values.find(key); it != m_values.end()) found = &*it;
  }
  if (m_lookups) {
    m_lookups->keys_wanted.insert(scope.empty() ? name : scope + ":" + name);
    if (found) m_lookups->keys_read.insert(key);
  }
  if (!found) key = scope.empty() ? name : scope + ":" + name;
  return found;
}

namespace {

template <typename T> T missing(const std::string& key, const std::optional<T>& fallback) {
  if (!fallback) throw InputError(key + ": required hyperparameter is not set");
  return *fallback;
}

[[noreturn]] void wrong_type(const std::string& key, const char* expected, const nlohmann::json& value) {
  throw InputError(key + ": expected " + expected + ", got " + value.dump());
}

} // namespace

std::int64_t Hyperparameters::get_int(const std::string& scope, const std::string& name,
                                      std::optional<std::int64_t> fallback) const {
  std::string key;
  const auto* v = find(scope, name, key);
  if (!v) return missing(key, fallback);
  if (v->is_number_integer()) return v->get<std::int64_t>();
  if (v->is_number_float()) {
    const double d = v->get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9e15) return static_cast<std::int64_t>(d);
  }
  wrong_type(key, "an integer", *v);
}

double Hyperparameters::get_double(const std::string& scope, const std::string& name,
                                   std::optional<double> fallback) const {
  std::string key;
  const auto* v = find(scope, name, key);
  if (!v) return missing(key, fallback);
  if (v->is_number()) return v->get<double>();
  wrong_type(key, "a number", *v);
}

std::string Hyperparameters::get_string(const std::string& scope, const std::string& name,
                                        std::optional<std::string> fallback) const {
  std::string key;
  const auto* v = find(scope, name, key);
  if (!v) return missing(key, fallback);
  if (v->is_string()) return v->get<std::string>();
  wrong_type(key, "a string", *v);
}

bool Hyperparameters::get_bool(const std::string& scope, const std::string& name, std::optional<bool> fallback) const {
  std::string key;
  const auto* v = find(scope, name, key);
  if (!v) return missing(key, fallback);
  if (v->is_boolean()) return v->get<bool>();
  wrong_type(key, "true or false", *v);
}

} // namespace automl::core
