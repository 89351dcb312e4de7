#include "study/sqlite_storage.hpp"

#include "core/error.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string_view>
#include <thread>
#include <utility>

namespace automl::study {
namespace {

constexpr const char* k_schema = R"sql(
CREATE TABLE IF NOT EXISTS studies (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  space_fingerprint TEXT NOT NULL,
  seed INTEGER NOT NULL,
  settings TEXT NOT NULL,
  created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  study_id INTEGER NOT NULL REFERENCES studies(id),
  config_id TEXT NOT NULL,
  iteration INTEGER NOT NULL,
  bracket INTEGER NOT NULL,
  rung INTEGER NOT NULL,
  slot INTEGER NOT NULL,
  budget REAL NOT NULL,
  cost REAL NOT NULL,
  unit TEXT NOT NULL,
  config TEXT NOT NULL,
  info TEXT NOT NULL,
  parent_id INTEGER REFERENCES trials(id),
  state TEXT NOT NULL,
  loss REAL,
  metrics TEXT NOT NULL DEFAULT '[]',
  submitted_at REAL NOT NULL,
  started_at REAL NOT NULL,
  finished_at REAL,
  worker TEXT NOT NULL,
  seed INTEGER NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 1,
  lease_expires_at REAL,
  UNIQUE (study_id, iteration, rung, slot)
);
CREATE TABLE IF NOT EXISTS checkpoints (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  budget REAL NOT NULL,
  reference TEXT NOT NULL,
  archive BLOB,
  PRIMARY KEY (trial_id, budget)
);
)sql";

// Now on the database's clock, in seconds since the Unix epoch. (SQLite is a file on one host: its clock.)
#define AUTOML_SQLITE_NOW "((julianday('now') - 2440587.5) * 86400.0)"

constexpr const char* k_trial_columns =
    "id, study_id, iteration, bracket, rung, slot, budget, cost, unit, config, info, parent_id, state, loss, "
    "metrics, submitted_at, started_at, finished_at, worker, seed, error, attempts, lease_expires_at, "
    "(state = 'RUNNING' AND lease_expires_at IS NOT NULL AND lease_expires_at < " AUTOML_SQLITE_NOW ")";

// "sqlite (database PATH): <what>": a full disk or a locked file says which database.
std::string sqlite_error(sqlite3* db, const std::string& what) {
  const char* file = db ? sqlite3_db_filename(db, "main") : nullptr;
  return file && *file ? fmt::format("sqlite (database {}): {}", file, what) : "sqlite: " + what;
}

// A prepared statement, finalized on scope exit.
class Statement {
public:
  Statement(sqlite3* db, const std::string& sql) : m_db(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &m_stmt, nullptr) != SQLITE_OK)
      throw Error(std::string("sqlite: cannot prepare statement: ") + sqlite3_errmsg(db));
  }
  ~Statement() { sqlite3_finalize(m_stmt); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(m_stmt, i, v)); }
  Statement& bind(int i, double v) { return check(sqlite3_bind_double(m_stmt, i, v)); }
  Statement& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(m_stmt, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Statement& bind_null(int i) { return check(sqlite3_bind_null(m_stmt, i)); }
  // Not copied: `v` must outlive the statement's run. (A null pointer would bind NULL, not an empty blob.)
  Statement& bind_blob(int i, std::string_view v) {
    return check(sqlite3_bind_blob64(m_stmt, i, v.empty() ? "" : v.data(), v.size(), SQLITE_STATIC));
  }
  template <typename T> Statement& bind(int i, const std::optional<T>& v) { return v ? bind(i, *v) : bind_null(i); }

  // True while there is a row.
  bool step() {
    const int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw Error(sqlite_error(m_db, sqlite3_errmsg(m_db)));
  }
  void run() {
    while (step()) {
    }
  }
  // For running the statement again with other values.
  Statement& reset() {
    sqlite3_reset(m_stmt);
    return *this;
  }

  std::int64_t int64(int c) const { return sqlite3_column_int64(m_stmt, c); }
  double real(int c) const { return sqlite3_column_double(m_stmt, c); }
  bool is_null(int c) const { return sqlite3_column_type(m_stmt, c) == SQLITE_NULL; }
  std::string text(int c) const {
    const auto* p = sqlite3_column_text(m_stmt, c);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, c))) : std::string();
  }
  std::string blob(int c) const {
    const auto* p = sqlite3_column_blob(m_stmt, c);
    return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, c))) : std::string();
  }

