#pragma once
// A configuration: hyperparameter name -> value. What a search space samples and decodes, what the trainer
// reads, and what a study stores (as JSON). No torch here.

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>

namespace automl::space {

// One hyperparameter value. Ints and floats stay apart: an int hyperparameter holds std::int64_t.
using Value = std::variant<bool, std::int64_t, double, std::string>;

// Text of a value as users write it in YAML: true, 42, 0.001, shapedresnet.
std::string to_string(const Value& value);

// Equality where numbers compare by value across int and float (3 == 3.0); otherwise exact.
bool values_equal(const Value& a, const Value& b);

// The value as a double when it is a number (int or float), else nothing.
std::optional<double> as_number(const Value& value);

nlohmann::json to_json(const Value& value);
// JSON booleans, integers, floats and strings; anything else throws InputError.
Value value_from_json(const nlohmann::json& j);

// Ordered by name, so that its JSON and its text are stable.
class Config {
public:
  using Map = std::map<std::string, Value>;

  void set(const std::string& name, Value value) { m_values[name] = std::move(value); }
  bool erase(const std::string& name) { return m_values.erase(name) > 0; }
  bool contains(const std::string& name) const { return m_values.count(name) > 0; }
  std::size_t size() const { return m_values.size(); }
  bool empty() const { return m_values.empty(); }
  const Map& values() const { return m_values; }
  Map::const_iterator begin() const { return m_values.begin(); }
  Map::const_iterator end() const { return m_values.end(); }

  // Typed access for consumers (the trainer). Throws InputError naming the hyperparameter when it is
  // absent or has another type; get_double also accepts an int.
  const Value& at(const std::string& name) const;
  std::int64_t get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  const std::string& get_string(const std::string& name) const;
  bool get_bool(const std::string& name) const;

  bool operator==(const Config& other) const { return m_values == other.m_values; }
  bool operator!=(const Config& other) const { return !(*this == other); }

private:
  Map m_values;
};

// {"name": value, ...}. Round trip: config_from_json(to_json(c)) == c (floats are written exactly).
nlohmann::json to_json(const Config& config);
Config config_from_json(const nlohmann::json& j);

} // namespace automl::space
