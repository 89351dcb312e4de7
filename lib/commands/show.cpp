#include "commands/show.hpp"

#include "commands/study_report.hpp"
#include "commands/study_source.hpp"
#include "core/clock.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <nlohmann/json.hpp>

#include <ostream>
#include <string>
#include <vector>

namespace automl::commands {

namespace {

// A worker token is "host:pid:start-ticks:run#wN" (exec/owner.hpp); other writers may put anything there.
std::vector<std::string> token_fields(const std::string& worker) {
  std::vector<std::string> fields;
  const std::string token = worker.substr(0, worker.find('#'));
  std::size_t start = 0;
  for (std::size_t colon; (colon = token.find(':', start)) != std::string::npos; start = colon + 1)
    fields.push_back(token.substr(start, colon - start));
  fields.push_back(token.substr(start));
  return fields;
}

nlohmann::json worker_host(const std::string& worker) {
  const auto fields = token_fields(worker);
  return fields.size() == 4 ? nlohmann::json(fields[0]) : nlohmann::json();
}

nlohmann::json worker_pid(const std::string& worker) {
  const auto fields = token_fields(worker);
  if (fields.size() != 4 || fields[1].empty() || fields[1].find_first_not_of("0123456789") != std::string::npos ||
      fields[1].size() > 9)
    return nullptr;
  return std::stol(fields[1]);
}

nlohmann::json trial_json(const study::Trial& t, double now) {
  const auto acc = trial_accuracy(t);
  return {{"id", t.id},
          {"config_id", nlohmann::json::parse(t.config_id())},
          {"state", study::to_string(t.state)},
          {"budget", t.budget},
          {"val_accuracy", acc ? nlohmann::json(*acc) : nlohmann::json()},
          {"seconds", trial_seconds(t, now)},
          {"attempts", t.attempts},
          {"worker", t.worker},
          {"host", worker_host(t.worker)},
          {"pid", worker_pid(t.worker)},
          {"started_at", t.started_at},
          {"finished_at", t.finished_at ? nlohmann::json(*t.finished_at) : nlohmann::json()},
          {"lease_expires_at", t.lease_expires_at ? nlohmann::json(*t.lease_expires_at) : nlohmann::json()},
          {"lease_expired", t.lease_expired},
          {"parent_id", t.parent_id ? nlohmann::json(*t.parent_id) : nlohmann::json()},
          {"error", t.error},
          {"config", study::config_object(t)}};
}

} // namespace

int show(const ShowOptions& o, std::ostream& out) {
  const auto report = read_study(o.dir, o.storage, o.study, "show").report;
  const double now = core::unix_now();
  if (o.json) {
    auto j = summary_json(report);
    j["all_trials"] = nlohmann::json::array();
    for (const auto& t : report.trials) j["all_trials"].push_back(trial_json(t, now));
    out << j.dump(2) << "\n";
    return 0;
  }
  print_summary(out, report);
  if (!report.trials.empty()) {
    fmt::print(out, "\nTrials:\n");
    print_trial_table(out, report, now);
  }
  print_failures(out, report);
  return 0;
}

} // namespace automl::commands
