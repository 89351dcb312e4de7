#include "study/postgres_storage.hpp"

#include "core/error.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <limits>
#include <string_view>
#include <utility>

namespace automl::study {
namespace {

// The version of the tables below: 2 added the checkpoints' archives. An older version is migrated when
// opened for writing; a database written by a newer automl (a higher version) is refused.
constexpr int k_schema_version = 2;

// How many times one claim decides again when the trial it chose to run again was finished meanwhile.
constexpr int k_max_claim_rounds = 10;

// Taken while the tables are created, so that two processes opening a new database do not race.
constexpr std::int64_t k_schema_lock_key = 0x6175746f6d6c; // "automl"

constexpr const char* k_schema = R"sql(
CREATE TABLE IF NOT EXISTS automl_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS studies (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  space_fingerprint TEXT NOT NULL,
  seed BIGINT NOT NULL,
  settings TEXT NOT NULL,
  created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
  id BIGSERIAL PRIMARY KEY,
  study_id BIGINT NOT NULL REFERENCES studies(id),
  config_id TEXT NOT NULL,
  iteration BIGINT NOT NULL,
  bracket BIGINT NOT NULL,
  rung BIGINT NOT NULL,
  slot BIGINT NOT NULL,
  budget DOUBLE PRECISION NOT NULL,
  cost DOUBLE PRECISION NOT NULL,
  unit TEXT NOT NULL,
  config TEXT NOT NULL,
  info TEXT NOT NULL,
  parent_id BIGINT REFERENCES trials(id),
  state TEXT NOT NULL,
  loss DOUBLE PRECISION,
  metrics TEXT NOT NULL DEFAULT '[]',
  submitted_at DOUBLE PRECISION NOT NULL,
  started_at DOUBLE PRECISION NOT NULL,
  finished_at DOUBLE PRECISION,
  worker TEXT NOT NULL,
  seed BIGINT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 1,
  lease_expires_at DOUBLE PRECISION,
  UNIQUE (study_id, iteration, rung, slot)
);
CREATE INDEX IF NOT EXISTS trials_by_study ON trials (study_id, id);
CREATE TABLE IF NOT EXISTS checkpoints (
  trial_id BIGINT NOT NULL REFERENCES trials(id),
  budget DOUBLE PRECISION NOT NULL,
  reference TEXT NOT NULL,
  archive BYTEA,
  PRIMARY KEY (trial_id, budget)
);
)sql";

// Archives are stored out of line without compression: weights hardly compress, and trying (pglz, PostgreSQL's
// default for bytea) made writing a 26 MB checkpoint take about 1.1 s instead of 0.3 s (bench/README.md). Set
// when the column is made, not on every open: ALTER TABLE locks the table.
constexpr const char* k_archive_storage = "ALTER TABLE checkpoints ALTER COLUMN archive SET STORAGE EXTERNAL";

// Now on the server's clock, in seconds since the Unix epoch: every worker judges leases by the same clock.
#define AUTOML_PG_NOW "extract(epoch from clock_timestamp())"

constexpr const char* k_trial_columns =
    "id, study_id, iteration, bracket, rung, slot, budget, cost, unit, config, info, parent_id, state, loss, "
    "metrics, submitted_at, started_at, finished_at, worker, seed, error, attempts, lease_expires_at, "
    "(state = 'RUNNING' AND lease_expires_at IS NOT NULL AND lease_expires_at < " AUTOML_PG_NOW ")";

// Parameters for PQexecParams: text (numbers in their shortest exact form), NULL for an empty optional, or
// binary bytes (bytea), sent as they are rather than as hex text of twice the size.
class Params {
public:
  Params& add(const std::string& v) { return push(v); }
  Params& add(const char* v) { return push(v); }
  Params& add(std::int64_t v) { return push(std::to_string(v)); }
  Params& add(double v) { return push(fmt::format("{}", v)); }
  template <typename T> Params& add(const std::optional<T>& v) { return v ? add(*v) : add_null(); }
  Params& add_null() { return add_raw(nullptr, 0, 0); }
  // Not copied: `v` must outlive the query.
  Params& add_binary(std::string_view v) { return add_raw(v.empty() ? "" : v.data(), v.size(), 1); }
  const char* const* values() const { return m_values.data(); }
  const int* lengths() const { return m_lengths.data(); }
  const int* formats() const { return m_formats.data(); }
  int size() const { return static_cast<int>(m_values.size()); }

private:
  Params& push(std::string v) {
    m_text.push_back(std::move(v)); // a deque: the earlier strings' pointers stay valid
    return add_raw(m_text.back().c_str(), 0, 0);
  }
  Params& add_raw(const char* value, std::size_t length, int format) {
    if (length > static_cast<std::size_t>(std::numeric_limits<int>::max()))
      throw Error(fmt::format("a parameter of {} bytes is more than PostgreSQL takes", length));
    m_values.push_back(value);
    m_lengths.push_back(static_cast<int>(length)); // read for binary parameters only
    m_formats.push_back(format);
    return *this;
  }
  std::deque<std::string> m_text;
  std::vector<const char*> m_values;
  std::vector<int> m_lengths;
  std::vector<int> m_formats;
};

// A query's result, cleared on scope exit.
class Result {
public:
  explicit Result(PGresult* r) : m_result(r) {}
  ~Result() { PQclear(m_result); }
  Result(Result&& other) noexcept : m_result(std::exchange(other.m_result, nullptr)) {}
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  int rows() const { return PQntuples(m_result); }
  bool is_null(int row, int col) const { return PQgetisnull(m_result, row, col) != 0; }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(m_result, row, col), static_cast<std::size_t>(PQgetlength(m_result, row, col)));
  }
  std::int64_t int64(int row, int col) const { return std::strtoll(PQgetvalue(m_result, row, col), nullptr, 10); }
  double real(int row, int col) const { return std::strtod(PQgetvalue(m_result, row, col), nullptr); }
  std::int64_t affected() const { return std::strtoll(PQcmdTuples(m_result), nullptr, 10); }

