#include "commands/show.hpp"

#include "commands/study_report.hpp"
#include "commands/study_source.hpp"
#include "core/clock.hpp"
#include "exec/owner.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <nlohmann/json.hpp>

#include <ostream>

namespace automl::commands {

namespace {

nlohmann::json trial_json(const study::Trial& t, double now) {
  const auto acc = trial_accuracy(t);
  const auto owner = exec::parse_owner(t.worker);
  return {{"id", t.id},
          {"config_id", nlohmann::json::parse(t.config_id())},
          {"state", study::to_string(t.state)},
          {"budget", t.budget},
          {"val_accuracy", acc ? nlohmann::json(*acc) : nlohmann::json()},
          {"seconds", trial_seconds(t, now)},
          {"attempts", t.attempts},
          {"worker", t.worker},
          {"host", owner ? nlohmann::json(owner->host) : nlohmann::json()},
          {"pid", owner ? nlohmann::json(owner->pid) : nlohmann::json()},
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
