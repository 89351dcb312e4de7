#include "commands/show.hpp"

#include "commands/study_report.hpp"
#include "core/error.hpp"
#include "exec/search.hpp"
#include "study/storage.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <ostream>

namespace automl::commands {

namespace {

namespace fs = std::filesystem;

nlohmann::json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return nullptr;
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: not valid JSON: {}", path.string(), e.what()));
  }
}

// The string at `key` of an object, or `fallback`.
std::string string_at(const nlohmann::json& j, const char* key, const std::string& fallback = "") {
  if (!j.is_object() || !j.contains(key) || !j.at(key).is_string()) return fallback;
  return j.at(key).get<std::string>();
}

// An SQLite URL names a file; opening a missing one would create an empty database.
void check_storage_exists(const std::string& url) {
  const std::string scheme = "sqlite:///";
  if (url.rfind(scheme, 0) != 0) return;
  const auto path = url.substr(scheme.size());
  if (!fs::exists(path)) throw InputError(fmt::format("storage {}: no such database file '{}'", url, path));
}

nlohmann::json trial_json(const study::Trial& t, double now) {
  const auto acc = trial_accuracy(t);
  nlohmann::json config = nlohmann::json::object();
  try {
    config = nlohmann::json::parse(t.config);
  } catch (const nlohmann::json::exception&) {
  }
  return {{"id", t.id},
          {"config_id", nlohmann::json::parse(t.config_id())},
          {"state", study::to_string(t.state)},
          {"budget", t.budget},
          {"val_accuracy", acc ? nlohmann::json(*acc) : nlohmann::json()},
          {"seconds", trial_seconds(t, now)},
          {"attempts", t.attempts},
          {"parent_id", t.parent_id ? nlohmann::json(*t.parent_id) : nlohmann::json()},
          {"error", t.error},
          {"config", config}};
}

} // namespace

int show(const ShowOptions& o, std::ostream& out) {
  if (o.dir.empty() && o.storage.empty()) throw InputError("show: give an output directory (DIR) or --storage URL");
  StudyReport report;
  std::string storage_url = o.storage;
  std::string study_name = o.study;
  nlohmann::json effective;
  if (!o.dir.empty()) {
    if (!fs::is_directory(o.dir)) throw InputError(fmt::format("{}: no such directory", o.dir));
    effective = read_json_file(fs::path(o.dir) / "effective_config.json");
    // The default storage is the directory's own study.db, wherever the directory now is (the recorded URL is
    // relative to where the search ran, and names the original after a copy).
    const bool own_storage = effective.is_object() && effective.contains("options") &&
                             string_at(effective.at("options"), "storage").empty();
    if (storage_url.empty() && own_storage) storage_url = "sqlite:///" + (fs::path(o.dir) / "study.db").string();
    if (effective.is_object()) {
      if (storage_url.empty()) storage_url = string_at(effective, "storage");
      if (study_name.empty()) study_name = string_at(effective, "study");
      if (effective.contains("run") && effective.at("run").contains("budget"))
        report.budget_unit = string_at(effective.at("run").at("budget"), "budget_type") == "time" ? "s" : "epochs";
    } else if (storage_url.empty()) {
      if (!fs::exists(fs::path(o.dir) / "study.db"))
        throw InputError(fmt::format("{}: not an output directory of automl search (no effective_config.json or study.db)", o.dir));
      storage_url = "sqlite:///" + (fs::path(o.dir) / "study.db").string();
    }
    report.out_dir = o.dir;
    for (const char* f : {"best_model.pt", "best_config.json", "effective_config.json", "trials.csv", "configs.json",
                          "results.json", "study.db", "search.log"})
      if (fs::exists(fs::path(o.dir) / f)) report.files.push_back(f);
  }
  check_storage_exists(storage_url);
  study::StorageOptions read_only;
  read_only.read_only = true; // show never writes, and works while a search runs
  const auto storage = study::open_storage(storage_url, read_only);
  const auto studies = storage->studies();
  std::vector<std::string> names;
  for (const auto& s : studies) names.push_back(s.name);
  if (studies.empty()) throw InputError(fmt::format("storage {} holds no study", storage_url));
  if (study_name.empty()) {
    if (studies.size() > 1)
      throw InputError(fmt::format("storage {} holds {} studies; pick one with --study: {}", storage_url, studies.size(),
                                   fmt::join(names, ", ")));
    study_name = studies.front().name;
  }
  const auto found = std::find_if(studies.begin(), studies.end(), [&](const auto& s) { return s.name == study_name; });
  if (found == studies.end())
    throw InputError(fmt::format("no study '{}' in {}; studies there: {}", study_name, storage_url, fmt::join(names, ", ")));

  report.study = study_name;
  report.storage = storage_url;
  report.trials = storage->trials(found->id);
  report.best = exec::best_trial(report.trials);
  if (!o.dir.empty()) {
    report.best_config = read_json_file(fs::path(o.dir) / "best_config.json");
    if (report.best_config.is_object() && string_at(report.best_config, "study") != study_name) report.best_config = nullptr;
  }
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
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
