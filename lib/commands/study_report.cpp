#include "commands/study_report.hpp"

#include "report/analysis.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>
#include <set>

namespace automl::commands {

namespace {

// Widest a parameter cell of the trial table gets before it is cut.
constexpr std::size_t k_max_cell = 14;

std::string value_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fmt::format("{:.6g}", v.get<double>());
  return v.dump();
}

// The last part of a hyperparameter name: network:shapedresnet:max_units -> max_units.
std::string short_name(const std::string& name) {
  const auto colon = name.rfind(':');
  return colon == std::string::npos ? name : name.substr(colon + 1);
}

std::string budget_text(double budget) { return fmt::format("{:g}", budget); }

// What best_config.json adds to the stored trial, when it belongs to trial `trial_id`.
struct BestConfigFacts {
  std::optional<double> test_accuracy;
  std::string test;
  bool refit_requested = false;
  bool refit_done = false;
  std::string refit_reason;
  std::size_t refit_models = 0;     // models the refit was for (the ensemble's members, or the best trial)
  std::size_t refit_models_done = 0;
  std::string ensemble; // "N trials (ids), validation accuracy X" when the exported model is an ensemble
};

std::optional<BestConfigFacts> best_config_facts(const nlohmann::json& j, std::int64_t trial_id) {
  if (!j.is_object()) return std::nullopt;
  const auto id = j.find("trial_id");
  if (id == j.end() || !id->is_number_integer() || id->get<std::int64_t>() != trial_id) return std::nullopt;
  BestConfigFacts f;
  if (const auto acc = j.find("test_accuracy"); acc != j.end() && acc->is_number()) f.test_accuracy = acc->get<double>();
  if (const auto test = j.find("test"); test != j.end() && test->is_string()) f.test = test->get<std::string>();
  if (const auto refit = j.find("refit"); refit != j.end() && refit->is_object()) {
    for (const auto& [key, value] : refit->items()) {
      if (key == "requested" && value.is_boolean()) f.refit_requested = value.get<bool>();
      if (key == "done" && value.is_boolean()) f.refit_done = value.get<bool>();
      if (key == "reason" && value.is_string()) f.refit_reason = value.get<std::string>();
      if (key == "models" && value.is_array())
        for (const auto& m : value) {
          ++f.refit_models;
          if (m.is_object() && m.value("done", false)) ++f.refit_models_done;
        }
    }
  }
  if (const auto e = j.find("ensemble"); e != j.end() && e->is_object()) {
    std::vector<std::string> ids;
    if (const auto members = e->find("members"); members != e->end() && members->is_array())
      for (const auto& m : *members)
        if (m.is_object() && m.contains("trial_id")) ids.push_back(m["trial_id"].dump());
    const auto acc = e->find("val_accuracy");
    f.ensemble = fmt::format("an ensemble of {} trials ({}){}", ids.size(), fmt::join(ids, ", "),
                             acc != e->end() && acc->is_number() ? fmt::format(", validation accuracy {:.4f}", acc->get<double>()) : "");
  }
  return f;
}

} // namespace

TrialCounts count_trials(const std::vector<study::Trial>& trials) {
  TrialCounts c;
  for (const auto& t : trials) {
    ++c.total;
    switch (t.state) {
    case study::TrialState::complete: ++c.complete; break;
    case study::TrialState::pruned: ++c.pruned; break;
    case study::TrialState::fail: ++c.failed; break;
    case study::TrialState::running: ++c.running; break;
    }
  }
  return c;
}

double trial_seconds(const study::Trial& t, double now) { return t.finished_at.value_or(now) - t.started_at; }

std::vector<std::string> varying_parameters(const std::vector<study::Trial>& trials) {
  std::vector<nlohmann::json> configs;
  configs.reserve(trials.size());
  for (const auto& t : trials) configs.push_back(study::config_object(t));
  return report::varying_parameters(configs);
}

