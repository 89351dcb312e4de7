#include "commands/study_source.hpp"

#include "core/error.hpp"
#include "exec/search.hpp"
#include "study/storage.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

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

} // namespace

StudySource read_study(const std::string& dir, const std::string& storage, const std::string& study,
                       const std::string& command) {
  if (dir.empty() && storage.empty()) throw InputError(command + ": give an output directory (DIR) or --storage URL");
  StudyReport report;
  std::string storage_url = storage;
  std::string study_name = study;
  nlohmann::json effective;
  if (!dir.empty()) {
    if (!fs::is_directory(dir))
      throw InputError(fmt::format("{}: {}", dir, fs::exists(dir) ? "not a directory (give a search's --out directory)"
                                                                   : "no such directory"));
    effective = read_json_file(fs::path(dir) / "effective_config.json");
    // The default storage is the directory's own study.db, wherever the directory now is (the recorded URL is
    // relative to where the search ran, and names the original after a copy).
    const bool own_storage = effective.is_object() && effective.contains("options") &&
                             string_at(effective.at("options"), "storage").empty();
    if (storage_url.empty() && own_storage) storage_url = "sqlite:///" + (fs::path(dir) / "study.db").string();
    if (effective.is_object()) {
      if (storage_url.empty()) storage_url = string_at(effective, "storage");
      if (study_name.empty()) study_name = string_at(effective, "study");
      if (effective.contains("run") && effective.at("run").contains("budget"))
        report.budget_unit = string_at(effective.at("run").at("budget"), "budget_type") == "time" ? "s" : "epochs";
    } else if (storage_url.empty()) {
      if (!fs::exists(fs::path(dir) / "study.db"))
        throw InputError(fmt::format("{}: not an output directory of automl search (no effective_config.json or study.db)", dir));
      storage_url = "sqlite:///" + (fs::path(dir) / "study.db").string();
    }
    report.out_dir = dir;
    for (const char* f : {"best_model.pt", "best_config.json", "effective_config.json", "trials.csv", "configs.json",
                          "results.json", "study.db", "search.log"})
      if (fs::exists(fs::path(dir) / f)) report.files.push_back(f);
  }
  check_storage_exists(storage_url);
  study::StorageOptions read_only;
  read_only.read_only = true; // show and report never write, and work while a search runs
  const auto store = study::open_storage(storage_url, read_only);
  const auto studies = store->studies();
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
  report.trials = store->trials(found->id);
  report.best = exec::best_trial(report.trials);
  if (!dir.empty()) {
    report.best_config = read_json_file(fs::path(dir) / "best_config.json");
    if (report.best_config.is_object() && string_at(report.best_config, "study") != study_name) report.best_config = nullptr;
  }
  return {std::move(report), std::move(effective)};
}

} // namespace automl::commands