private:
  PGresult* m_result;
};

// libpq's messages end with a newline.
std::string trimmed(std::string message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

// How query() returns the columns: as text, or in binary (for bytea: the bytes themselves, not hex text).
enum class ResultFormat { text = 0, binary = 1 };

// Runs one statement; throws Error with the server's message when it fails.
Result query(pg_conn* conn, const std::string& where, const std::string& sql, const Params& params = Params{},
             ResultFormat format = ResultFormat::text) {
  PGresult* raw = PQexecParams(conn, sql.c_str(), params.size(), nullptr, params.values(), params.lengths(),
                               params.formats(), static_cast<int>(format));
  Result r(raw);
  const auto status = PQresultStatus(raw);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const std::string message = trimmed(raw ? PQresultErrorMessage(raw) : PQerrorMessage(conn));
    const char* state = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
    // 55P03: lock_not_available (lock_timeout); 57014: query_canceled (statement_timeout).
    if (state && (std::string(state) == "55P03" || std::string(state) == "57014"))
      throw Error(fmt::format("study database {}: another session holds a lock for longer than the lock timeout ({})",
                              where, message));
    throw Error(fmt::format("study database {}: {}", where, message));
  }
  return r;
}

// BEGIN ... COMMIT, rolled back when the scope is left by an exception.
class Transaction {
public:
  Transaction(pg_conn* conn, const std::string& where) : m_conn(conn), m_where(where) { query(conn, where, "BEGIN"); }
  ~Transaction() {
    if (!m_done) PQclear(PQexec(m_conn, "ROLLBACK"));
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    query(m_conn, m_where, "COMMIT");
    m_done = true;
  }

private:
  pg_conn* m_conn;
  const std::string& m_where;
  bool m_done = false;
};

Trial read_trial(const Result& r, int row) {
  Trial t;
  t.id = r.int64(row, 0);
  t.study_id = r.int64(row, 1);
  t.iteration = static_cast<std::size_t>(r.int64(row, 2));
  t.bracket = static_cast<std::size_t>(r.int64(row, 3));
  t.rung = static_cast<std::size_t>(r.int64(row, 4));
  t.slot = static_cast<std::size_t>(r.int64(row, 5));
  t.budget = r.real(row, 6);
  t.cost = r.real(row, 7);
  t.unit = unit_from_json(r.text(row, 8));
  t.config = r.text(row, 9);
  t.info = r.text(row, 10);
  if (!r.is_null(row, 11)) t.parent_id = r.int64(row, 11);
  t.state = parse_trial_state(r.text(row, 12));
  if (!r.is_null(row, 13)) t.loss = r.real(row, 13);
  t.metrics = metrics_from_json(r.text(row, 14));
  t.submitted_at = r.real(row, 15);
  t.started_at = r.real(row, 16);
  if (!r.is_null(row, 17)) t.finished_at = r.real(row, 17);
  t.worker = r.text(row, 18);
  t.seed = static_cast<std::uint64_t>(r.int64(row, 19));
  t.error = r.text(row, 20);
  t.attempts = static_cast<int>(r.int64(row, 21));
  if (!r.is_null(row, 22)) t.lease_expires_at = r.real(row, 22);
  t.lease_expired = r.text(row, 23) == "t";
  return t;
}

