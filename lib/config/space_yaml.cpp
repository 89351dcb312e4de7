#include "config/space_yaml.hpp"

#include "core/error.hpp"
#include "core/suggest.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <regex>
#include <set>

namespace automl::config {

namespace {

using space::Condition;
using space::ConditionOp;
using space::Hyperparameter;
using space::Type;
using space::Value;

// The keys of a hyperparameter entry, and the types each applies to.
struct EntryKey {
  const char* key;
  std::vector<Type> types; // empty: every type
  const char* help;
};

const std::vector<EntryKey>& entry_keys() {
  static const std::vector<EntryKey> keys{
      {"type", {}, "int, float, categorical, bool or constant (implied by `choices` or `value`)"},
      {"range", {Type::integer, Type::real}, "[lower, upper], both included"},
      {"log", {Type::integer, Type::real}, "sample uniformly in log space (needs lower > 0)"},
      {"step", {Type::integer, Type::real}, "only lower + k * step (not with log)"},
      {"choices", {Type::categorical}, "a list, or a map choice -> its sub-space"},
      {"value", {Type::constant}, "the value of a constant"},
      {"default", {Type::integer, Type::real, Type::categorical, Type::boolean}, "default value"},
      {"condition", {}, "\"parent == v\", \"parent in [a, b]\", \"parent > x\" (>=, <, <=), or a list of them (all hold)"},
  };
  return keys;
}

std::vector<std::string> entry_key_names() {
  std::vector<std::string> names;
  for (const auto& k : entry_keys()) names.push_back(k.key);
  return names;
}

const std::vector<std::string> k_update_keys{"range", "log", "step", "default", "choices", "value"};

struct RawCondition {
  std::string text;
  Location where;
  std::string scope; // "network:convnet:" for an entry inside that component, else ""
};

struct Pending {
  HyperparameterSource source;
  std::vector<RawCondition> conditions;
};

// Turns `hp` into the constant `value`, dropping what only a searched hyperparameter has.
void make_constant(Hyperparameter& hp, Value value) {
  hp.type = Type::constant;
  hp.value = std::move(value);
  hp.choices.clear();
  hp.default_value.reset();
  hp.log = false;
  hp.step.reset();
}

std::vector<Value> scalar_list(const std::string& file, const YAML::Node& node, const std::string& what) {
  if (!node.IsSequence()) fail_at(file, node, what + ": expected a list like [a, b]");
  std::vector<Value> values;
  for (const auto& item : node) values.push_back(scalar_value(file, item, what));
  return values;
}

void parse_range(const std::string& file, const YAML::Node& node, const std::string& name, Hyperparameter& hp) {
  if (!node.IsSequence() || node.size() != 2) fail_at(file, node, name + ": range: expected [lower, upper]");
  hp.lower = number_value(file, node[0], name + ": range");
  hp.upper = number_value(file, node[1], name + ": range");
}

void parse_entry(const std::string& file, const std::string& scope, const YAML::Node& key, const YAML::Node& node,
                 std::vector<Pending>& out) {
  if (!key.IsScalar() || key.Scalar().empty()) fail_at(file, key, "a hyperparameter name must be a plain, non-empty name");
  const std::string name = scope + key.Scalar();
  Pending pending;
  auto& src = pending.source;
  auto& hp = src.hp;
  hp.name = name;
  src.where = location_of(file, key);
  if (node.IsNull()) fail_at(file, key, name + ": needs a definition (a value, a list of choices or a map)");
  if (node.IsScalar()) {
    hp.type = Type::constant;
    hp.value = scalar_value(file, node, name);
    src.fields["value"] = location_of(file, node);
    out.push_back(std::move(pending));
    return;
  }
  if (node.IsSequence()) {
    hp.type = Type::categorical;
    hp.choices = scalar_list(file, node, name);
    src.fields["choices"] = location_of(file, node);
  } else {
    check_keys(file, node, entry_key_names(), name);
    if (const auto t = node["type"]) {
      const auto text = string_value(file, t, name + ": type");
      const auto type = space::type_from_string(text);
      if (!type) {
        const std::vector<std::string> types{"int", "float", "categorical", "bool", "constant"};
        std::string message = name + ": type: unknown type '" + text + "'";
        if (const auto near = core::closest_match(text, types)) message += " (did you mean '" + *near + "'?)";
        else message += " (int, float, categorical, bool or constant)";
        fail_at(file, t, message);
      }
      hp.type = *type;
    } else if (node["value"]) {
      hp.type = Type::constant;
    } else if (node["choices"]) {
      hp.type = Type::categorical;
    } else {
      fail_at(file, key, name + ": needs a type (int, float, categorical, bool or constant)");
    }
    for (const auto& entry : node) {
      const auto k = entry.first.Scalar();
      src.fields[k] = location_of(file, entry.second);
      const auto& info = *std::find_if(entry_keys().begin(), entry_keys().end(),
                                       [&](const EntryKey& e) { return k == e.key; });
      if (!info.types.empty() && std::find(info.types.begin(), info.types.end(), hp.type) == info.types.end())
        fail_at(file, entry.first, name + ": '" + k + "' does not apply to a " + space::to_string(hp.type) + " hyperparameter");
    }
    if (hp.is_numerical()) {
      if (!node["range"]) fail_at(file, key, name + ": an " + space::to_string(hp.type) + " needs a range: [lower, upper]");
      parse_range(file, node["range"], name, hp);
      if (const auto n = node["log"]) hp.log = bool_value(file, n, name + ": log");
      if (const auto n = node["step"]) hp.step = number_value(file, n, name + ": step");
    }
    if (hp.type == Type::constant) {
      if (!node["value"]) fail_at(file, key, name + ": a constant needs a value");
      hp.value = scalar_value(file, node["value"], name + ": value");
    }
    if (const auto n = node["default"]) hp.default_value = scalar_value(file, n, name + ": default");
    if (const auto n = node["condition"]) {
      if (n.IsSequence()) {
        for (const auto& c : n)
          pending.conditions.push_back({string_value(file, c, name + ": condition"), location_of(file, c), scope});
      } else {
        pending.conditions.push_back({string_value(file, n, name + ": condition"), location_of(file, n), scope});
      }
    }
  }

  // Choices given as a map own sub-spaces, parsed after the entry itself.
  std::vector<std::pair<std::string, YAML::Node>> subspaces;
  if (hp.type == Type::categorical && node.IsMap()) {
    const auto choices = node["choices"];
    if (!choices) fail_at(file, key, name + ": a categorical needs choices");
    if (choices.IsMap()) {
      for (const auto& c : choices) {
        hp.choices.push_back(scalar_value(file, c.first, name + ": choice"));
        if (!c.second.IsNull()) {
          if (!c.second.IsMap()) fail_at(file, c.second, name + ": choice " + c.first.Scalar() + ": expected the map of its hyperparameters, or nothing");
          subspaces.emplace_back(c.first.Scalar(), c.second);
        }
      }
    } else {
      hp.choices = scalar_list(file, choices, name + ": choices");
    }
  }
  // One choice is a constant: the component is fixed, its sub-space is still searched (tiny_cs's network).
  if (hp.type == Type::categorical && hp.choices.size() == 1) {
    if (hp.default_value && !space::values_equal(*hp.default_value, hp.choices[0]))
      fail_at(src.fields["default"], name + ": default " + space::to_string(*hp.default_value) + " is not the only choice " +
                                         space::to_string(hp.choices[0]));
    make_constant(hp, hp.choices[0]);
  }
  out.push_back(std::move(pending));
  for (const auto& [choice, sub] : subspaces)
    for (const auto& entry : sub) parse_entry(file, name + ":" + choice + ":", entry.first, entry.second, out);
}

// The parent named by `lhs`, looked up in the innermost scope first ("a:b:c:d:" tries a:b:c:d:lhs, a:b:lhs,
// lhs); the full name when nothing matches.
std::string resolve(const std::string& lhs, const std::string& scope, const std::map<std::string, std::size_t>& index) {
  std::string s = scope;
  while (!s.empty()) {
    if (index.count(s + lhs)) return s + lhs;
    // Drop the last "component:choice:" pair.
    s.pop_back();
    const auto choice_start = s.rfind(':');
    if (choice_start == std::string::npos) break;
    const auto component_start = s.rfind(':', choice_start - 1);
    s = component_start == std::string::npos ? "" : s.substr(0, component_start + 1);
  }
  return lhs;
}

// The component a name belongs to by Auto-PyTorch naming: the longest prefix `P` of `P:C:rest` that is
// declared (the same rule as SearchSpace::add), or "".
std::string component_parent(const std::string& name, const std::map<std::string, std::size_t>& index) {
  for (const auto& candidate : space::component_candidates(name))
    if (index.count(candidate.first)) return candidate.first;
  return "";
}

Condition parse_condition(const RawCondition& raw, const std::string& owner,
                          const std::map<std::string, std::size_t>& index) {
  static const std::regex k_compare(R"(^\s*([^\s=<>]+)\s*(==|>=|<=|>|<)\s*(.+?)\s*$)");
  static const std::regex k_in(R"(^\s*(\S+)\s+in\s+(.+?)\s*$)");
  std::smatch m;
  Condition c;
  std::string rhs;
  if (std::regex_match(raw.text, m, k_in)) {
    c.op = ConditionOp::in;
    rhs = m[2];
  } else if (std::regex_match(raw.text, m, k_compare)) {
    const std::string op = m[2];
    c.op = op == "==" ? ConditionOp::equals
           : op == ">=" ? ConditionOp::greater_equal
           : op == "<=" ? ConditionOp::less_equal
           : op == ">"  ? ConditionOp::greater
                        : ConditionOp::less;
    rhs = m[3];
  } else {
    fail_at(raw.where, owner + ": condition '" + raw.text +
                           "': expected 'parent == value', 'parent in [a, b]' or 'parent > number' (>=, <, <=)");
  }
  c.parent = resolve(m[1], raw.scope, index);
  YAML::Node parsed;
  try {
    parsed = YAML::Load(rhs);
  } catch (const YAML::Exception&) {
    fail_at(raw.where, owner + ": condition '" + raw.text + "': cannot read the value '" + rhs + "'");
  }
  if (c.op == ConditionOp::in) {
    if (!parsed.IsSequence() || parsed.size() == 0)
      fail_at(raw.where, owner + ": condition '" + raw.text + "': 'in' takes a list like [a, b]");
    for (const auto& item : parsed) {
      if (!item.IsScalar()) fail_at(raw.where, owner + ": condition '" + raw.text + "': the list must hold plain values");
      c.values.push_back(typed_scalar(item.Scalar(), item.Tag() == "!"));
    }
  } else {
    if (!parsed.IsScalar()) fail_at(raw.where, owner + ": condition '" + raw.text + "': expected one value after " + space::to_string(c.op));
    c.values.push_back(typed_scalar(parsed.Scalar(), parsed.Tag() == "!"));
  }
  return c;
}

// Checks the dependency graph of the conditions (and the component parents implied by names) of one file:
// unknown parents, cycles, parents defined after their children.
void check_dependencies(const std::vector<Pending>& pending, const std::vector<std::vector<Condition>>& conditions,
                        const std::map<std::string, std::size_t>& index) {
  struct Edge {
    std::size_t parent;
    Location where;
    std::string text;
  };
  std::vector<std::vector<Edge>> edges(pending.size());
  std::vector<std::string> names;
  for (const auto& p : pending) names.push_back(p.source.hp.name);
  for (std::size_t i = 0; i < pending.size(); ++i) {
    const auto& name = pending[i].source.hp.name;
    for (std::size_t k = 0; k < conditions[i].size(); ++k) {
      const auto& c = conditions[i][k];
      const auto& raw = pending[i].conditions[k];
      const auto it = index.find(c.parent);
      if (it == index.end()) {
        fail_at(raw.where, name + ": condition '" + raw.text + "': unknown hyperparameter '" + c.parent + "'" +
                               core::did_you_mean(c.parent, names));
      }
      edges[i].push_back({it->second, raw.where, "condition '" + raw.text + "'"});
    }
    const auto component = component_parent(name, index);
    if (!component.empty()) edges[i].push_back({index.at(component), pending[i].source.where, "its component " + component});
  }

  // Depth-first search for a cycle: 0 unvisited, 1 on the stack, 2 done.
  std::vector<int> state(pending.size(), 0);
  std::vector<std::size_t> stack;
  std::function<void(std::size_t)> visit = [&](std::size_t i) {
    state[i] = 1;
    stack.push_back(i);
    for (const auto& e : edges[i]) {
      if (state[e.parent] == 1) {
        const auto start = std::find(stack.begin(), stack.end(), e.parent);
        std::vector<std::string> path;
        for (auto s = start; s != stack.end(); ++s) path.push_back(names[*s]);
        path.push_back(names[e.parent]);
        // Report at the first edge of the cycle: the one leaving its first member.
        const auto first = *start;
        const auto next = start + 1 == stack.end() ? e.parent : *(start + 1);
        const auto& edge = *std::find_if(edges[first].begin(), edges[first].end(), [&](const Edge& x) { return x.parent == next; });
        fail_at(edge.where, names[first] + ": conditions form a cycle: " + fmt::format("{}", fmt::join(path, " -> ")));
      }
      if (state[e.parent] == 0) visit(e.parent);
    }
    stack.pop_back();
    state[i] = 2;
  };
  for (std::size_t i = 0; i < pending.size(); ++i)
    if (state[i] == 0) visit(i);

  for (std::size_t i = 0; i < pending.size(); ++i)
    for (const auto& e : edges[i])
      if (e.parent > i)
        fail_at(e.where, fmt::format("{}: {} refers to {}, which is defined later (line {}); define it first",
                                     names[i], e.text, names[e.parent], pending[e.parent].source.where.line));
}

} // namespace

SpaceSource parse_space(const std::string& file, const YAML::Node& hyperparameters, const YAML::Node& forbidden) {
  if (!hyperparameters || hyperparameters.IsNull()) fail_at(file, hyperparameters, "hyperparameters: the space is empty");
  if (!hyperparameters.IsMap()) fail_at(file, hyperparameters, "hyperparameters: expected a map name -> definition");
  std::vector<Pending> pending;
  for (const auto& entry : hyperparameters) parse_entry(file, "", entry.first, entry.second, pending);

  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    const auto& src = pending[i].source;
    if (!index.emplace(src.hp.name, i).second)
      fail_at(src.where, src.hp.name + ": defined twice (first at line " +
                             std::to_string(pending[index.at(src.hp.name)].source.where.line) + ")");
  }
  std::vector<std::vector<Condition>> conditions(pending.size());
  for (std::size_t i = 0; i < pending.size(); ++i)
    for (const auto& raw : pending[i].conditions)
      conditions[i].push_back(parse_condition(raw, pending[i].source.hp.name, index));
  check_dependencies(pending, conditions, index);

