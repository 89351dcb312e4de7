#include "support/postgres.hpp"

#include <libpq-fe.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <stdexcept>
#include <unistd.h>

namespace automl::test {
namespace {

std::string start_cluster() {
  const std::string command = std::string(AUTOML_SOURCE_DIR) + "/scripts/postgres up 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string output, last;
  char buffer[4096];
  while (fgets(buffer, sizeof buffer, pipe.get())) {
    output += buffer;
    last = buffer;
  }
  const int status = pclose(pipe.release());
  while (!last.empty() && (last.back() == '\n' || last.back() == '\r')) last.pop_back();
  if (status != 0 || last.rfind("postgresql://", 0) != 0)
    throw std::runtime_error("the PostgreSQL tests need a server: `scripts/postgres up` failed (install PostgreSQL with "
                             "scripts/setup --test, or set AUTOML_TEST_POSTGRES_URL):\n" + output);
  return last;
}

std::string with_search_path(const std::string& url, const std::string& schema) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema;
}

} // namespace

const std::string& postgres_base_url() {
  static const std::string url = [] {
    if (const char* env = std::getenv("AUTOML_TEST_POSTGRES_URL"); env && *env) return std::string(env);
    return start_cluster();
  }();
  return url;
}

std::string postgres_exec(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string message = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot connect to " + url + ": " + message);
  }
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  PGresult* r = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  const std::string message = ok ? "" : PQresultErrorMessage(r);
  const std::string value = ok && PQntuples(r) > 0 && PQnfields(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  PQclear(r);
  PQfinish(conn);
  if (!ok) throw std::runtime_error(sql + ": " + message);
  return value;
}

PostgresSchema::PostgresSchema() {
  static std::atomic<int> counter{0};
  std::random_device random;
  m_name = "t_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" + std::to_string(random() % 1000000);
  postgres_exec(postgres_base_url(), "CREATE SCHEMA " + m_name);
  m_url = with_search_path(postgres_base_url(), m_name);
}

PostgresSchema::~PostgresSchema() {
  try {
    postgres_exec(postgres_base_url(), "DROP SCHEMA IF EXISTS " + m_name + " CASCADE");
  } catch (...) {
    // The server went away: the schema goes with the throwaway cluster.
  }
}

} // namespace automl::test