std::vector<Trial> load_trials(pg_conn* conn, const std::string& where, const char* column, std::int64_t key) {
  const auto r = query(conn, where, fmt::format("SELECT {} FROM trials WHERE {} = $1 ORDER BY id", k_trial_columns, column),
                       Params().add(key));
  std::vector<Trial> result;
  result.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) result.push_back(read_trial(r, i));
  return result;
}

StudyRecord read_study(const Result& r, int row) {
  StudyRecord s;
  s.id = r.int64(row, 0);
  s.name = r.text(row, 1);
  s.space_fingerprint = r.text(row, 2);
  s.seed = static_cast<std::uint64_t>(r.int64(row, 3));
  s.settings = nlohmann::json::parse(r.text(row, 4));
  s.resumed = true;
  return s;
}

void ignore_notice(void*, const char*) {}

// The stored schema version; InputError when it is missing, not a number, or newer than this automl's.
int check_version(const std::string& where, const Result& version) {
  if (version.rows() == 0) throw InputError(fmt::format("study database {}: automl_meta has no schema_version", where));
  const auto text = version.text(0, 0);
  char* end = nullptr;
  errno = 0;
  const long stored = std::strtol(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || *end != '\0' || stored < 1)
    throw InputError(fmt::format("study database {}: automl_meta.schema_version is '{}', not a version", where, text));
  if (stored > k_schema_version)
    throw InputError(fmt::format("study database {} has automl schema version {}; this automl reads version {} "
                                 "(a newer automl wrote it)",
                                 where, stored, k_schema_version));
  return static_cast<int>(stored);
}


} // namespace

