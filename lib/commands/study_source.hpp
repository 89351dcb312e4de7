#pragma once
// Opening a study for reading, as `automl show` and `automl report` take it: an output directory of
// `automl search` (its own study.db, or the storage its effective_config.json names) or a storage URL, and the
// study's name (optional when the storage holds one). Nothing is created or changed.

#include "commands/study_report.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace automl::commands {

struct StudySource {
  StudyReport report;       // study, storage, budget unit, trials, best trial, best_config.json, files
  nlohmann::json effective; // effective_config.json of the directory, or null
};

// `command` names the caller in the message when neither `dir` nor `storage` is given. Throws InputError (exit 2)
// for a missing directory, a directory that is not a search's output, a missing SQLite file, a storage without
// the study (listing the studies there), and JSON files that do not parse.
StudySource read_study(const std::string& dir, const std::string& storage, const std::string& study,
                       const std::string& command);

} // namespace automl::commands