  SpaceSource source;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    pending[i].source.hp.conditions = conditions[i];
    source.hyperparameters.push_back(std::move(pending[i].source));
  }
  if (forbidden && !forbidden.IsNull()) {
    if (!forbidden.IsSequence()) fail_at(file, forbidden, "forbidden: expected a list of clauses like {a: x, b: [y, z]}");
    for (const auto& clause_node : forbidden) {
      if (!clause_node.IsMap() || clause_node.size() == 0)
        fail_at(file, clause_node, "forbidden: a clause is a map name -> value or [values]");
      ForbiddenSource f;
      f.where = location_of(file, clause_node);
      for (const auto& part : clause_node) {
        space::ForbiddenClause::Part p;
        p.name = part.first.Scalar();
        if (part.second.IsSequence()) p.values = scalar_list(file, part.second, "forbidden: " + p.name);
        else p.values.push_back(scalar_value(file, part.second, "forbidden: " + p.name));
        f.clause.parts.push_back(std::move(p));
      }
      source.forbidden.push_back(std::move(f));
    }
  }
  return source;
}

void apply_space_updates(SpaceSource& source, const std::string& file, const YAML::Node& updates) {
  if (!updates || updates.IsNull()) return;
  if (!updates.IsMap()) fail_at(file, updates, "space updates: expected a map name -> {range, log, step, default, choices, value}");
  std::vector<std::string> names;
  // Name -> position, so that an update file costs time linear in its size, not in its size times the space's.
  std::map<std::string, std::size_t> position;
  for (const auto& s : source.hyperparameters) {
    position.emplace(s.hp.name, names.size());
    names.push_back(s.hp.name);
  }
  for (const auto& entry : updates) {
    const auto name = entry.first.Scalar();
    const auto found = position.find(name);
    if (found == position.end()) {
      fail_at(file, entry.first, "space update: unknown hyperparameter '" + name + "'" + core::did_you_mean(name, names));
    }
    const auto it = source.hyperparameters.begin() + static_cast<std::ptrdiff_t>(found->second);
    const auto& node = entry.second;
    check_keys(file, node, k_update_keys, name);
    auto hp = it->hp;
    std::map<std::string, Location> fields;
    for (const auto& kv : node) fields[kv.first.Scalar()] = location_of(file, kv.second);
    // A log error after a new range is the range's fault.
    if (fields.count("range") && !fields.count("log")) fields["log"] = fields["range"];
    const auto not_for = [&](const std::string& key, const std::string& why) {
      if (node[key]) fail_at(fields[key], name + ": '" + key + "' cannot be updated: " + why);
    };

    if (node["value"]) {
      for (const auto& key : {"range", "log", "step", "default", "choices"})
        not_for(key, "`value` fixes the hyperparameter to a constant");
      const auto v = scalar_value(file, node["value"], name + ": value");
      if (const auto p = hp.problem(v)) fail_at(fields["value"], name + ": value " + *p);
      make_constant(hp, hp.normalise(v));
    } else {
      if (!hp.is_numerical()) {
        const std::string why = name + " is " + space::to_string(hp.type);
        not_for("range", why);
        not_for("log", why);
        not_for("step", why);
      }
      if (hp.type != Type::categorical) not_for("choices", name + " is " + space::to_string(hp.type));
      if (hp.type == Type::constant) not_for("default", name + " is a constant");
      if (const auto n = node["range"]) parse_range(file, n, name, hp);
      if (const auto n = node["log"]) hp.log = bool_value(file, n, name + ": log");
      if (const auto n = node["step"]) hp.step = number_value(file, n, name + ": step");
      if (const auto n = node["choices"]) hp.choices = scalar_list(file, n, name + ": choices");
      if (const auto n = node["default"]) {
        hp.default_value = scalar_value(file, n, name + ": default");
      } else if (hp.default_value && hp.problem(*hp.default_value)) {
        // The update moved the domain away from the default: keep it as close as the new domain allows.
        if (hp.is_numerical()) {
          const auto x = *space::as_number(*hp.default_value);
          double moved = std::min(hp.upper, std::max(hp.lower, x));
          if (hp.step) moved = hp.lower + std::round((moved - hp.lower) / *hp.step) * *hp.step;
          hp.default_value = hp.type == Type::integer ? Value{static_cast<std::int64_t>(std::llround(moved))} : Value{moved};
        } else {
          hp.default_value.reset();
        }
      }
      if (hp.type == Type::categorical && hp.choices.size() == 1) make_constant(hp, hp.choices[0]); // one choice left
    }
    try {
      space::validate(hp);
    } catch (const space::SpaceError& e) {
      const auto f = fields.find(e.field());
      fail_at(f != fields.end() ? f->second : location_of(file, entry.first), e.what());
    }
    it->hp = hp;
    for (const auto& [key, where] : fields) it->fields[key] = where;
    if (node["value"]) it->where = fields["value"];
  }
  source.updated = true;
}

space::SearchSpace build_space(const SpaceSource& source) {
  space::SearchSpace space;
  std::set<std::string> removed;
  for (const auto& src : source.hyperparameters) {
    auto hp = src.hp;
    if (source.updated) {
      auto kept = space.prune(hp, removed);
      if (!kept) {
        removed.insert(hp.name);
        continue;
      }
      hp = *kept;
    }
    try {
      space.add(hp);
    } catch (const space::SpaceError& e) {
      const auto f = src.fields.find(e.field());
      fail_at(f != src.fields.end() ? f->second : src.where, e.what());
    }
  }
  for (const auto& f : source.forbidden) {
    auto clause = f.clause;
    if (source.updated) {
      auto kept = space.prune(clause);
      if (!kept) continue;
      clause = *kept;
    }
    try {
      space.add_forbidden(clause);
    } catch (const space::SpaceError& e) {
      fail_at(f.where, e.what());
    }
  }
  return space;
}

} // namespace automl::config
