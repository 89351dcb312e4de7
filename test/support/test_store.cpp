#include "support/test_store.hpp"

#include <sqlite3.h>

#include <stdexcept>

namespace automl::test {

TestStore::TestStore(const std::string& scheme) {
  if (scheme == "postgresql") {
    m_schema = std::make_unique<PostgresSchema>();
    m_url = m_schema->url();
  } else if (scheme == "sqlite") {
    m_path = (m_dir / "study.db").string();
    m_url = "sqlite:///" + m_path;
  } else {
    throw std::invalid_argument("TestStore: no storage scheme '" + scheme + "'");
  }
}

void TestStore::exec(const std::string& sql) const {
  if (m_schema) {
    postgres_exec(m_url, sql);
    return;
  }
  sqlite3* db = nullptr;
  if (sqlite3_open(m_path.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + m_path);
  }
  sqlite3_busy_timeout(db, 10000);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  const std::string text = message ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  if (rc != SQLITE_OK) throw std::runtime_error(sql + ": " + text);
}

} // namespace automl::test
