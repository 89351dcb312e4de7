#include "space/search_space.hpp"

#include "core/suggest.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace automl::space {

namespace {

// sample_prior() gives up after this many configurations in a row were forbidden: the clauses then exclude
// (nearly) the whole space, which is a mistake in the space, not bad luck.
constexpr int k_max_forbidden_rejections = 10000;

const double k_nan = std::numeric_limits<double>::quiet_NaN();

// Number of grid points of a stepped range; ints without a step have step 1.
std::int64_t grid_size(const Hyperparameter& hp) {
  const double step = hp.step.value_or(1.0);
  return static_cast<std::int64_t>(std::llround((hp.upper - hp.lower) / step)) + 1;
}

bool uses_grid(const Hyperparameter& hp) { return !hp.log && (hp.type == Type::integer || hp.step.has_value()); }

double clamp01(double x) { return std::min(1.0, std::max(0.0, x)); }

// FNV-1a, 64 bit: a fixed, portable hash (std::hash is neither).
std::uint64_t fnv1a(const std::string& text) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

} // namespace

std::vector<std::pair<std::string, std::string>> component_candidates(const std::string& name) {
  std::vector<std::size_t> colons;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (name[i] == ':') colons.push_back(i);
  std::vector<std::pair<std::string, std::string>> out;
  // `P` ends at colons[k]; its choice runs to colons[k + 1], and a rest must follow.
  for (std::size_t k = colons.size(); k-- > 1;)
    out.emplace_back(name.substr(0, colons[k - 1]), name.substr(colons[k - 1] + 1, colons[k] - colons[k - 1] - 1));
  return out;
}

const Hyperparameter* SearchSpace::find(const std::string& name) const {
  const auto i = index_of(name);
  return i ? &m_hyperparameters[*i] : nullptr;
}

