#pragma once
// Storage in one SQLite file: WAL journal (readers never block the writer), a busy timeout (writers wait
// instead of failing with "database is locked"), every write in a BEGIN IMMEDIATE transaction (the write lock
// is taken up front, so two writers never deadlock on a lock upgrade).
// Thread safety: one connection per object, guarded by a mutex; processes coordinate through SQLite's locks.

#include "study/claim_cache.hpp"
#include "study/storage.hpp"

#include <mutex>
#include <string>

struct sqlite3;

namespace automl::study {

// Example: SqliteOptions o; o.busy_timeout_ms = 120000;
struct SqliteOptions {
  int busy_timeout_ms = 60000; // how long a writer waits for another one before failing
  bool read_only = false;      // open an existing database without creating, migrating or writing anything
};

// The version of the tables this automl writes (PRAGMA user_version): 1 added leases, 2 the checkpoints'
// archives. An older version is migrated when opened for writing; a higher version, written by a newer automl,
// is refused.
constexpr int k_sqlite_schema_version = 2;

class SqliteStorage final : public Storage {
public:
  // Creates the file and the schema when missing (not its directory: InputError when that is missing, or when
  // `path` is not a regular file). Throws Error when it cannot open it.
  explicit SqliteStorage(const std::string& path, const SqliteOptions& options = SqliteOptions{});
  ~SqliteStorage() override;
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  StudyRecord open_study(const StudySpec& spec) override;
  std::optional<Trial> claim(std::int64_t study_id, const ClaimDecider& decide, const std::string& worker,
                             double now, double lease_s) override;
  bool renew_lease(std::int64_t trial_id, int attempt, double lease_s) override;
  std::vector<StudyRecord> studies() override;
  void set_study_setting(std::int64_t study_id, const std::string& key, const nlohmann::json& value) override;
  std::vector<Trial> trials(std::int64_t study_id) override;
  Trial trial(std::int64_t trial_id) override;
  void set_metrics(std::int64_t trial_id, int attempt, const std::vector<Metric>& metrics) override;
  void finish(std::int64_t trial_id, int attempt, TrialState state, std::optional<double> loss,
              const std::vector<Metric>& metrics, const std::string& error, double now) override;
  void set_checkpoint(std::int64_t trial_id, int attempt, double budget, const std::string& reference,
                      std::optional<std::string_view> archive) override;
  std::optional<std::string> checkpoint(std::int64_t trial_id) override;
  std::optional<std::string> checkpoint_archive(std::int64_t trial_id) override;
  void drop_checkpoints(const std::vector<std::int64_t>& trial_ids) override;

private:
  std::vector<Trial> load_trials(const char* where, std::int64_t key);
  // Every trial of the study, reading only what may have changed since this object's last claim (ClaimCache);
  // inside the claim's transaction.
  const std::vector<Trial>& read_for_claim(std::int64_t study_id);
  // Refuses a newer or foreign database; creates or migrates the tables unless read_only.
  void check_schema(bool read_only);
  // Throws FencedError unless attempt `attempt` of the trial is RUNNING (inside a write transaction).
  void check_owner(std::int64_t trial_id, int attempt, const char* what);

  std::string m_path;
  sqlite3* m_db = nullptr;
  std::mutex m_mutex;
  ClaimCache m_claimed; // what the claims read, guarded by m_mutex
};

} // namespace automl::study