private:
  Statement& check(int rc) {
    if (rc != SQLITE_OK) throw Error(std::string("sqlite: cannot bind: ") + sqlite3_errmsg(m_db));
    return *this;
  }
  sqlite3* m_db;
  sqlite3_stmt* m_stmt = nullptr;
};

void exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    throw Error(sqlite_error(db, text));
  }
}

// BEGIN IMMEDIATE ... COMMIT, rolled back when the scope is left by an exception.
class WriteTransaction {
public:
  explicit WriteTransaction(sqlite3* db) : m_db(db) { exec(db, "BEGIN IMMEDIATE"); }
  ~WriteTransaction() {
    if (!m_done) sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  void commit() {
    exec(m_db, "COMMIT");
    m_done = true;
  }

private:
  sqlite3* m_db;
  bool m_done = false;
};

Trial read_trial(const Statement& s) {
  Trial t;
  t.id = s.int64(0);
  t.study_id = s.int64(1);
  t.iteration = static_cast<std::size_t>(s.int64(2));
  t.bracket = static_cast<std::size_t>(s.int64(3));
  t.rung = static_cast<std::size_t>(s.int64(4));
  t.slot = static_cast<std::size_t>(s.int64(5));
  t.budget = s.real(6);
  t.cost = s.real(7);
  t.unit = unit_from_json(s.text(8));
  t.config = s.text(9);
  t.info = s.text(10);
  if (!s.is_null(11)) t.parent_id = s.int64(11);
  t.state = parse_trial_state(s.text(12));
  if (!s.is_null(13)) t.loss = s.real(13);
  t.metrics = metrics_from_json(s.text(14));
  t.submitted_at = s.real(15);
  t.started_at = s.real(16);
  if (!s.is_null(17)) t.finished_at = s.real(17);
  t.worker = s.text(18);
  t.seed = static_cast<std::uint64_t>(s.int64(19));
  t.error = s.text(20);
  t.attempts = static_cast<int>(s.int64(21));
  if (!s.is_null(22)) t.lease_expires_at = s.real(22);
  t.lease_expired = s.int64(23) != 0;
  return t;
}

// `path` as an SQLite URI opening it read-only and immutable: "file:" with %, ? and # escaped.
std::string immutable_uri(const std::string& path) {
  std::string uri = "file:";
  for (const char c : path) {
    if (c == '%' || c == '?' || c == '#') uri += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    else uri += c;
  }
  return uri + "?immutable=1";
}

} // namespace