void print_summary(std::ostream& out, const StudyReport& r) {
  const auto c = count_trials(r.trials);
  fmt::print(out, "Study '{}' in {}\n", r.study, r.storage);
  fmt::print(out, "  trials: {} ({} complete, {} pruned, {} failed, {} running)\n", c.total, c.complete, c.pruned,
             c.failed, c.running);
  if (!r.best) {
    fmt::print(out, "  no trial has completed\n");
  } else {
    const auto& b = *r.best;
    fmt::print(out, "Best trial: {} (config {}, budget {} {}, seed {})\n", b.id, b.config_id(), budget_text(b.budget),
               r.budget_unit, b.seed);
    fmt::print(out, "  validation accuracy: {:.4f}\n", trial_accuracy(b).value_or(std::nan("")));
    if (const auto extra = best_config_facts(r.best_config, b.id)) {
      if (!extra->ensemble.empty()) fmt::print(out, "  exported model:      {}\n", extra->ensemble);
      if (extra->test_accuracy)
        fmt::print(out, "  test accuracy:       {:.4f} ({})\n", *extra->test_accuracy, extra->test);
      if (extra->refit_requested || extra->refit_done) {
        std::string text = std::string(extra->refit_models > 1 ? "the members' own weights" : "the trial's own weights") +
                           " (refit skipped: " + extra->refit_reason + ")";
        if (extra->refit_done) text = "refit on train+validation";
        else if (extra->refit_models_done > 0)
          text = fmt::format("{} of {} members refit on train+validation, the others with their own weights ({})",
                             extra->refit_models_done, extra->refit_models, extra->refit_reason);
        fmt::print(out, "  exported model:      {}\n", text);
      }
    }
    fmt::print(out, "  params:\n");
    const auto config = study::config_object(b);
    for (const auto& [key, value] : config.items()) fmt::print(out, "    {}: {}\n", key, value_text(value));
  }
  if (!r.out_dir.empty()) {
    fmt::print(out, "Files in {}:\n", r.out_dir);
    for (const auto& f : r.files) fmt::print(out, "  {}\n", f);
  }
}

void print_trial_table(std::ostream& out, const StudyReport& r, double now) {
  const auto params = varying_parameters(r.trials);
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header{"id", "config", "state", "budget", "val_acc", "seconds"};
  for (const auto& p : params) header.push_back(short_name(p));
  rows.push_back(header);
  for (const auto& t : r.trials) {
    const auto acc = trial_accuracy(t);
    std::vector<std::string> row{std::to_string(t.id),
                                 t.config_id(),
                                 study::to_string(t.state),
                                 budget_text(t.budget),
                                 acc ? fmt::format("{:.4f}", *acc) : "-",
                                 fmt::format("{:.1f}", trial_seconds(t, now))};
    const auto config = study::config_object(t);
    for (const auto& p : params) {
      auto cell = config.contains(p) ? value_text(config[p]) : "-";
      if (cell.size() > k_max_cell) cell = cell.substr(0, k_max_cell - 1) + "~";
      row.push_back(cell);
    }
    rows.push_back(row);
  }
  std::vector<std::size_t> widths(header.size(), 0);
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i)
      line += (i ? "  " : "") + row[i] + (i + 1 < row.size() ? std::string(widths[i] - row[i].size(), ' ') : "");
    fmt::print(out, "{}\n", line);
  }
}

void print_failures(std::ostream& out, const StudyReport& r) {
  bool any = false;
  for (const auto& t : r.trials) {
    if (t.state != study::TrialState::fail) continue;
    if (!any) fmt::print(out, "Failed trials:\n");
    any = true;
    fmt::print(out, "  trial {} (config {}, budget {}): {}\n", t.id, t.config_id(), budget_text(t.budget), t.error);
  }
}

nlohmann::json summary_json(const StudyReport& r) {
  const auto c = count_trials(r.trials);
  nlohmann::json j{{"study", r.study},
                   {"storage", r.storage},
                   {"budget_unit", r.budget_unit},
                   {"trials", {{"total", c.total}, {"complete", c.complete}, {"pruned", c.pruned}, {"failed", c.failed}, {"running", c.running}}}};
  if (r.best) {
    const auto acc = trial_accuracy(*r.best);
    j["best"] = {{"trial_id", r.best->id},
                 {"config_id", nlohmann::json::parse(r.best->config_id())},
                 {"budget", r.best->budget},
                 {"val_accuracy", acc ? nlohmann::json(*acc) : nlohmann::json()},
                 {"seed", r.best->seed},
                 {"params", study::config_object(*r.best)}};
  } else {
    j["best"] = nullptr;
  }
  j["best_config"] = r.best_config;
  j["out_dir"] = r.out_dir;
  j["files"] = r.files;
  return j;
}

} // namespace automl::commands