std::string redact_url_password(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return url;
  const auto authority_start = scheme_end + 3;
  const auto authority_end = url.find_first_of("/?", authority_start);
  const auto at = url.rfind('@', authority_end == std::string::npos ? std::string::npos : authority_end);
  if (at == std::string::npos || at < authority_start) return url;
  const auto colon = url.find(':', authority_start);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

PostgresStorage::PostgresStorage(const std::string& url, const StorageOptions& options) : m_where(redact_url_password(url)) {
  m_conn = PQconnectdb(url.c_str());
  if (!m_conn) throw Error("study database " + m_where + ": out of memory");
  if (PQstatus(m_conn) != CONNECTION_OK) {
    const std::string message = trimmed(PQerrorMessage(m_conn));
    PQfinish(m_conn);
    m_conn = nullptr;
    throw Error(fmt::format("cannot connect to study database {}: {}", m_where, message));
  }
  PQsetNoticeProcessor(m_conn, ignore_notice, nullptr);
  try {
    const auto timeout_ms = static_cast<std::int64_t>(std::clamp(options.lock_timeout_s, 0.001, 3600.0) * 1000);
    query(m_conn, m_where, fmt::format("SET lock_timeout = {}", timeout_ms));
    if (options.read_only) {
      query(m_conn, m_where, "SET default_transaction_read_only = on");
      const auto tables = query(m_conn, m_where, "SELECT to_regclass('automl_meta') IS NOT NULL, to_regclass('trials') IS NOT NULL");
      if (tables.text(0, 0) != "t" || tables.text(0, 1) != "t")
        throw InputError(fmt::format("study database {} holds no automl studies (no automl tables in its search_path)", m_where));
      check_version(m_where, query(m_conn, m_where, "SELECT value FROM automl_meta WHERE key = 'schema_version'"));
      return;
    }
    Transaction tx(m_conn, m_where);
    query(m_conn, m_where, "SELECT pg_advisory_xact_lock($1)", Params().add(k_schema_lock_key));
    PGresult* created = PQexec(m_conn, k_schema); // several statements: PQexec, not PQexecParams
    const bool ok = PQresultStatus(created) == PGRES_COMMAND_OK;
    const std::string message = ok ? "" : PQresultErrorMessage(created);
    PQclear(created);
    if (!ok) throw Error(fmt::format("study database {}: cannot create the tables: {}", m_where, message));
    const auto version = query(m_conn, m_where, "SELECT value FROM automl_meta WHERE key = 'schema_version'");
    if (version.rows() == 0) {
      query(m_conn, m_where, k_archive_storage);
      query(m_conn, m_where, "INSERT INTO automl_meta (key, value) VALUES ('schema_version', $1)",
            Params().add(std::to_string(k_schema_version)));
    } else if (const int stored = check_version(m_where, version); stored < k_schema_version) {
      // The tables that existed before k_schema ran keep their columns: what later versions added is added here.
      if (stored < 2) {
        query(m_conn, m_where, "ALTER TABLE checkpoints ADD COLUMN IF NOT EXISTS archive BYTEA");
        query(m_conn, m_where, k_archive_storage);
      }
      query(m_conn, m_where, "UPDATE automl_meta SET value = $1 WHERE key = 'schema_version'",
            Params().add(std::to_string(k_schema_version)));
    }
    tx.commit();
  } catch (...) {
    PQfinish(m_conn);
    m_conn = nullptr;
    throw;
  }
}

PostgresStorage::~PostgresStorage() {
  if (m_conn) PQfinish(m_conn);
}

StudyRecord PostgresStorage::open_study(const StudySpec& spec) {
  if (spec.name.empty()) throw InputError("study name: must not be empty");
  if (spec.space_fingerprint.empty()) throw InputError("space fingerprint: must not be empty");
  std::lock_guard lock(m_mutex);
  Transaction tx(m_conn, m_where);
  // Two processes creating the same study: the second one waits here, then finds it.
  query(m_conn, m_where, "LOCK TABLE studies IN SHARE ROW EXCLUSIVE MODE");
  const auto found = query(m_conn, m_where, "SELECT id, name, space_fingerprint, seed, settings FROM studies WHERE name = $1",
                           Params().add(spec.name));
  if (found.rows() > 0) {
    auto record = read_study(found, 0);
    check_may_resume(spec, m_where);
    check_same_space_and_seed(record, spec.space_fingerprint, spec.seed, m_where);
    check_same_settings(spec.name, record.settings, spec.settings);
    tx.commit();
    return record;
  }
  const auto inserted = query(m_conn, m_where,
                              "INSERT INTO studies (name, space_fingerprint, seed, settings, created_at) "
                              "VALUES ($1, $2, $3, $4, extract(epoch from clock_timestamp())) RETURNING id",
                              Params().add(spec.name).add(spec.space_fingerprint).add(static_cast<std::int64_t>(spec.seed))
                                  .add(spec.settings.dump()));
  const auto record = created_study(inserted.int64(0, 0), spec);
  tx.commit();
  return record;
}

std::vector<StudyRecord> PostgresStorage::studies() {
  std::lock_guard lock(m_mutex);
  const auto r = query(m_conn, m_where, "SELECT id, name, space_fingerprint, seed, settings FROM studies ORDER BY id");
  std::vector<StudyRecord> result;
  for (int i = 0; i < r.rows(); ++i) result.push_back(read_study(r, i));
  return result;
}

void PostgresStorage::set_study_setting(std::int64_t study_id, const std::string& key, const nlohmann::json& value) {
  std::lock_guard lock(m_mutex);
  Transaction tx(m_conn, m_where);
  const auto found = query(m_conn, m_where, "SELECT settings FROM studies WHERE id = $1 FOR UPDATE", Params().add(study_id));
  if (found.rows() == 0) throw Error(fmt::format("{}: no study with id {}", m_where, study_id));
  auto settings = nlohmann::json::parse(found.text(0, 0));
  settings[key] = value;
  query(m_conn, m_where, "UPDATE studies SET settings = $1 WHERE id = $2", Params().add(settings.dump()).add(study_id));
  tx.commit();
}

const std::vector<Trial>& PostgresStorage::read_for_claim(std::int64_t study_id) {
  // One statement, one snapshot: the new trials and those that may have changed (ClaimCache). Trials are inserted
  // only under the study's lock, which the claim holds, so none can appear below the highest id read before.
  const ClaimCache::ToRead what = m_claimed.to_read(study_id);
  const std::string unsettled = fmt::format("{{{}}}", fmt::join(what.unsettled, ",")); // an array literal
  const auto r = query(m_conn, m_where,
                       fmt::format("SELECT {} FROM trials WHERE study_id = $1 AND (id > $2 OR id = ANY($3::bigint[])) "
                                   "ORDER BY id",
                                   k_trial_columns),
                       Params().add(study_id).add(what.after_id).add(unsettled));
  std::vector<Trial> read;
  read.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) read.push_back(read_trial(r, i));
  return m_claimed.merge(study_id, std::move(read));
}

