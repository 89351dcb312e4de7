#include "study/storage.hpp"

#include "core/error.hpp"
#include "study/claim_cache.hpp"
#include "study/postgres_storage.hpp"
#include "study/sqlite_storage.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace automl::study {
namespace {

struct StorageScheme {
  const char* scheme;
  const char* example;
  bool one_machine; // every process that opens it runs on the machine that holds the file
  std::unique_ptr<Storage> (*open)(const std::string& rest, const std::string& url, const StorageOptions& options);
};

// libpq reads the URL itself (user, password, host, port, database, ?parameters; PG* variables fill the rest).
std::unique_ptr<Storage> open_postgres(const std::string&, const std::string& url, const StorageOptions& options) {
  return std::make_unique<PostgresStorage>(url, options);
}

// "sqlite:///" + path, as SQLAlchemy and Optuna spell it: the path after the third slash (relative), or
// starting with a fourth slash (absolute).
const StorageScheme k_storage_schemes[] = {
    {"sqlite", "sqlite:///runs/study.db", true,
     [](const std::string& rest, const std::string& url, const StorageOptions& options) -> std::unique_ptr<Storage> {
       if (rest.rfind("/", 0) != 0 || rest.size() < 2)
         throw InputError("storage URL '" + url + "': expected sqlite:///path/to/study.db");
       SqliteOptions sqlite;
       sqlite.busy_timeout_ms = static_cast<int>(std::clamp(options.lock_timeout_s, 0.0, 3600.0) * 1000);
       sqlite.read_only = options.read_only;
       return std::make_unique<SqliteStorage>(rest.substr(1), sqlite);
     }},
    {"postgresql", "postgresql://user:password@host:5432/db", false, open_postgres},
    {"postgres", "postgres://user:password@host:5432/db", false, open_postgres},
};

} // namespace

void check_may_resume(const StudySpec& spec, const std::string& where) {
  if (spec.must_be_new)
    throw InputError(fmt::format("study '{}' already exists in {}: another process created it as this search started; "
                                 "pass --resume to share it, or --out DIR for a new one",
                                 spec.name, where));
}

void check_same_space_and_seed(const StudyRecord& stored, const std::string& space_fingerprint, std::uint64_t seed,
                               const std::string& where) {
  if (stored.space_fingerprint != space_fingerprint)
    throw InputError(fmt::format("study '{}' in {} cannot be resumed: its search space changed (fingerprint {} "
                                 "stored, {} now); use a new study name or database",
                                 stored.name, where, stored.space_fingerprint, space_fingerprint));
  if (stored.seed != seed)
    throw InputError(fmt::format("study '{}' cannot be resumed: setting 'seed' was {}, now {}", stored.name,
                                 stored.seed, seed));
}

StudyRecord created_study(std::int64_t id, const StudySpec& spec) {
  StudyRecord record;
  record.id = id;
  record.name = spec.name;
  record.space_fingerprint = spec.space_fingerprint;
  record.seed = spec.seed;
  record.settings = spec.settings;
  return record;
}

void check_attempt(const char* what, std::int64_t trial_id, int attempt, const std::string& stored_state,
                   std::int64_t stored_attempts) {
  if (stored_state != "RUNNING" || stored_attempts != attempt)
    throw FencedError(fmt::format("{} of trial {} attempt {} refused: the trial is {} at attempt {} (its lease expired "
                                  "and it was run again, or it finished)",
                                  what, trial_id, attempt, stored_state, stored_attempts));
}

void check_rerun(const std::vector<Trial>& trials, std::int64_t trial_id, std::int64_t study_id) {
  const auto at = std::lower_bound(trials.begin(), trials.end(), trial_id,
                                   [](const Trial& t, std::int64_t id) { return t.id < id; });
  if (at == trials.end() || at->id != trial_id)
    throw Error(fmt::format("claim: trial {} is not in study {}", trial_id, study_id));
  if (is_settled(at->state))
    throw Error(fmt::format("claim: trial {} is {}: only a RUNNING or PRUNED trial can be run again", trial_id,
                            to_string(at->state)));
}

// Settings are compared key by key so that the message can name what changed.
void check_same_settings(const std::string& study, const nlohmann::json& stored, const nlohmann::json& wanted) {
  for (const auto& [key, value] : wanted.items()) {
    const auto it = stored.find(key);
    if (it == stored.end() || *it != value)
      throw InputError(fmt::format("study '{}' cannot be resumed: setting '{}' was {}, now {}", study, key,
                                   it == stored.end() ? std::string("unset") : it->dump(), value.dump()));
  }
}

std::vector<std::string> storage_schemes() {
  std::vector<std::string> names;
  for (const auto& s : k_storage_schemes) names.emplace_back(s.scheme);
  return names;
}

namespace {

// The scheme of `url` (before "://"), or null when it has none or an unknown one.
const StorageScheme* scheme_of(const std::string& url) {
  const auto separator = url.find("://");
  if (separator == std::string::npos) return nullptr;
  for (const auto& s : k_storage_schemes)
    if (url.compare(0, separator, s.scheme) == 0) return &s;
  return nullptr;
}

} // namespace

bool one_machine_storage(const std::string& url) {
  const auto* scheme = scheme_of(url);
  return scheme && scheme->one_machine;
}

std::unique_ptr<Storage> open_storage(const std::string& url, const StorageOptions& options) {
  const auto separator = url.find("://");
  const auto valid = [] {
    std::vector<std::string> examples;
    for (const auto& s : k_storage_schemes) examples.emplace_back(s.example);
    return fmt::format("{}", fmt::join(examples, ", "));
  };
  if (separator == std::string::npos || separator == 0)
    throw InputError("storage URL '" + url + "': expected SCHEME://...; valid: " + valid());
  if (const auto* scheme = scheme_of(url)) return scheme->open(url.substr(separator + 3), url, options);
  throw InputError("storage URL '" + url + "': unknown scheme '" + url.substr(0, separator) + "'; valid: " + valid());
}

} // namespace automl::study
