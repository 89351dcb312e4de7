#pragma once
// Where studies and their trials live. Chosen by URL: `sqlite:///path/study.db` (relative path; four slashes
// for an absolute one). The store is the truth: the optimizer state is rebuilt from what claim() shows it, so a
// resumed study and several processes on one database go through the same code.
//
// Thread safety: every method may be called from several threads at once; each call is atomic. Several
// processes may open the same database at once. Times are seconds since the Unix epoch.

#include "core/error.hpp"
#include "study/trial.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace automl::study {

// Example: StudySpec spec; spec.name = "mnist"; spec.space_fingerprint = fp; spec.seed = 1;
struct StudySpec {
  std::string name;              // required
  std::string space_fingerprint; // required: a resume with a different one is refused
  std::uint64_t seed = 0;
  nlohmann::json settings = nlohmann::json::object(); // what must not change on resume (optimizer, budgets, ...)
  // Refuse an existing study (InputError) instead of resuming it: a search without --resume that another process
  // created the study for since it looked.
  bool must_be_new = false;
};

struct StudyRecord {
  std::int64_t id = 0;
  std::string name;
  std::string space_fingerprint;
  std::uint64_t seed = 0;
  nlohmann::json settings;
  bool resumed = false; // it existed before this open_study()
};

// Throws InputError when `stored` cannot be resumed with this space fingerprint and seed, naming what changed
// (`where`: the storage, for the message). Storages call it when a study is opened; a caller may call it
// earlier, before spending time on a run that the storage would refuse.
// Throws InputError when `spec` must be new (StudySpec::must_be_new): study `spec.name` was found in `where`.
void check_may_resume(const StudySpec& spec, const std::string& where);
void check_same_space_and_seed(const StudyRecord& stored, const std::string& space_fingerprint, std::uint64_t seed,
                               const std::string& where);

// The record of a study just created from `spec` (resumed = false).
StudyRecord created_study(std::int64_t id, const StudySpec& spec);

// For the storages' fenced writes: throws FencedError naming `what` unless the trial, as stored now, is RUNNING at
// attempt `attempt`.
void check_attempt(const char* what, std::int64_t trial_id, int attempt, const std::string& stored_state,
                   std::int64_t stored_attempts);

// Throws InputError naming the first setting in `wanted` whose stored value differs (or is missing).
void check_same_settings(const std::string& study, const nlohmann::json& stored, const nlohmann::json& wanted);

// What claim()'s decider chose: nothing, a new trial, or running an existing one again.
struct ClaimDecision {
  enum class Kind { none, insert, rerun };
  Kind kind = Kind::none;
  NewTrial trial;             // for insert
  // For rerun: a RUNNING or PRUNED trial of the study (an interrupted attempt); its metrics, loss and error are
  // cleared, attempts + 1. A COMPLETE or FAIL trial is settled: it is never run again (claim throws Error).
  std::int64_t rerun_id = 0;
};

// Sees every trial of the study (by ascending id) inside the claim's transaction. May throw; nothing is written
// then. May be called again in the same claim (PostgreSQL: when the trial it chose to run again was finished by
// its worker in the meantime); only the last decision is written.
using ClaimDecider = std::function<ClaimDecision(const std::vector<Trial>& trials)>;

// For the storages' claims: throws Error unless trial `trial_id` is among `trials` (by ascending id) and not settled.
void check_rerun(const std::vector<Trial>& trials, std::int64_t trial_id, std::int64_t study_id);

// A write of an attempt that no longer owns its trial: the trial was run again (its lease expired, attempt + 1
// runs it now) or has finished. The write is refused, nothing changes (fencing by attempt).
class FencedError : public Error {
public:
  using Error::Error;
};

class Storage {
public:
  virtual ~Storage() = default;

  // Creates the study, or opens it when it exists (resumed = true). Throws InputError when it exists with a
  // different space fingerprint, or with settings whose value differs (naming the key).
  virtual StudyRecord open_study(const StudySpec& spec) = 0;