std::optional<Trial> PostgresStorage::claim(std::int64_t study_id, const ClaimDecider& decide, const std::string& worker,
                                            double now, double lease_s) {
  std::lock_guard lock(m_mutex);
  Transaction tx(m_conn, m_where);
  const auto study = query(m_conn, m_where, "SELECT seed FROM studies WHERE id = $1 FOR UPDATE", Params().add(study_id));
  if (study.rows() == 0) throw Error(fmt::format("claim: no study with id {}", study_id));
  const auto study_seed = static_cast<std::uint64_t>(study.int64(0, 0));
  std::int64_t id = 0;
  for (int round = 1;; ++round) {
    const std::vector<Trial>& trials = read_for_claim(study_id);
    const ClaimDecision decision = decide(trials);
    if (decision.kind == ClaimDecision::Kind::none) {
      tx.commit();
      return std::nullopt;
    }
    if (decision.kind == ClaimDecision::Kind::insert) {
      id = insert_trial(study_id, study_seed, decision.trial, worker, now, lease_s);
      break;
    }
    id = decision.rerun_id;
    check_rerun(trials, id, study_id);
    const auto r = query(m_conn, m_where,
                         "UPDATE trials SET state = 'RUNNING', loss = NULL, metrics = '[]', error = '', finished_at = NULL, "
                         "started_at = $1, worker = $2, attempts = attempts + 1, lease_expires_at = " AUTOML_PG_NOW " + $5 "
                         "WHERE id = $3 AND study_id = $4 AND state IN ('RUNNING', 'PRUNED')",
                         Params().add(now).add(worker).add(id).add(study_id).add(lease_s));
    if (r.affected() == 1) break;
    // Its worker finished it after it was read (finish() does not wait for the study's lock): its result stands,
    // and the choice is made again on what is stored now.
    if (round == k_max_claim_rounds)
      throw Error(fmt::format("claim: the trials chosen to run again kept finishing first ({} times)", round));
  }
  auto written = load_trials(m_conn, m_where, "id", id);
  tx.commit();
  return written.at(0);
}

std::int64_t PostgresStorage::insert_trial(std::int64_t study_id, std::uint64_t study_seed, const NewTrial& t,
                                           const std::string& worker, double now, double lease_s) {
  Params p;
  p.add(study_id).add(fmt::format("[{}, 0, {}]", t.iteration, t.slot)).add(static_cast<std::int64_t>(t.iteration));
  p.add(static_cast<std::int64_t>(t.bracket)).add(static_cast<std::int64_t>(t.rung));
  p.add(static_cast<std::int64_t>(t.slot));
  p.add(t.budget).add(t.cost).add(unit_to_json(t.unit)).add(t.config).add(t.info).add(t.parent_id).add(now).add(now);
  const auto seed = trial_seed(study_seed, static_cast<std::int64_t>(t.iteration), static_cast<std::int64_t>(t.slot),
                               static_cast<std::int64_t>(t.rung));
  p.add(worker).add(static_cast<std::int64_t>(seed));
  const auto r = query(m_conn, m_where,
                       "INSERT INTO trials (study_id, config_id, iteration, bracket, rung, slot, budget, cost, unit, "
                       "config, info, parent_id, state, submitted_at, started_at, worker, seed, lease_expires_at) "
                       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'RUNNING', $13, $14, $15, $16, "
                       AUTOML_PG_NOW " + $17) RETURNING id",
                       p.add(lease_s));
  return r.int64(0, 0);
}

std::vector<Trial> PostgresStorage::trials(std::int64_t study_id) {
  std::lock_guard lock(m_mutex);
  return load_trials(m_conn, m_where, "study_id", study_id); // one statement: one consistent snapshot
}

Trial PostgresStorage::trial(std::int64_t trial_id) {
  std::lock_guard lock(m_mutex);
  auto result = load_trials(m_conn, m_where, "id", trial_id);
  if (result.empty()) throw Error(fmt::format("no trial with id {} in {}", trial_id, m_where));
  return result[0];
}

