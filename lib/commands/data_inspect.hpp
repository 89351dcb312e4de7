#pragma once
// `automl data inspect SOURCE`: what a data source holds, as a table or JSON.

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

namespace automl::commands {

// Example: DataInspectOptions{.source = "mnist:test", .json = true}
struct DataInspectOptions {
  std::string source;                      // required: a name or path, see data/source.hpp
  std::string target;                      // CSV target column (empty = last)
  std::string data_dir;                    // where named sources live (empty = default)
  std::optional<double> validation_split;  // also show the stratified split with this fraction
  std::uint64_t seed = 0;                  // seed of that split
  bool json = false;                       // one JSON object instead of the table
};

// Writes the report to `out`; returns the exit code. Bad input throws InputError (exit 2).
int data_inspect(const DataInspectOptions& options, std::ostream& out);

} // namespace automl::commands
