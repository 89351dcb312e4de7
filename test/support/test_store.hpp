#pragma once
// A fresh, empty store for one test, of the kind its parameter names: "sqlite" (a file in a directory of its
// own) or "postgresql" (a schema of its own on the test server, support/postgres.hpp). Tests that run against
// every storage are parametrized over k_store_schemes.

#include "support/postgres.hpp"
#include "support/test_files.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace automl::test {

class TestStore {
public:
  explicit TestStore(const std::string& scheme);
  TestStore(const TestStore&) = delete;
  TestStore& operator=(const TestStore&) = delete;

  // The storage URL (study::open_storage opens it as another process would).
  const std::string& url() const { return m_url; }
  // Runs SQL on the store as a connection of its own (for tests that tamper with it); throws on failure.
  void exec(const std::string& sql) const;

private:
  TempDir m_dir;
  std::unique_ptr<PostgresSchema> m_schema;
  std::string m_path; // the SQLite file
  std::string m_url;
};

inline const auto k_store_schemes = testing::Values("sqlite", "postgresql");
// Test names end with the scheme: Storages/StorageTest.TrialRoundTrip/postgresql.
inline std::string store_test_name(const testing::TestParamInfo<std::string>& p) {
  return p.param;
}

} // namespace automl::test