SqliteStorage::SqliteStorage(const std::string& path, const SqliteOptions& options) : m_path(path) {
  // Only the file is created: a path whose directory is missing is a typo (sqlite:///dev/null names ./dev/null,
  // as in SQLAlchemy), and a device or directory is not a database.
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec))
    throw InputError(fmt::format("study database {}: no such directory '{}' (sqlite:///PATH is relative to the "
                                 "current directory, sqlite:////PATH absolute)",
                                 path, parent.string()));
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    throw InputError(fmt::format("study database {}: not a regular file", path));
  if (options.read_only && !std::filesystem::exists(path, ec))
    throw InputError(fmt::format("study database {} does not exist", path));
  int flags = (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_FULLMUTEX;
  // Read-only in a directory that cannot be written (a read-only file system: an archived or mounted run): a WAL
  // database's reader must create its -shm file next to it, and cannot there. Nothing can change the file there
  // either, so it is opened as immutable (no locks, no -shm).
  const bool immutable = options.read_only && ::access(parent.empty() ? "." : parent.c_str(), W_OK) != 0;
  if (immutable) flags |= SQLITE_OPEN_URI;
  const std::string name = immutable ? immutable_uri(path) : path;
  if (sqlite3_open_v2(name.c_str(), &m_db, flags, nullptr) != SQLITE_OK) {
    const std::string message = m_db ? sqlite3_errmsg(m_db) : "out of memory";
    sqlite3_close(m_db);
    m_db = nullptr;
    throw Error("cannot open study database " + path + ": " + message);
  }
  // The timeout first: switching to WAL and creating the schema take locks that another process may hold.
  // Switching a new database to WAL while another process opens it can fail with SQLITE_BUSY without the
  // busy handler being consulted, so the whole opening sequence is retried until the same timeout.
  sqlite3_busy_timeout(m_db, options.busy_timeout_ms);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.busy_timeout_ms);
  for (int attempt = 1;; ++attempt) {
    try {
      check_schema(options.read_only);
      break;
    } catch (const InputError&) {
      sqlite3_close(m_db);
      m_db = nullptr;
      throw;
    } catch (const Error& e) {
      const int code = sqlite3_errcode(m_db) & 0xFF;
      if ((code == SQLITE_BUSY || code == SQLITE_LOCKED) && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(5 * attempt, 100)));
        continue;
      }
      const bool foreign = code == SQLITE_NOTADB || code == SQLITE_CORRUPT;
      sqlite3_close(m_db);
      m_db = nullptr;
      if (foreign) throw InputError(fmt::format("study database {}: not an automl study database ({})", path, e.what()));
      throw e.with_context("study database " + path);
    }
  }
}

