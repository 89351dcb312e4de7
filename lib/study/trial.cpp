#include "study/trial.hpp"

#include "core/error.hpp"

#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <limits>
#include <string_view>

namespace automl::study {

std::string to_string(TrialState state) {
  switch (state) {
  case TrialState::running: return "RUNNING";
  case TrialState::complete: return "COMPLETE";
  case TrialState::pruned: return "PRUNED";
  case TrialState::fail: return "FAIL";
  }
  return "UNKNOWN";
}

TrialState parse_trial_state(const std::string& name) {
  for (auto state : {TrialState::running, TrialState::complete, TrialState::pruned, TrialState::fail})
    if (to_string(state) == name) return state;
  throw Error("unknown trial state '" + name + "' in the study database");
}

std::string Trial::config_id() const { return fmt::format("[{}, 0, {}]", iteration, slot); }

std::optional<double> trial_accuracy(const Trial& t) {
  if (t.loss && std::isfinite(*t.loss)) return 1.0 - *t.loss;
  if (!t.metrics.empty() && std::isfinite(t.metrics.back().value)) return 1.0 - t.metrics.back().value;
  return std::nullopt;
}

nlohmann::json config_object(const Trial& t) {
  try {
    auto j = nlohmann::json::parse(t.config);
    return j.is_object() ? j : nlohmann::json::object();
  } catch (const nlohmann::json::exception&) {
    return nlohmann::json::object();
  }
}

std::uint64_t trial_seed(std::uint64_t study_seed, std::int64_t iteration, std::int64_t slot, std::int64_t rung) {
  // Distinct for every (iteration, slot, rung) a schedule can hold: rungs < 64, slots < 2^20.
  const auto job = (static_cast<std::uint64_t>(iteration) << 26) ^ (static_cast<std::uint64_t>(slot) << 6) ^
                   static_cast<std::uint64_t>(rung);
  return mix_seed(study_seed, job);
}

std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t key) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (key + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::string unit_to_json(const space::UnitVector& unit) {
  std::string text = "[";
  for (std::size_t i = 0; i < unit.size(); ++i) {
    if (i > 0) text += ",";
    // {:.17g} round-trips every double exactly.
    text += std::isnan(unit[i]) ? std::string("null") : fmt::format("{:.17g}", unit[i]);
  }
  return text + "]";
}

space::UnitVector unit_from_json(const std::string& text) {
  // Hand-written: this runs for every trial on every ask, where a general JSON parser costs too much.
  space::UnitVector unit;
  const char* p = text.c_str();
  const auto fail = [&] { return Error("malformed unit vector in the study database: " + text); };
  const auto skip_space = [&] {
    while (*p == ' ') ++p;
  };
  skip_space();
  if (*p++ != '[') throw fail();
  skip_space();
  if (*p == ']') return unit;
  for (;;) {
    skip_space();
    if (std::string_view(p).substr(0, 4) == "null") {
      unit.push_back(std::numeric_limits<double>::quiet_NaN());
      p += 4;
    } else {
      char* end = nullptr;
      const double value = std::strtod(p, &end);
      if (end == p) throw fail();
      unit.push_back(value);
      p = end;
    }
    skip_space();
    if (*p == ',') {
      ++p;
      continue;
    }
    if (*p == ']') return unit;
    throw fail();
  }
}

std::string metrics_to_json(const std::vector<Metric>& metrics) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& m : metrics) j.push_back({m.step, m.value});
  return j.dump();
}

std::vector<Metric> metrics_from_json(const std::string& text) {
  std::vector<Metric> metrics;
  if (text.empty() || text == "[]") return metrics;
  for (const auto& m : nlohmann::json::parse(text)) metrics.push_back(Metric{m.at(0).get<double>(), m.at(1).get<double>()});
  return metrics;
}

} // namespace automl::study
