#pragma once
// Storage in a PostgreSQL database, through libpq: `postgresql://user:pass@host:port/db` (also `postgres://`,
// URL parameters such as `?sslmode=require` or `?options=-csearch_path%3Dmy_schema`, and libpq's environment
// variables PGHOST, PGPASSWORD, ... for whatever the URL leaves out). The tables live in the connection's
// search_path, so one database can hold several stores in different schemas.
//
// Claims serialize on the study's row (`SELECT ... FOR UPDATE`, as Optuna's RDB storage locks the study):
// every claimer reads the same trials and decides in turn, which keeps the optimizer's state a pure function
// of the stored trials. Each operation runs in its own transaction; a lock another session holds is waited for
// at most StorageOptions::lock_timeout_s, then the operation fails with Error.
// Thread safety: one connection per object, guarded by a mutex; processes and hosts coordinate through the server.

#include "study/claim_cache.hpp"
#include "study/storage.hpp"

#include <memory>
#include <mutex>
#include <string>

struct pg_conn;

namespace automl::study {

class PostgresStorage final : public Storage {
public:
  // Connects and creates the tables when missing. Error when the server cannot be reached or refuses
  // (the message is libpq's, with the password left out of the URL).
  PostgresStorage(const std::string& url, const StorageOptions& options = StorageOptions{});
  ~PostgresStorage() override;
  PostgresStorage(const PostgresStorage&) = delete;
  PostgresStorage& operator=(const PostgresStorage&) = delete;

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
  // Throws FencedError unless attempt `attempt` of the trial is RUNNING (inside a transaction, row locked).
  void check_owner(std::int64_t trial_id, int attempt, const char* what);
  // Every trial of the study, reading only what may have changed since this object's last claim (ClaimCache);
  // inside the claim's transaction, the study's row locked.
  const std::vector<Trial>& read_for_claim(std::int64_t study_id);
  std::int64_t insert_trial(std::int64_t study_id, std::uint64_t study_seed, const NewTrial& trial,
                            const std::string& worker, double now, double lease_s);

  std::string m_where; // the URL without its password, for messages
  pg_conn* m_conn = nullptr;
  std::mutex m_mutex;
  ClaimCache m_claimed; // what the claims read, guarded by m_mutex
};

// The URL with the password (user:PASSWORD@) replaced by "***".
std::string redact_url_password(const std::string& url);

} // namespace automl::study