void SqliteStorage::check_schema(bool read_only) {
  const auto version = [&] { // the statement ends here: WAL cannot be switched on while one is active
    Statement version_of(m_db, "PRAGMA user_version");
    version_of.step();
    return version_of.int64(0);
  }();
  if (version > k_sqlite_schema_version)
    throw InputError(fmt::format("study database {} has automl schema version {}; this automl reads version {} (a newer "
                                 "automl wrote it)",
                                 m_path, version, k_sqlite_schema_version));
  const auto has_table = [&](const char* name) {
    Statement find(m_db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
    find.bind(1, std::string(name));
    return find.step();
  };
  const auto has_column = [&](const char* table, const char* column) {
    Statement find(m_db, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?");
    find.bind(1, std::string(table)).bind(2, std::string(column));
    return find.step();
  };
  if (read_only) {
    if (!has_table("studies") || !has_table("trials"))
      throw InputError(fmt::format("study database {}: not an automl study database (no studies or trials table)", m_path));
    return;
  }
  exec(m_db, "PRAGMA journal_mode=WAL");
  exec(m_db, "PRAGMA synchronous=NORMAL");
  exec(m_db, "PRAGMA foreign_keys=ON");
  WriteTransaction tx(m_db);
  const bool existed = has_table("trials");
  exec(m_db, k_schema);
  // The tables that existed before k_schema ran keep their columns: what later versions added is added here.
  if (existed && version < 1 && !has_column("trials", "lease_expires_at")) // version 0: before leases
    exec(m_db, "ALTER TABLE trials ADD COLUMN lease_expires_at REAL");
  if (existed && version < 2 && !has_column("checkpoints", "archive")) // version 1: checkpoints were references only
    exec(m_db, "ALTER TABLE checkpoints ADD COLUMN archive BLOB");
  if (version != k_sqlite_schema_version) // written only when it changes: opening a study must not touch its file
    exec(m_db, fmt::format("PRAGMA user_version = {}", k_sqlite_schema_version).c_str());
  tx.commit();
}

SqliteStorage::~SqliteStorage() { sqlite3_close(m_db); }

StudyRecord SqliteStorage::open_study(const StudySpec& spec) {
  if (spec.name.empty()) throw InputError("study name: must not be empty");
  if (spec.space_fingerprint.empty()) throw InputError("space fingerprint: must not be empty");
  std::lock_guard lock(m_mutex);
  WriteTransaction tx(m_db);
  StudyRecord record;
  Statement find(m_db, "SELECT id, space_fingerprint, seed, settings FROM studies WHERE name = ?");
  find.bind(1, spec.name);
  if (find.step()) {
    record.id = find.int64(0);
    record.name = spec.name;
    record.space_fingerprint = find.text(1);
    record.seed = static_cast<std::uint64_t>(find.int64(2));
    record.settings = nlohmann::json::parse(find.text(3));
    record.resumed = true;
    check_may_resume(spec, m_path);
    check_same_space_and_seed(record, spec.space_fingerprint, spec.seed, m_path);
    check_same_settings(spec.name, record.settings, spec.settings);
    tx.commit();
    return record;
  }
  Statement insert(m_db, "INSERT INTO studies (name, space_fingerprint, seed, settings, created_at) "
                         "VALUES (?, ?, ?, ?, (julianday('now') - 2440587.5) * 86400.0)");
  insert.bind(1, spec.name).bind(2, spec.space_fingerprint).bind(3, static_cast<std::int64_t>(spec.seed)).bind(4, spec.settings.dump());
  insert.run();
  record = created_study(sqlite3_last_insert_rowid(m_db), spec);
  tx.commit();
  return record;
}

std::vector<StudyRecord> SqliteStorage::studies() {
  std::lock_guard lock(m_mutex);
  Statement select(m_db, "SELECT id, name, space_fingerprint, seed, settings FROM studies ORDER BY id");
  std::vector<StudyRecord> result;
  while (select.step()) {
    StudyRecord r;
    r.id = select.int64(0);
    r.name = select.text(1);
    r.space_fingerprint = select.text(2);
    r.seed = static_cast<std::uint64_t>(select.int64(3));
    r.settings = nlohmann::json::parse(select.text(4));
    r.resumed = true;
    result.push_back(std::move(r));
  }
  return result;
}

void SqliteStorage::set_study_setting(std::int64_t study_id, const std::string& key, const nlohmann::json& value) {
  std::lock_guard lock(m_mutex);
  WriteTransaction tx(m_db);
  Statement find(m_db, "SELECT settings FROM studies WHERE id = ?");
  find.bind(1, study_id);
  if (!find.step()) throw Error(fmt::format("{}: no study with id {}", m_path, study_id));
  auto settings = nlohmann::json::parse(find.text(0));
  settings[key] = value;
  Statement update(m_db, "UPDATE studies SET settings = ? WHERE id = ?");
  update.bind(1, settings.dump()).bind(2, study_id);
  update.run();
  tx.commit();
}

std::vector<Trial> SqliteStorage::load_trials(const char* where, std::int64_t key) {
  Statement select(m_db, fmt::format("SELECT {} FROM trials WHERE {} = ? ORDER BY id", k_trial_columns, where));
  select.bind(1, key);
  std::vector<Trial> result;
  while (select.step()) result.push_back(read_trial(select));
  return result;
}

const std::vector<Trial>& SqliteStorage::read_for_claim(std::int64_t study_id) {
  // Inside the claim's write transaction: no other connection writes until it ends. `+study_id`: look the rows up
  // by rowid, not through the (study_id, ...) index, which would visit every trial of the study.
  const ClaimCache::ToRead what = m_claimed.to_read(study_id);
  std::vector<Trial> read;
  if (!what.unsettled.empty()) {
    Statement again(m_db, fmt::format("SELECT {} FROM trials WHERE id IN (SELECT value FROM json_each(?)) "
                                      "AND +study_id = ? ORDER BY id",
                                      k_trial_columns));
    again.bind(1, fmt::format("[{}]", fmt::join(what.unsettled, ","))).bind(2, study_id);
    while (again.step()) read.push_back(read_trial(again));
  }
  Statement added(m_db,
                  fmt::format("SELECT {} FROM trials WHERE id > ? AND +study_id = ? ORDER BY id", k_trial_columns));
  added.bind(1, what.after_id).bind(2, study_id);
  while (added.step()) read.push_back(read_trial(added));
  return m_claimed.merge(study_id, std::move(read));
}

std::optional<Trial> SqliteStorage::claim(std::int64_t study_id, const ClaimDecider& decide, const std::string& worker,
                                          double now, double lease_s) {
  std::lock_guard lock(m_mutex);
  WriteTransaction tx(m_db);
  const std::vector<Trial>& current = read_for_claim(study_id);
  const ClaimDecision decision = decide(current);
  std::int64_t id = 0;
  if (decision.kind == ClaimDecision::Kind::none) {
    tx.commit();
    return std::nullopt;
  }
  if (decision.kind == ClaimDecision::Kind::rerun) {
    id = decision.rerun_id;
    check_rerun(current, id, study_id);
    Statement update(m_db, "UPDATE trials SET state = 'RUNNING', loss = NULL, metrics = '[]', error = '', "
                           "finished_at = NULL, started_at = ?, worker = ?, attempts = attempts + 1, "
                           "lease_expires_at = " AUTOML_SQLITE_NOW " + ? WHERE id = ? AND study_id = ? AND "
                           "state IN ('RUNNING', 'PRUNED')");
    update.bind(1, now).bind(2, worker).bind(3, lease_s).bind(4, id).bind(5, study_id).run();
    if (sqlite3_changes(m_db) != 1) throw Error(fmt::format("claim: trial {} changed while it was claimed", id));
  } else {
    Statement seed_of(m_db, "SELECT seed FROM studies WHERE id = ?");
    seed_of.bind(1, study_id);
    if (!seed_of.step()) throw Error(fmt::format("claim: no study with id {}", study_id));
    const auto study_seed = static_cast<std::uint64_t>(seed_of.int64(0));
    Statement next_id(m_db, "SELECT COALESCE(MAX(id), 0) + 1 FROM trials");
    next_id.step();
    id = next_id.int64(0);
    const NewTrial& t = decision.trial;
    Statement insert(m_db, "INSERT INTO trials (id, study_id, config_id, iteration, bracket, rung, slot, budget, cost, "
                           "unit, config, info, parent_id, state, submitted_at, started_at, worker, seed, lease_expires_at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'RUNNING', ?, ?, ?, ?, " AUTOML_SQLITE_NOW " + ?)");
    insert.bind(1, id).bind(2, study_id).bind(3, fmt::format("[{}, 0, {}]", t.iteration, t.slot));
    insert.bind(4, static_cast<std::int64_t>(t.iteration)).bind(5, static_cast<std::int64_t>(t.bracket));
    insert.bind(6, static_cast<std::int64_t>(t.rung)).bind(7, static_cast<std::int64_t>(t.slot));
    insert.bind(8, t.budget).bind(9, t.cost).bind(10, unit_to_json(t.unit)).bind(11, t.config).bind(12, t.info);
    insert.bind(13, t.parent_id).bind(14, now).bind(15, now).bind(16, worker);
    insert.bind(17, static_cast<std::int64_t>(trial_seed(study_seed, t.iteration, t.slot, t.rung))).bind(18, lease_s);
    insert.run();
  }
  std::vector<Trial> written = load_trials("id", id);
  tx.commit();
  return written.at(0);
}

std::vector<Trial> SqliteStorage::trials(std::int64_t study_id) {
  std::lock_guard lock(m_mutex);
  // A read transaction: one consistent snapshot even while other processes write (WAL).
  exec(m_db, "BEGIN");
  try {
    auto result = load_trials("study_id", study_id);
    exec(m_db, "COMMIT");
    return result;
  } catch (...) {
    sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

Trial SqliteStorage::trial(std::int64_t trial_id) {
  std::lock_guard lock(m_mutex);
  auto result = load_trials("id", trial_id);
  if (result.empty()) throw Error(fmt::format("no trial with id {} in {}", trial_id, m_path));
  return result[0];
}

void SqliteStorage::check_owner(std::int64_t trial_id, int attempt, const char* what) {
  Statement select(m_db, "SELECT state, attempts FROM trials WHERE id = ?");
  select.bind(1, trial_id);
  if (!select.step()) throw Error(fmt::format("{}: no trial with id {}", what, trial_id));
  check_attempt(what, trial_id, attempt, select.text(0), select.int64(1));
}

bool SqliteStorage::renew_lease(std::int64_t trial_id, int attempt, double lease_s) {
  std::lock_guard lock(m_mutex);
  WriteTransaction tx(m_db);
  Statement update(m_db, "UPDATE trials SET lease_expires_at = " AUTOML_SQLITE_NOW " + ? "
                         "WHERE id = ? AND attempts = ? AND state = 'RUNNING'");
  update.bind(1, lease_s).bind(2, trial_id).bind(3, static_cast<std::int64_t>(attempt)).run();
  const bool owned = sqlite3_changes(m_db) == 1;
  tx.commit();
  return owned;
}

void SqliteStorage::set_metrics(std::int64_t trial_id, int attempt, const std::vector<Metric>& metrics) {
  std::lock_guard lock(m_mutex);
  WriteTransaction tx(m_db);
  check_owner(trial_id, attempt, "metrics");
  Statement update(m_db, "UPDATE trials SET metrics = ? WHERE id = ?");
  update.bind(1, metrics_to_json(metrics)).bind(2, trial_id).run();
  tx.commit();
}

void SqliteStorage::finish(std::int64_t trial_id, int attempt, TrialState state, std::optional<double> loss,
                           const std::vector<Metric>& metrics, const std::string& error, double now) {
  if (state == TrialState::running) throw Error("finish: a finished trial cannot be RUNNING");
  std::lock_guard lock(m_mutex);
  WriteTransaction tx(m_db);
  check_owner(trial_id, attempt, "the result");
  Statement update(m_db, "UPDATE trials SET state = ?, loss = ?, metrics = ?, error = ?, finished_at = ?, "
                         "lease_expires_at = NULL WHERE id = ?");
  update.bind(1, to_string(state)).bind(2, loss).bind(3, metrics_to_json(metrics)).bind(4, error).bind(5, now);
  update.bind(6, trial_id).run();
  tx.commit();
}

void SqliteStorage::set_checkpoint(std::int64_t trial_id, int attempt, double budget, const std::string& reference,
                                   std::optional<std::string_view> archive) {
  std::lock_guard lock(m_mutex);
  WriteTransaction tx(m_db);
  check_owner(trial_id, attempt, "the checkpoint");
  Statement upsert(m_db, "INSERT INTO checkpoints (trial_id, budget, reference, archive) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT (trial_id, budget) DO UPDATE SET reference = excluded.reference, "
                         "archive = excluded.archive");
  upsert.bind(1, trial_id).bind(2, budget).bind(3, reference);
  if (archive) upsert.bind_blob(4, *archive);
  else upsert.bind_null(4);
  upsert.run();
  tx.commit();
}

std::optional<std::string> SqliteStorage::checkpoint(std::int64_t trial_id) {
  std::lock_guard lock(m_mutex);
  Statement select(m_db, "SELECT reference FROM checkpoints WHERE trial_id = ? ORDER BY budget DESC LIMIT 1");
  select.bind(1, trial_id);
  if (!select.step()) return std::nullopt;
  return select.text(0);
}

std::optional<std::string> SqliteStorage::checkpoint_archive(std::int64_t trial_id) {
  std::lock_guard lock(m_mutex);
  Statement select(m_db, "SELECT archive FROM checkpoints WHERE trial_id = ? ORDER BY budget DESC LIMIT 1");
  select.bind(1, trial_id);
  if (!select.step() || select.is_null(0)) return std::nullopt;
  return select.blob(0);
}

void SqliteStorage::drop_checkpoints(const std::vector<std::int64_t>& trial_ids) {
  if (trial_ids.empty()) return;
  std::lock_guard lock(m_mutex);
  WriteTransaction tx(m_db);
  Statement remove(m_db, "DELETE FROM checkpoints WHERE trial_id = ?");
  for (const auto id : trial_ids) remove.reset().bind(1, id).run();
  tx.commit();
}

} // namespace automl::study
