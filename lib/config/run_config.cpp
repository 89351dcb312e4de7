#include "config/run_config.hpp"

#include "config/yaml_node.hpp"
#include "core/error.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <functional>
#include <optional>

namespace automl::config {

namespace {

// One row of the key table: {section, key, type, parse and check, show, help}. The default is what `show`
// gives for a default-constructed RunConfig, so the table cannot disagree with the struct.
struct KeyEntry {
  std::string section;
  std::string key;
  std::string type;
  // Reads and checks the node's value; throws InputError (short text) for a bad one.
  std::function<void(RunConfig&, const std::string& file, const YAML::Node&)> parse;
  std::function<std::string(const RunConfig&)> show;
  std::function<nlohmann::json(const RunConfig&)> json;
  std::string help;
};

using Check = std::function<std::optional<std::string>(double)>;

Check greater_than(double bound) {
  return [bound](double x) -> std::optional<std::string> {
    if (x > bound) return std::nullopt;
    return fmt::format("must be > {}, got {}", bound, x);
  };
}

Check at_least(double bound) {
  return [bound](double x) -> std::optional<std::string> {
    if (x >= bound) return std::nullopt;
    return fmt::format("must be >= {}, got {}", bound, x);
  };
}

Check open_unit_interval() {
  return [](double x) -> std::optional<std::string> {
    if (x > 0 && x < 1) return std::nullopt;
    return fmt::format("must be in (0, 1), got {}", x);
  };
}

template <typename T> using Field = T& (*)(RunConfig&);

template <typename T> T get(const RunConfig& run, Field<T> field) {
  RunConfig copy = run;
  return field(copy);
}

std::string full(const std::string& section, const std::string& key) { return section + "." + key; }

KeyEntry number_key(const std::string& section, const std::string& key, Field<double> field, Check check,
                    const std::string& help) {
  return {section, key, "number",
          [=](RunConfig& run, const std::string& file, const YAML::Node& node) {
            const double x = number_value(file, node, full(section, key));
            if (!std::isfinite(x)) fail_at(file, node, full(section, key) + fmt::format(": must be a finite number, got {}", x));
            if (const auto p = check(x)) fail_at(file, node, full(section, key) + ": " + *p);
            field(run) = x;
          },
          [=](const RunConfig& run) { return fmt::format("{}", get(run, field)); },
          [=](const RunConfig& run) { return nlohmann::json(get(run, field)); }, help};
}

KeyEntry integer_key(const std::string& section, const std::string& key, Field<std::int64_t> field, Check check,
                     const std::string& help) {
  return {section, key, "integer",
          [=](RunConfig& run, const std::string& file, const YAML::Node& node) {
            const auto v = scalar_value(file, node, full(section, key));
            const auto* i = std::get_if<std::int64_t>(&v);
            if (!i) fail_at(file, node, full(section, key) + ": expected an integer, got '" + space::to_string(v) + "'");
            if (const auto p = check(static_cast<double>(*i))) fail_at(file, node, full(section, key) + ": " + *p);
            field(run) = *i;
          },
          [=](const RunConfig& run) { return std::to_string(get(run, field)); },
          [=](const RunConfig& run) { return nlohmann::json(get(run, field)); }, help};
}

KeyEntry bool_key(const std::string& section, const std::string& key, Field<bool> field, const std::string& help) {
  return {section, key, "bool",
          [=](RunConfig& run, const std::string& file, const YAML::Node& node) {
            field(run) = bool_value(file, node, full(section, key));
          },
          [=](const RunConfig& run) { return std::string(get(run, field) ? "true" : "false"); },
          [=](const RunConfig& run) { return nlohmann::json(get(run, field)); }, help};
}

const std::vector<KeyEntry>& key_table() {
  static const std::vector<KeyEntry> table{
      number_key("data", "validation_split", [](RunConfig& r) -> double& { return r.data.validation_split; },
                 open_unit_interval(), "fraction of the training data held out (stratified, seeded) for validation"),
      {"budget", "budget_type", "epochs|time",
       [](RunConfig& run, const std::string& file, const YAML::Node& node) {
         const auto text = string_value(file, node, "budget.budget_type");
         if (text == "epochs") run.budget.budget_type = BudgetType::epochs;
         else if (text == "time") run.budget.budget_type = BudgetType::time;
         else fail_at(file, node, "budget.budget_type: expected epochs or time, got '" + text + "'");
       },
       [](const RunConfig& run) { return to_string(run.budget.budget_type); },
       [](const RunConfig& run) { return nlohmann::json(to_string(run.budget.budget_type)); },
       "what a trial's budget counts: epochs (fractions allowed) or seconds"},
      number_key("budget", "min_budget", [](RunConfig& r) -> double& { return r.budget.min_budget; }, greater_than(0),
                 "budget of the lowest Hyperband rung"),
      number_key("budget", "max_budget", [](RunConfig& r) -> double& { return r.budget.max_budget; }, greater_than(0),
                 "budget of the highest rung (>= min_budget)"),
      number_key("budget", "eta", [](RunConfig& r) -> double& { return r.budget.eta; }, greater_than(1),
                 "Hyperband's factor between rungs: the best 1/eta move up"),
      number_key("budget", "typical_pace", [](RunConfig& r) -> double& { return r.budget.typical_pace; }, greater_than(0),
                 "a sampled configuration's training time over the default's, on average (for the anytime rungs)"),
      bool_key("budget", "portfolio_to_largest_rung", [](RunConfig& r) -> bool& { return r.budget.portfolio_to_largest_rung; },
               "the portfolio's entries go on to the largest rung as soon as they finish each rung"),
      integer_key("training", "early_stopping_patience",
                  [](RunConfig& r) -> std::int64_t& { return r.training.early_stopping_patience; }, at_least(0),
                  "stop a trial after this many epochs without improvement; 0 = never"),
      bool_key("training", "best_over_epochs", [](RunConfig& r) -> bool& { return r.training.best_over_epochs; },
               "report a trial's best validation accuracy over its epochs instead of the last"),
      integer_key("training", "eval_batch_size", [](RunConfig& r) -> std::int64_t& { return r.training.eval_batch_size; },
                  at_least(1), "batch size when computing validation accuracy"),
  };
  return table;
}

} // namespace

std::string to_string(DataKind kind) { return kind == DataKind::image ? "image" : "feature"; }
std::string to_string(BudgetType type) { return type == BudgetType::time ? "time" : "epochs"; }

std::vector<RunConfigKey> run_config_keys() {
  std::vector<RunConfigKey> keys;
  const RunConfig defaults;
  for (const auto& e : key_table()) keys.push_back({full(e.section, e.key), e.type, e.show(defaults), e.help});
  return keys;
}

void apply_section(RunConfig& run, const std::string& file, const std::string& section, const YAML::Node& node) {
  std::vector<std::string> allowed;
  for (const auto& e : key_table())
    if (e.section == section) allowed.push_back(e.key);
  check_keys(file, node, allowed, section);
  for (const auto& entry : node) {
    const auto key = entry.first.Scalar();
    for (const auto& e : key_table())
      if (e.section == section && e.key == key) e.parse(run, file, entry.second);
  }
}

void check_run_config(const RunConfig& run, const std::string& where) {
  if (run.budget.min_budget > run.budget.max_budget)
    throw InputError(fmt::format("{}: budget.min_budget {} > budget.max_budget {}", where, run.budget.min_budget,
                                 run.budget.max_budget));
}

std::vector<std::pair<std::string, std::string>> describe(const RunConfig& run) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : key_table()) out.emplace_back(full(e.section, e.key), e.show(run));
  return out;
}

nlohmann::json to_json(const RunConfig& run) {
  nlohmann::json j{{"description", run.description}, {"kind", to_string(run.kind)}};
  for (const auto& e : key_table()) j[e.section][e.key] = e.json(run);
  return j;
}

} // namespace automl::config
