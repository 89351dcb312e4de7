#include "space/hyperparameter.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <set>

namespace automl::space {

namespace {

// Grid points closer than this (relative to the step) count as on the grid: decimal steps such as 0.1 are
// not exact in binary.
constexpr double k_grid_tolerance = 1e-9;
// Ints are computed in doubles; beyond 2^53 they would no longer be exact.
constexpr double k_max_exact_int = 9007199254740992.0;

std::string number_text(double x, bool integer) {
  if (integer && std::abs(x) < 9.0e15) return std::to_string(static_cast<std::int64_t>(x));
  return fmt::format("{}", x);
}

std::string join_values(const std::vector<Value>& values) {
  std::vector<std::string> parts;
  for (const auto& v : values) parts.push_back(to_string(v));
  return fmt::format("{}", fmt::join(parts, ", "));
}

bool on_grid(double v, double lower, double step) {
  const double k = (v - lower) / step;
  return std::abs(k - std::round(k)) <= k_grid_tolerance * std::max(1.0, std::abs(k));
}

} // namespace

std::string to_string(Type type) {
  switch (type) {
  case Type::integer: return "int";
  case Type::real: return "float";
  case Type::categorical: return "categorical";
  case Type::boolean: return "bool";
  case Type::constant: return "constant";
  }
  return "?";
}

std::optional<Type> type_from_string(const std::string& name) {
  for (Type t : {Type::integer, Type::real, Type::categorical, Type::boolean, Type::constant})
    if (to_string(t) == name) return t;
  return std::nullopt;
}

std::string to_string(ConditionOp op) {
  switch (op) {
  case ConditionOp::equals: return "==";
  case ConditionOp::in: return "in";
  case ConditionOp::greater: return ">";
  case ConditionOp::greater_equal: return ">=";
  case ConditionOp::less: return "<";
  case ConditionOp::less_equal: return "<=";
  }
  return "?";
}

bool Condition::holds(const Value& parent_value) const {
  switch (op) {
  case ConditionOp::equals:
  case ConditionOp::in:
    for (const auto& v : values)
      if (values_equal(parent_value, v)) return true;
    return false;
  default: break;
  }
  const auto x = as_number(parent_value);
  const auto threshold = values.empty() ? std::nullopt : as_number(values[0]);
  if (!x || !threshold) return false;
  switch (op) {
  case ConditionOp::greater: return *x > *threshold;
  case ConditionOp::greater_equal: return *x >= *threshold;
  case ConditionOp::less: return *x < *threshold;
  case ConditionOp::less_equal: return *x <= *threshold;
  default: return false;
  }
}

std::string Condition::to_string() const {
  if (op == ConditionOp::in) return fmt::format("{} in [{}]", parent, join_values(values));
  return fmt::format("{} {} {}", parent, space::to_string(op), values.empty() ? "" : space::to_string(values[0]));
}

bool Condition::operator==(const Condition& other) const {
  return parent == other.parent && op == other.op && values == other.values;
}

std::vector<Value> Hyperparameter::discrete_values() const {
  switch (type) {
  case Type::categorical: return choices;
  case Type::boolean: return {Value{false}, Value{true}};
  case Type::constant: return {value};
  default: return {};
  }
}

Value Hyperparameter::effective_default() const {
  if (default_value) return normalise(*default_value);
  switch (type) {
  case Type::integer:
  case Type::real: {
    double middle = log ? std::sqrt(lower * upper) : (lower + upper) / 2;
    if (step) middle = lower + std::round((middle - lower) / *step) * *step;
    if (type == Type::integer) return static_cast<std::int64_t>(std::round(middle));
    // A grid point as the user wrote the grid (0.30000000000000004 is 0.3).
    if (step) middle = std::stod(fmt::format("{:.12g}", middle));
    return std::min(upper, std::max(lower, middle));
  }
  case Type::categorical: return choices.empty() ? Value{} : choices.front();
  case Type::boolean: return false;
  case Type::constant: return value;
  }
  return value;
}

std::optional<std::string> Hyperparameter::problem(const Value& v) const {
  switch (type) {
  case Type::integer:
  case Type::real: {
    const auto x = as_number(v);
    if (!x) return fmt::format("expected {}, got '{}'", type == Type::integer ? "an integer" : "a number", to_string(v));
    if (!std::isfinite(*x)) return fmt::format("expected a finite number, got {}", to_string(v));
    if (type == Type::integer && std::floor(*x) != *x) return fmt::format("expected an integer, got {}", to_string(v));
    if (*x < lower || *x > upper) return fmt::format("{} is out of range {}", to_string(v), domain_text());
    if (step && !on_grid(*x, lower, *step))
      return fmt::format("{} is not on the grid {} + k * {}", to_string(v), number_text(lower, type == Type::integer),
                         number_text(*step, type == Type::integer));
    return std::nullopt;
  }
  case Type::categorical:
  case Type::boolean:
    for (const auto& c : discrete_values())
      if (values_equal(c, v) && std::holds_alternative<bool>(c) == std::holds_alternative<bool>(v)) return std::nullopt;
    return fmt::format("'{}' is not one of [{}]", to_string(v), join_values(discrete_values()));
  case Type::constant:
    if (values_equal(value, v)) return std::nullopt;
    return fmt::format("must be the constant {}, got {}", to_string(value), to_string(v));
  }
  return std::nullopt;
}

Value Hyperparameter::normalise(const Value& v) const {
  if (type == Type::integer) {
    if (const auto x = as_number(v)) return static_cast<std::int64_t>(*x);
  }
  if (type == Type::real) {
    if (const auto x = as_number(v)) return *x;
  }
  if (type == Type::categorical || type == Type::constant) {
    // The stored form of the matching choice (3.0 given for a choice 3 becomes 3).
    for (const auto& c : discrete_values())
      if (values_equal(c, v)) return c;
  }
  return v;
}

std::string Hyperparameter::domain_text() const {
  switch (type) {
  case Type::integer:
  case Type::real: {
    const bool integer = type == Type::integer;
    std::string text = fmt::format("[{}, {}]", number_text(lower, integer), number_text(upper, integer));
    if (log) text += " log";
    if (step) text += " step " + number_text(*step, integer);
    return text;
  }
  case Type::categorical:
  case Type::boolean: return "[" + join_values(discrete_values()) + "]";
  case Type::constant: return to_string(value);
  }
  return "";
}

void validate(const Hyperparameter& hp) {
  const auto fail = [&](const std::string& message, const char* field) {
    throw SpaceError(hp.name + ": " + message, field);
  };
  if (hp.name.empty()) throw SpaceError("a hyperparameter needs a name", "name");
  if (hp.is_numerical()) {
    const bool integer = hp.type == Type::integer;
    if (!std::isfinite(hp.lower) || !std::isfinite(hp.upper)) fail("the range bounds must be finite numbers", "range");
    if (integer && (std::abs(hp.lower) > k_max_exact_int || std::abs(hp.upper) > k_max_exact_int))
      fail(fmt::format("an int range must lie within +-{}, got [{}, {}]", k_max_exact_int, hp.lower, hp.upper), "range");
    if (integer && (std::floor(hp.lower) != hp.lower || std::floor(hp.upper) != hp.upper))
      fail(fmt::format("an int range needs integer bounds, got [{}, {}]", hp.lower, hp.upper), "range");
    if (hp.lower > hp.upper)
      fail(fmt::format("lower {} > upper {}", number_text(hp.lower, integer), number_text(hp.upper, integer)), "range");
    if (hp.lower == hp.upper)
      fail(fmt::format("empty range [{0}, {0}]; use a constant for a fixed value", number_text(hp.lower, integer)),
           "range");
    if (hp.log && hp.lower <= 0)
      fail(fmt::format("log scale needs a positive range, got lower {}", number_text(hp.lower, integer)), "log");
    if (hp.step) {
      if (hp.log) fail("step cannot be combined with log", "step");
      if (!(*hp.step > 0)) fail(fmt::format("step must be > 0, got {}", *hp.step), "step");
      if (integer && std::floor(*hp.step) != *hp.step) fail(fmt::format("an int step must be an integer, got {}", *hp.step), "step");
      if (!on_grid(hp.upper, hp.lower, *hp.step))
        fail(fmt::format("range [{}, {}] is not a whole number of steps of {}", number_text(hp.lower, integer),
                         number_text(hp.upper, integer), number_text(*hp.step, integer)),
             "step");
    }
  } else if (hp.type == Type::categorical) {
    if (hp.choices.empty()) fail("a categorical needs at least one choice", "choices");
    // values_equal() by sets, in O(k log k) for k choices: numbers by value (NaN equals nothing), the rest as is.
    std::set<double> numbers;
    std::set<Value> others;
    for (const auto& c : hp.choices) {
      const auto x = as_number(c);
      const bool repeated = x ? !std::isnan(*x) && !numbers.insert(*x).second : !others.insert(c).second;
      if (repeated) fail(fmt::format("choice '{}' is listed twice", to_string(c)), "choices");
    }
    if (hp.choices.size() < 2) fail("a categorical needs at least two choices; use a constant for one", "choices");
  }
  if (hp.default_value && hp.type != Type::constant) {
    if (const auto p = hp.problem(*hp.default_value)) fail("default " + *p, "default");
  }
}

std::string ForbiddenClause::to_string() const {
  std::vector<std::string> texts;
  for (const auto& p : parts) {
    if (p.values.size() == 1) texts.push_back(p.name + " == " + space::to_string(p.values[0]));
    else texts.push_back(p.name + " in [" + join_values(p.values) + "]");
  }
  return fmt::format("{}", fmt::join(texts, " && "));
}

} // namespace automl::space
