#include "export/trial_logs.hpp"

#include "core/error.hpp"
#include "core/files.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <fstream>
#include <set>
#include <utility>

namespace automl::export_ {
namespace {

std::string csv_field(const std::string& value) {
  if (value.find_first_of(",\"\n\r") == std::string::npos) return value;
  std::string quoted = "\"";
  for (char c : value) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string number(double value) { return fmt::format("{:.17g}", value); }

nlohmann::json config_id_json(const study::Trial& t) { return nlohmann::json::array({t.iteration, 0, t.slot}); }

nlohmann::json metrics_json(const study::Trial& t) {
  nlohmann::json metrics = nlohmann::json::array();
  for (const auto& m : t.metrics) metrics.push_back({m.step, m.value});
  return metrics;
}

nlohmann::json parse_or_string(const std::string& text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    return text;
  }
}

double time_origin(const std::vector<study::Trial>& trials) {
  double origin = trials.empty() ? 0.0 : trials[0].submitted_at;
  for (const auto& t : trials) origin = std::min(origin, t.submitted_at);
  return origin;
}

} // namespace

std::string trials_csv(const std::vector<study::Trial>& trials) {
  std::vector<std::string> keys;
  std::set<std::string> seen;
  std::vector<nlohmann::json> configs;
  for (const auto& t : trials) {
    configs.push_back(parse_or_string(t.config));
    if (!configs.back().is_object()) continue;
    for (const auto& [key, value] : configs.back().items())
      if (seen.insert(key).second) keys.push_back(key);
  }
  static const std::set<std::string> fixed{"trial_id", "config_id", "iteration", "bracket", "rung", "slot",
                                          "budget", "state", "loss", "attempts", "worker", "seed", "submitted_at",
                                          "started_at", "finished_at", "duration_s", "metrics", "error"};
  std::string out = "trial_id,config_id,iteration,bracket,rung,slot,budget,state,loss,attempts,worker,seed,"
                    "submitted_at,started_at,finished_at,duration_s,metrics,error";
  // A hyperparameter named as a column above (every preset has one called loss) is "config:<name>": two columns
  // of one name lose one of them in csv.DictReader.
  for (const auto& key : keys) out += "," + csv_field(fixed.count(key) ? "config:" + key : key);
  out += "\n";
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const auto& t = trials[i];
    std::vector<std::string> row{std::to_string(t.id), csv_field(t.config_id()), std::to_string(t.iteration),
                                 std::to_string(t.bracket), std::to_string(t.rung), std::to_string(t.slot),
                                 number(t.budget), to_string(t.state), t.loss ? number(*t.loss) : "",
                                 std::to_string(t.attempts), csv_field(t.worker), std::to_string(t.seed),
                                 number(t.submitted_at), number(t.started_at),
                                 t.finished_at ? number(*t.finished_at) : "",
                                 t.finished_at ? number(*t.finished_at - t.started_at) : "",
                                 csv_field(metrics_json(t).dump()), csv_field(t.error)};
    for (const auto& key : keys) {
      std::string cell;
      if (configs[i].is_object() && configs[i].contains(key)) {
        const auto& v = configs[i][key];
        cell = v.is_string() ? v.get<std::string>() : v.is_null() ? std::string() : v.dump();
      }
      row.push_back(csv_field(cell));
    }
    for (std::size_t c = 0; c < row.size(); ++c) out += (c ? "," : "") + row[c];
    out += "\n";
  }
  return out;
}

std::string configs_json_lines(const std::vector<study::Trial>& trials) {
  std::string out;
  // A configuration enters its iteration on rung 0, a seed replica (slot 1,000,000 and up) on its incumbent's
  // rung: each configuration id once, from its first trial, so that every id in results.json has its entry.
  std::set<std::pair<std::size_t, std::size_t>> written;
  for (const auto& t : trials) {
    if (!written.emplace(t.iteration, t.slot).second) continue;
    out += nlohmann::json::array({config_id_json(t), parse_or_string(t.config), parse_or_string(t.info)}).dump() + "\n";
  }
  return out;
}

std::string results_json_lines(const std::vector<study::Trial>& trials) {
  const double origin = time_origin(trials);
  std::string out;
  for (const auto& t : trials) {
    if (t.state == study::TrialState::running || !t.finished_at) continue;
    const nlohmann::json timestamps{{"submitted", t.submitted_at - origin},
                                    {"started", t.started_at - origin},
                                    {"finished", *t.finished_at - origin}};
    nlohmann::json result = nlohmann::json(nullptr);
    nlohmann::json exception = nlohmann::json(nullptr);
    if (t.state == study::TrialState::fail) {
      exception = t.error;
    } else {
      nlohmann::json info{{"trial_id", t.id}, {"state", to_string(t.state)}, {"metrics", metrics_json(t)}};
      result = nlohmann::json{{"loss", t.loss ? nlohmann::json(*t.loss) : nlohmann::json(nullptr)}, {"info", info}};
    }
    out += nlohmann::json::array({config_id_json(t), t.budget, timestamps, result, exception}).dump() + "\n";
  }
  return out;
}

void write_trial_logs(const std::filesystem::path& dir, const std::vector<study::Trial>& trials) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("cannot create " + dir.string() + ": " + ec.message());
  core::write_file_atomic(dir / "trials.csv", trials_csv(trials));
  core::write_file_atomic(dir / "configs.json", configs_json_lines(trials));
  core::write_file_atomic(dir / "results.json", results_json_lines(trials));
}

} // namespace automl::export_
