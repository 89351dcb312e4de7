#pragma once
// A PostgreSQL server for the storage tests: $AUTOML_TEST_POSTGRES_URL when set, else the project's throwaway
// cluster (`scripts/postgres up`, started on first use and left running for the next test process). Each
// test gets its own schema, so tests never see each other's studies.

#include <string>

namespace automl::test {

// The server's URL (without a schema). Fails the calling test (a GTest fatal failure via an exception) when
// no server can be had: the PostgreSQL tests are never skipped.
const std::string& postgres_base_url();

// A fresh, empty schema on that server, dropped (with everything in it) on destruction.
class PostgresSchema {
public:
  PostgresSchema();
  ~PostgresSchema();
  PostgresSchema(const PostgresSchema&) = delete;
  PostgresSchema& operator=(const PostgresSchema&) = delete;

  // A storage URL whose tables live in this schema.
  const std::string& url() const { return m_url; }
  const std::string& name() const { return m_name; }

private:
  std::string m_name;
  std::string m_url;
};

// Runs SQL on the server as the test's own connection (for tests that tamper with a store or look into it);
// returns the first value of the (last statement's) result, empty when there is none. Throws
// std::runtime_error with the server's message on failure.
std::string postgres_exec(const std::string& url, const std::string& sql);

} // namespace automl::test
