#pragma once
// Read access to one configuration: a flat map from hyperparameter name to value, as a search space samples
// it ("network": "shapedresnet", "network:shapedresnet:max_units": 512, "optimizer:sgd:lr": 0.01, ...).
// Components look their values up with a scope: get_int("network:shapedresnet", "max_units") finds
// "network:shapedresnet:max_units", or else the bare "max_units" (so that flat spaces such as the Optuna
// chapter's "num_conv_layers" and "lr" work too), or else the default.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <set>
#include <optional>
#include <string>
#include <vector>

namespace automl::core {

class Hyperparameters {
public:
  Hyperparameters() = default;
  // `values` must be a JSON object of scalars; throws InputError otherwise.
  explicit Hyperparameters(nlohmann::json values);

  // Typed lookups. A value of the wrong type is an InputError naming the key, e.g.
  // "network:mlpnet:num_layers: expected an integer, got \"three\"". Without a default, a missing key is an
  // InputError too. Integral doubles (3.0) are accepted as integers; integers as doubles.
  std::int64_t get_int(const std::string& scope, const std::string& name, std::optional<std::int64_t> fallback = {}) const;
  double get_double(const std::string& scope, const std::string& name, std::optional<double> fallback = {}) const;
  std::string get_string(const std::string& scope, const std::string& name, std::optional<std::string> fallback = {}) const;
  bool get_bool(const std::string& scope, const std::string& name, std::optional<bool> fallback = {}) const;

  bool contains(const std::string& key) const { return m_values.contains(key); }
  const nlohmann::json& json() const { return m_values; }

  // What the components looked up (for train/preflight.hpp): `keys_read` gets each key that a lookup found,
  // `keys_wanted` each "scope:name" a lookup asked for (found or not). Copies of this object record into the
  // same sets. Off (nullptr) by default; not thread-safe while on.
  struct Lookups {
    std::set<std::string> keys_read;
    std::set<std::string> keys_wanted;
  };
  void record_lookups(std::shared_ptr<Lookups> lookups) { m_lookups = std::move(lookups); }

private:
  // The key found for (scope, name): "scope:name", else "name"; nullptr when neither is set.
  const nlohmann::json* find(const std::string& scope, const std::string& name, std::string& key) const;

  nlohmann::json m_values = nlohmann::json::object();
  std::shared_ptr<Lookups> m_lookups;
};

} // namespace automl::core