void PostgresStorage::check_owner(std::int64_t trial_id, int attempt, const char* what) {
  const auto r = query(m_conn, m_where, "SELECT state, attempts FROM trials WHERE id = $1 FOR UPDATE", Params().add(trial_id));
  if (r.rows() == 0) throw Error(fmt::format("{}: no trial with id {}", what, trial_id));
  check_attempt(what, trial_id, attempt, r.text(0, 0), r.int64(0, 1));
}

bool PostgresStorage::renew_lease(std::int64_t trial_id, int attempt, double lease_s) {
  std::lock_guard lock(m_mutex);
  const auto r = query(m_conn, m_where,
                       "UPDATE trials SET lease_expires_at = " AUTOML_PG_NOW " + $1 WHERE id = $2 AND attempts = $3 AND "
                       "state = 'RUNNING'",
                       Params().add(lease_s).add(trial_id).add(static_cast<std::int64_t>(attempt)));
  return r.affected() == 1;
}

void PostgresStorage::set_metrics(std::int64_t trial_id, int attempt, const std::vector<Metric>& metrics) {
  std::lock_guard lock(m_mutex);
  Transaction tx(m_conn, m_where);
  check_owner(trial_id, attempt, "metrics");
  query(m_conn, m_where, "UPDATE trials SET metrics = $1 WHERE id = $2", Params().add(metrics_to_json(metrics)).add(trial_id));
  tx.commit();
}

void PostgresStorage::finish(std::int64_t trial_id, int attempt, TrialState state, std::optional<double> loss,
                             const std::vector<Metric>& metrics, const std::string& error, double now) {
  if (state == TrialState::running) throw Error("finish: a finished trial cannot be RUNNING");
  std::lock_guard lock(m_mutex);
  Transaction tx(m_conn, m_where);
  check_owner(trial_id, attempt, "the result");
  query(m_conn, m_where,
        "UPDATE trials SET state = $1, loss = $2, metrics = $3, error = $4, finished_at = $5, lease_expires_at = NULL "
        "WHERE id = $6",
        Params().add(to_string(state)).add(loss).add(metrics_to_json(metrics)).add(error).add(now).add(trial_id));
  tx.commit();
}

void PostgresStorage::set_checkpoint(std::int64_t trial_id, int attempt, double budget, const std::string& reference,
                                     std::optional<std::string_view> archive) {
  std::lock_guard lock(m_mutex);
  Transaction tx(m_conn, m_where);
  check_owner(trial_id, attempt, "the checkpoint");
  Params params;
  params.add(trial_id).add(budget).add(reference);
  if (archive) params.add_binary(*archive);
  else params.add_null();
  query(m_conn, m_where,
        "INSERT INTO checkpoints (trial_id, budget, reference, archive) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (trial_id, budget) DO UPDATE SET reference = excluded.reference, archive = excluded.archive",
        params);
  tx.commit();
}

std::optional<std::string> PostgresStorage::checkpoint(std::int64_t trial_id) {
  std::lock_guard lock(m_mutex);
  const auto r = query(m_conn, m_where, "SELECT reference FROM checkpoints WHERE trial_id = $1 ORDER BY budget DESC LIMIT 1",
                       Params().add(trial_id));
  if (r.rows() == 0) return std::nullopt;
  return r.text(0, 0);
}

std::optional<std::string> PostgresStorage::checkpoint_archive(std::int64_t trial_id) {
  std::lock_guard lock(m_mutex);
  // In binary: the bytes as stored, without the hex text (twice the size) and its decoding.
  const auto r = query(m_conn, m_where, "SELECT archive FROM checkpoints WHERE trial_id = $1 ORDER BY budget DESC LIMIT 1",
                       Params().add(trial_id), ResultFormat::binary);
  if (r.rows() == 0 || r.is_null(0, 0)) return std::nullopt;
  return r.text(0, 0);
}

void PostgresStorage::drop_checkpoints(const std::vector<std::int64_t>& trial_ids) {
  if (trial_ids.empty()) return;
  std::lock_guard lock(m_mutex);
  Transaction tx(m_conn, m_where);
  for (const auto id : trial_ids)
    query(m_conn, m_where, "DELETE FROM checkpoints WHERE trial_id = $1", Params().add(id));
  tx.commit();
}

} // namespace automl::study
