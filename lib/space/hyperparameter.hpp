#pragma once
// One hyperparameter of a search space: its type, domain, default and the conditions under which it is
// active. Plain data; SearchSpace (search_space.hpp) puts them together. No torch here.

#include "core/error.hpp"
#include "space/config.hpp"

#include <optional>
#include <string>
#include <vector>

namespace automl::space {

enum class Type {
  integer,     // int in [lower, upper], optional log scale or step
  real,        // float in [lower, upper], optional log scale or step
  categorical, // one of `choices` (strings, numbers or booleans)
  boolean,     // false or true
  constant     // always `value`; not a dimension of the unit cube
};

// "int", "float", "categorical", "bool", "constant": the names the YAML uses.
std::string to_string(Type type);
std::optional<Type> type_from_string(const std::string& name);

enum class ConditionOp { equals, in, greater, greater_equal, less, less_equal };

std::string to_string(ConditionOp op); // "==", "in", ">", ">=", "<", "<="

// `parent op values`: active only when it holds (and the parent itself is active).
// equals: one value; in: one or more; comparisons: one number, and the parent must be int or float.
struct Condition {
  std::string parent;
  ConditionOp op = ConditionOp::equals;
  std::vector<Value> values;

  // Whether it holds for the parent's value.
  bool holds(const Value& parent_value) const;
  // "network == shapedresnet", "num_conv_layers > 3", "optimizer in [sgd, rmsprop]".
  std::string to_string() const;
  bool operator==(const Condition& other) const;
};

// Example: Hyperparameter{.name = "optimizer:sgd:lr", .type = Type::real, .lower = 1e-4, .upper = 0.1, .log = true}
struct Hyperparameter {
  std::string name;
  Type type = Type::real;
  double lower = 0;                    // int and float: the range, both ends included
  double upper = 1;
  bool log = false;                    // int and float: uniform in log space (needs lower > 0)
  std::optional<double> step;          // int and float: values lower, lower + step, ..., upper (not with log)
  std::vector<Value> choices;          // categorical: at least two, distinct; bool: {false, true} (implied)
  Value value;                         // constant
  std::optional<Value> default_value;  // none: the middle of the range (log: geometric), the first choice, false
  std::vector<Condition> conditions;   // all must hold for it to be active

  bool is_numerical() const { return type == Type::integer || type == Type::real; }
  bool is_dimension() const { return type != Type::constant; }
  // The choices of a categorical or bool, {value} for a constant, empty for numbers.
  std::vector<Value> discrete_values() const;
  // The default, derived as above when none is given.
  Value effective_default() const;
  // Why `v` is not a valid value ("2000 is out of range [10, 1024]"), or nothing when it is.
  std::optional<std::string> problem(const Value& v) const;
  // `v` in the form the hyperparameter stores it: an integral float becomes an int for an int
  // hyperparameter, an int becomes a float for a float one. Call only on values without a problem().
  Value normalise(const Value& v) const;
  // "int [10, 1024] log", "categorical {adam, sgd}", "constant 125": the domain, for messages and listings.
  std::string domain_text() const;
};

// A validation failure of a hyperparameter definition. `field` names the YAML key at fault ("range", "log",
// "step", "default", "choices", "value", "condition") so that the loader can point at its line.
class SpaceError : public InputError {
public:
  SpaceError(const std::string& message, std::string field) : InputError(message), m_field(std::move(field)) {}
  const std::string& field() const { return m_field; }

private:
  std::string m_field;
};

// Checks a definition on its own (range order, log bounds, step grid, default in range, distinct choices).
// Throws SpaceError "NAME: lower 1024 > upper 10". Conditions are checked by SearchSpace, which knows the
// parents.
void validate(const Hyperparameter& hp);

// A combination that must not be sampled: every part's hyperparameter is active and has one of its values.
struct ForbiddenClause {
  struct Part {
    std::string name;
    std::vector<Value> values;
  };
  std::vector<Part> parts;

  // "scaling == none && feature_preprocessor in [pca, truncated_svd]".
  std::string to_string() const;
};

} // namespace automl::space