std::optional<std::size_t> SearchSpace::index_of(const std::string& name) const {
  const auto it = m_index.find(name);
  if (it == m_index.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> SearchSpace::names() const {
  std::vector<std::string> out;
  for (const auto& hp : m_hyperparameters) out.push_back(hp.name);
  return out;
}

void SearchSpace::check_condition(const Hyperparameter& child, const Condition& c) const {
  const auto fail = [&](const std::string& message) {
    throw SpaceError(child.name + ": condition " + c.to_string() + ": " + message, "condition");
  };
  if (c.parent == child.name) fail("a hyperparameter cannot depend on itself");
  const auto* parent = find(c.parent);
  if (!parent) {
    fail("unknown hyperparameter '" + c.parent + "'" + core::did_you_mean(c.parent, names()));
  }
  if (c.values.empty()) fail("needs a value");
  if (c.op == ConditionOp::equals && c.values.size() != 1) fail("== takes one value");
  if (c.op == ConditionOp::equals || c.op == ConditionOp::in) {
    for (const auto& v : c.values)
      if (!stored_choice(*index_of(c.parent), v))
        if (const auto p = parent->problem(v)) fail(c.parent + " cannot take this value: " + *p);
  } else {
    const bool numerical = parent->is_numerical() || (parent->type == Type::constant && as_number(parent->value));
    if (!numerical) fail(c.parent + " is " + to_string(parent->type) + "; comparisons need an int or float");
    if (c.values.size() != 1 || !as_number(c.values[0])) fail(to_string(c.op) + " takes one number");
  }
  if (parent->type == Type::constant && parent->conditions.empty() && !c.holds(parent->value))
    fail(c.parent + " is the constant " + to_string(parent->value) + ", so " + child.name + " could never be active");
}

void SearchSpace::add(Hyperparameter hp) {
  validate(hp);
  if (m_index.count(hp.name)) throw SpaceError(hp.name + ": defined twice", "name");
  if (hp.default_value) hp.default_value = hp.normalise(*hp.default_value);

  // The component condition implied by the name: the longest prefix `P` (followed by a choice and a rest)
  // that is a hyperparameter of the space.
  for (const auto& [prefix, choice] : component_candidates(hp.name)) {
    const auto parent_index = index_of(prefix);
    if (!parent_index) continue;
    const auto* parent = &m_hyperparameters[*parent_index];
    std::optional<Value> match;
    if (parent->type == Type::categorical) {
      const auto& positions = m_choice_position[*parent_index];
      if (const auto it = positions.find(choice); it != positions.end()) match = parent->choices[it->second];
    } else {
      for (const auto& v : parent->discrete_values())
        if (!match && to_string(v) == choice) match = v;
    }
    if (!match) {
      const auto values = parent->discrete_values();
      if (parent->type == Type::constant)
        throw SpaceError(hp.name + ": " + prefix + " is the constant " + to_string(parent->value) +
                             ", so this hyperparameter could never be active",
                         "name");
      std::vector<std::string> texts;
      for (const auto& v : values) texts.push_back(to_string(v));
      throw SpaceError(hp.name + ": " + prefix + " has no choice '" + choice + "'" + core::did_you_mean(choice, texts), "name");
    }
    Condition implied{prefix, ConditionOp::equals, {*match}};
    const bool always_true = parent->type == Type::constant && parent->conditions.empty();
    if (!always_true && std::find(hp.conditions.begin(), hp.conditions.end(), implied) == hp.conditions.end())
      hp.conditions.insert(hp.conditions.begin(), implied);
    break;
  }

  std::vector<std::size_t> parents;
  for (auto& c : hp.conditions) {
    check_condition(hp, c);
    const auto p = *index_of(c.parent);
    parents.push_back(p);
    if (c.op == ConditionOp::equals || c.op == ConditionOp::in)
      for (auto& v : c.values) {
        const auto* stored = stored_choice(p, v);
        v = stored ? *stored : m_hyperparameters[p].normalise(v);
      }
  }

  const std::size_t index = m_hyperparameters.size();
  m_index[hp.name] = index;
  m_parents.push_back(std::move(parents));
  if (hp.is_dimension()) {
    m_dimension.push_back(m_dimension_of.size());
    m_dimension_of.push_back(index);
  } else {
    m_dimension.push_back(std::nullopt);
  }
  m_choice_position.emplace_back();
  if (hp.type == Type::categorical)
    for (std::size_t i = 0; i < hp.choices.size(); ++i) m_choice_position.back().emplace(to_string(hp.choices[i]), i);
  m_hyperparameters.push_back(std::move(hp));
}

const Value* SearchSpace::stored_choice(std::size_t parent, const Value& v) const {
  const auto& positions = m_choice_position[parent];
  const auto it = positions.find(to_string(v));
  if (it == positions.end()) return nullptr;
  const Value& c = m_hyperparameters[parent].choices[it->second];
  const bool same = values_equal(c, v) && std::holds_alternative<bool>(c) == std::holds_alternative<bool>(v);
  return same ? &c : nullptr;
}

void SearchSpace::add_forbidden(ForbiddenClause clause) {
  const auto fail = [&](const std::string& message) {
    throw SpaceError("forbidden " + clause.to_string() + ": " + message, "forbidden");
  };
  if (clause.parts.empty()) fail("a clause needs at least one hyperparameter");
  for (auto& part : clause.parts) {
    const auto* hp = find(part.name);
    if (!hp) {
      fail("unknown hyperparameter '" + part.name + "'" + core::did_you_mean(part.name, names()));
    }
    if (part.values.empty()) fail(part.name + " needs at least one value");
    for (auto& v : part.values) {
      if (const auto p = hp->problem(v)) fail(part.name + ": " + *p);
      v = hp->normalise(v);
    }
  }
  m_forbidden.push_back(std::move(clause));
  const auto defaults = values_at(UnitVector(dimension(), k_nan), true);
  if (violates_forbidden(defaults)) {
    const auto text = m_forbidden.back().to_string();
    m_forbidden.pop_back();
    throw SpaceError("forbidden " + text + ": it forbids the default configuration", "forbidden");
  }
}

std::optional<Hyperparameter> SearchSpace::prune(Hyperparameter hp, const std::set<std::string>& removed) const {
  for (const auto& [prefix, choice] : component_candidates(hp.name)) {
    if (removed.count(prefix)) return std::nullopt;
    const auto* parent = find(prefix);
    if (!parent) continue;
    const auto values = parent->discrete_values();
    if (std::none_of(values.begin(), values.end(), [&](const Value& v) { return to_string(v) == choice; }))
      return std::nullopt;
    break;
  }
  std::vector<Condition> kept;
  for (auto& c : hp.conditions) {
    const auto* parent = find(c.parent);
    if (!parent) return std::nullopt;
    if (c.op == ConditionOp::equals || c.op == ConditionOp::in) {
      std::vector<Value> possible;
      for (const auto& v : c.values)
        if (!parent->problem(v)) possible.push_back(v);
      if (possible.empty()) return std::nullopt;
      c.values = possible;
    }
    if (parent->type == Type::constant && !c.holds(parent->value)) return std::nullopt;
    if (parent->is_numerical() && c.op != ConditionOp::equals && c.op != ConditionOp::in) {
      // A comparison that no value of the parent's range satisfies (a layer beyond a lowered maximum).
      if (!c.holds(Value{parent->lower}) && !c.holds(Value{parent->upper})) return std::nullopt;
    }
    kept.push_back(c);
  }
  hp.conditions = kept;
  return hp;
}

std::optional<ForbiddenClause> SearchSpace::prune(ForbiddenClause clause) const {
  for (auto& part : clause.parts) {
    const auto* hp = find(part.name);
    if (!hp) return std::nullopt;
    std::vector<Value> possible;
    for (const auto& v : part.values)
      if (!hp->problem(v)) possible.push_back(v);
    if (possible.empty()) return std::nullopt;
    part.values = possible;
  }
  return clause;
}

std::string SearchSpace::dimension_name(std::size_t i) const { return dimension_hyperparameter(i).name; }

std::size_t SearchSpace::cardinality(std::size_t i) const {
  const auto& hp = dimension_hyperparameter(i);
  return hp.is_numerical() ? 0 : hp.discrete_values().size();
}

bool SearchSpace::active(std::size_t index, const std::vector<std::optional<Value>>& values) const {
  const auto& conditions = m_hyperparameters[index].conditions;
  for (std::size_t k = 0; k < conditions.size(); ++k) {
    const auto& parent_value = values[m_parents[index][k]];
    if (!parent_value || !conditions[k].holds(*parent_value)) return false;
  }
  return true;
}

bool SearchSpace::clause_holds(const ForbiddenClause& clause, const std::vector<std::optional<Value>>& values) const {
  return std::all_of(clause.parts.begin(), clause.parts.end(), [&](const ForbiddenClause::Part& part) {
    const auto& v = values[m_index.at(part.name)];
    return v && std::any_of(part.values.begin(), part.values.end(), [&](const Value& x) { return values_equal(*v, x); });
  });
}

bool SearchSpace::violates_forbidden(const std::vector<std::optional<Value>>& values) const {
  return std::any_of(m_forbidden.begin(), m_forbidden.end(),
                     [&](const ForbiddenClause& clause) { return clause_holds(clause, values); });
}

double SearchSpace::encode_value(const Hyperparameter& hp, const Value& v) const {
  if (!hp.is_numerical()) {
    const auto values = hp.discrete_values();
    for (std::size_t i = 0; i < values.size(); ++i)
      if (values_equal(values[i], v)) return (static_cast<double>(i) + 0.5) / static_cast<double>(values.size());
    throw std::invalid_argument(hp.name + ": cannot encode '" + to_string(v) + "'");
  }
  const double x = *as_number(v);
  if (uses_grid(hp)) {
    const double index = std::round((x - hp.lower) / hp.step.value_or(1.0));
    return (index + 0.5) / static_cast<double>(grid_size(hp));
  }
  if (hp.type == Type::integer) { // log scale: ints own equal widths of [lower - 0.5, upper + 0.5] in log space
    const double a = std::log(hp.lower - 0.5), b = std::log(hp.upper + 0.5);
    return clamp01((std::log(x) - a) / (b - a));
  }
  if (hp.log) return clamp01((std::log(x) - std::log(hp.lower)) / (std::log(hp.upper) - std::log(hp.lower)));
  return clamp01((x - hp.lower) / (hp.upper - hp.lower));
}

Value SearchSpace::decode_value(const Hyperparameter& hp, double x) const {
  x = clamp01(x);
  if (!hp.is_numerical()) {
    const auto values = hp.discrete_values();
    const auto k = values.size();
    return values[std::min(static_cast<std::size_t>(x * static_cast<double>(k)), k - 1)];
  }
  if (uses_grid(hp)) {
    const auto n = grid_size(hp);
    const auto index = std::min(static_cast<std::int64_t>(x * static_cast<double>(n)), n - 1);
    const double v = hp.lower + static_cast<double>(index) * hp.step.value_or(1.0);
    if (hp.type == Type::integer) return static_cast<std::int64_t>(std::llround(v));
    // 0.1 + 2 * 0.1 is 0.30000000000000004: keep the decimal grid value the user wrote.
    return std::min(hp.upper, std::stod(fmt::format("{:.12g}", v)));
  }
  if (hp.type == Type::integer) {
    const double a = std::log(hp.lower - 0.5), b = std::log(hp.upper + 0.5);
    const double v = std::round(std::exp(a + x * (b - a)));
    return static_cast<std::int64_t>(std::min(hp.upper, std::max(hp.lower, v)));
  }
  const double v = hp.log ? std::exp(std::log(hp.lower) + x * (std::log(hp.upper) - std::log(hp.lower)))
                          : hp.lower + x * (hp.upper - hp.lower);
  return std::min(hp.upper, std::max(hp.lower, v));
}

std::vector<std::optional<Value>> SearchSpace::values_at(const UnitVector& point, bool fill_defaults) const {
  if (point.size() != dimension())
    throw std::invalid_argument(fmt::format("a point of this space has {} dimensions, got {}", dimension(), point.size()));
  std::vector<std::optional<Value>> values(m_hyperparameters.size());
  for (std::size_t i = 0; i < m_hyperparameters.size(); ++i) {
    if (!active(i, values)) continue;
    const auto& hp = m_hyperparameters[i];
    if (!m_dimension[i]) {
      values[i] = hp.value;
      continue;
    }
    const double x = point[*m_dimension[i]];
    if (std::isnan(x)) {
      if (!fill_defaults) throw std::invalid_argument(hp.name + " is active but its coordinate is NaN");
      values[i] = hp.effective_default();
    } else {
      values[i] = decode_value(hp, x);
    }
  }
  return values;
}

UnitVector SearchSpace::point_of(const std::vector<std::optional<Value>>& values) const {
  UnitVector point(dimension(), k_nan);
  for (std::size_t d = 0; d < dimension(); ++d) {
    const auto& v = values[m_dimension_of[d]];
    if (v) point[d] = encode_value(dimension_hyperparameter(d), *v);
  }
  return point;
}

UnitVector SearchSpace::sample_prior(core::Rng& rng) const {
  for (int attempt = 0; attempt < k_max_forbidden_rejections; ++attempt) {
    // Uniform in the cube; decoding snaps ints and categoricals to their grid and drops inactive dimensions.
    UnitVector draw(dimension());
    for (auto& x : draw) x = rng.uniform01();
    const auto values = values_at(draw, false);
    if (!violates_forbidden(values)) return point_of(values);
  }
  throw InputError(fmt::format("the forbidden clauses rejected {} sampled configurations in a row; they exclude "
                               "(nearly) the whole space",
                               k_max_forbidden_rejections));
}

std::optional<UnitVector> SearchSpace::make_valid(const UnitVector& proposal) const {
  const auto values = values_at(proposal, true);
  if (violates_forbidden(values)) return std::nullopt;
  return point_of(values);
}

Config SearchSpace::decode(const UnitVector& point) const {
  const auto values = values_at(point, false);
  Config config;
  for (std::size_t i = 0; i < values.size(); ++i)
    if (values[i]) config.set(m_hyperparameters[i].name, *values[i]);
  return config;
}

std::vector<std::string> SearchSpace::check(const Config& config) const {
  std::vector<std::string> problems;
  for (const auto& [name, value] : config) {
    if (m_index.count(name)) continue;
    problems.push_back(name + ": unknown hyperparameter" + core::did_you_mean(name, names()));
  }
  // Values as given (also invalid ones, so that children are judged by what the user wrote).
  std::vector<std::optional<Value>> values(m_hyperparameters.size());
  for (std::size_t i = 0; i < m_hyperparameters.size(); ++i) {
    const auto& hp = m_hyperparameters[i];
    const bool is_active = active(i, values);
    const auto it = config.values().find(hp.name);
    const bool present = it != config.end();
    if (is_active) {
      if (!present) {
        // Constants may be left out: they are known.
        if (hp.type == Type::constant) values[i] = hp.value;
        else problems.push_back(hp.name + ": missing");
        continue;
      }
      if (const auto p = hp.problem(it->second)) problems.push_back(hp.name + ": " + *p);
      values[i] = it->second;
    } else if (present) {
      std::string reason;
      for (std::size_t k = 0; k < hp.conditions.size(); ++k) {
        const auto& parent_value = values[m_parents[i][k]];
        if (!parent_value) {
          reason = hp.conditions[k].parent + " is inactive";
          break;
        }
        if (!hp.conditions[k].holds(*parent_value)) {
          reason = hp.conditions[k].to_string() + " does not hold (" + hp.conditions[k].parent + " is " +
                   to_string(*parent_value) + ")";
          break;
        }
      }
      problems.push_back(hp.name + ": inactive: " + reason);
    }
  }
  if (problems.empty())
    for (const auto& clause : m_forbidden)
      if (clause_holds(clause, values)) {
        problems.push_back("forbidden combination: " + clause.to_string());
        break;
      }
  return problems;
}

UnitVector SearchSpace::encode(const Config& config) const {
  const auto problems = check(config);
  if (!problems.empty())
    throw InputError(fmt::format("configuration does not fit the search space: {}", fmt::join(problems, "; ")));
  UnitVector point(dimension(), k_nan);
  for (std::size_t d = 0; d < dimension(); ++d) {
    const auto& hp = dimension_hyperparameter(d);
    const auto it = config.values().find(hp.name);
    if (it != config.end()) point[d] = encode_value(hp, hp.normalise(it->second));
  }
  return point;
}

Config SearchSpace::default_config() const { return decode(*make_valid(UnitVector(dimension(), k_nan))); }

Config SearchSpace::complete(const Config& partial) const {
  std::vector<std::optional<Value>> values(m_hyperparameters.size());
  Config config;
  for (std::size_t i = 0; i < m_hyperparameters.size(); ++i) { // parents come before their children
    if (!active(i, values)) continue;
    const auto& hp = m_hyperparameters[i];
    const auto given = partial.values().find(hp.name);
    values[i] = given != partial.end() ? given->second : hp.type == Type::constant ? hp.value : hp.effective_default();
    config.set(hp.name, *values[i]);
  }
  // What was given but not used (unknown, or inactive under the other values) stays, for check() to name.
  for (const auto& [name, value] : partial)
    if (!config.contains(name)) config.set(name, value);
  const auto problems = check(config);
  if (!problems.empty()) throw InputError(fmt::format("{}", fmt::join(problems, "; ")));
  return config;
}

nlohmann::json SearchSpace::to_json() const {
  nlohmann::json hps = nlohmann::json::array();
  for (const auto& hp : m_hyperparameters) {
    nlohmann::json j{{"name", hp.name}, {"type", to_string(hp.type)}};
    if (hp.is_numerical()) {
      if (hp.type == Type::integer) {
        j["lower"] = static_cast<std::int64_t>(hp.lower);
        j["upper"] = static_cast<std::int64_t>(hp.upper);
      } else {
        j["lower"] = hp.lower;
        j["upper"] = hp.upper;
      }
      j["log"] = hp.log;
      if (hp.step) j["step"] = *hp.step;
    } else if (hp.type == Type::categorical) {
      nlohmann::json choices = nlohmann::json::array();
      for (const auto& c : hp.choices) choices.push_back(space::to_json(c));
      j["choices"] = choices;
    }
    if (hp.type == Type::constant) j["value"] = space::to_json(hp.value);
    else j["default"] = space::to_json(hp.effective_default());
    nlohmann::json conditions = nlohmann::json::array();
    for (const auto& c : hp.conditions) {
      nlohmann::json values = nlohmann::json::array();
      for (const auto& v : c.values) values.push_back(space::to_json(v));
      conditions.push_back({{"parent", c.parent}, {"op", to_string(c.op)}, {"values", values}});
    }
    j["conditions"] = conditions;
    hps.push_back(j);
  }
  nlohmann::json forbidden = nlohmann::json::array();
  for (const auto& clause : m_forbidden) {
    nlohmann::json parts = nlohmann::json::array();
    for (const auto& part : clause.parts) {
      nlohmann::json values = nlohmann::json::array();
      for (const auto& v : part.values) values.push_back(space::to_json(v));
      parts.push_back({{"name", part.name}, {"values", values}});
    }
    forbidden.push_back(parts);
  }
  return {{"hyperparameters", hps}, {"forbidden", forbidden}};
}

std::string SearchSpace::fingerprint() const { return fmt::format("{:016x}", fnv1a(to_json().dump())); }

} // namespace automl::space