  // One atomic step for every writer of the study: read all its trials, let `decide` choose, write the choice as
  // a RUNNING trial owned by `worker` with a lease of `lease_s` seconds (on the database's clock). Returns the
  // trial as written, or nothing when the decider chose none. After the first claim in a study, a storage object
  // reads only the trials that may have changed since its last claim (study/claim_cache.hpp): a claim costs what
  // changed, not the size of the study.
  virtual std::optional<Trial> claim(std::int64_t study_id, const ClaimDecider& decide, const std::string& worker,
                                     double now, double lease_s) = 0;

  // Extends the lease of attempt `attempt` of a RUNNING trial to `lease_s` seconds from now (database clock).
  // False when that attempt no longer owns the trial (it was run again, or finished): its worker should stop.
  virtual bool renew_lease(std::int64_t trial_id, int attempt, double lease_s) = 0;

  // Every study in the storage, by id, without creating or changing any (for `automl show`).
  virtual std::vector<StudyRecord> studies() = 0;

  // Sets one key of the study's settings (atomically, the other keys kept): what is recorded for the workers
  // that join the study (its options, data fingerprint, deadline), which a resumed search renews. A key that
  // open_study() compares on resume must not be set this way.
  virtual void set_study_setting(std::int64_t study_id, const std::string& key, const nlohmann::json& value) = 0;

  virtual std::vector<Trial> trials(std::int64_t study_id) = 0;
  virtual Trial trial(std::int64_t trial_id) = 0;

  // The writes of a running attempt. Each is fenced: it throws FencedError, changing nothing, unless attempt
  // `attempt` of the trial is still RUNNING (a late result of an attempt whose lease expired is refused).
  //
  // Replaces the trial's metrics (called after each report, so that a crash keeps what was reached).
  virtual void set_metrics(std::int64_t trial_id, int attempt, const std::vector<Metric>& metrics) = 0;
  // Records the end of a trial: its state (not running), loss, metrics and error message.
  virtual void finish(std::int64_t trial_id, int attempt, TrialState state, std::optional<double> loss,
                      const std::vector<Metric>& metrics, const std::string& error, double now) = 0;
  // A checkpoint of `trial_id` at `budget`, one per trial and budget: `reference`, where its writer put it (a
  // directory on the writer's machine), and `archive`, its files packed (study/checkpoint_archive.hpp), kept in
  // the database so that a worker on another machine can continue from it; none: the reference alone.
  virtual void set_checkpoint(std::int64_t trial_id, int attempt, double budget, const std::string& reference,
                              std::optional<std::string_view> archive) = 0;
  // The reference of the latest (largest budget) checkpoint of the trial, if any.
  virtual std::optional<std::string> checkpoint(std::int64_t trial_id) = 0;
  // The archive stored with the latest checkpoint of the trial, byte for byte; none when the trial has no
  // checkpoint or its latest one was stored without an archive.
  virtual std::optional<std::string> checkpoint_archive(std::int64_t trial_id) = 0;
  // Forgets the checkpoints of the trials (references and archives, every budget), in one transaction: then
  // checkpoint() and checkpoint_archive() give none for them. Not fenced: the search drops the checkpoints that
  // nothing can continue from or export any more (exec/search.hpp, SearchOptions::keep_checkpoints); the files
  // a reference names are the caller's to remove. Trials without a checkpoint are passed over.
  virtual void drop_checkpoints(const std::vector<std::int64_t>& trial_ids) = 0;
};

// Example: StorageOptions o; o.lock_timeout_s = 5;
struct StorageOptions {
  // How long one operation waits for a lock that another process holds before failing with Error. A search
  // passes a share of its budget, so that a locked database cannot hold it far past its end.
  double lock_timeout_s = 60;
  // Only read (`automl show`): nothing is created or written; a missing database is an InputError.
  bool read_only = false;
};

// Opens the storage a URL names. InputError for a malformed URL or an unknown scheme (listing the valid ones);
// Error when the database cannot be opened.
std::unique_ptr<Storage> open_storage(const std::string& url, const StorageOptions& options = {});
std::vector<std::string> storage_schemes();
// Whether every process on the storage a URL names runs on one machine (SQLite: a file, not to be shared over a
// network file system), so that they all see each other's checkpoint directories; false for a database server
// (PostgreSQL) and for a URL that names no known scheme.
bool one_machine_storage(const std::string& url);

} // namespace automl::study
