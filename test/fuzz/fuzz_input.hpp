#pragma once
// Helpers shared by the libFuzzer targets.
//
// Contract of every target: automl's own errors (automl::Error and its subclasses InputError, SpaceError)
// are the expected answer to bad input and count as success. Anything else is a finding: a crash, an
// ASan/UBSan report, an uncaught exception of another type (it reaches std::terminate), a timeout, or an
// allocation over libFuzzer's -malloc_limit_mb / -rss_limit_mb.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace automl::fuzz {

// Separates the parts of an input that holds several files (images and labels, X and y, the metadata's
// extra files). Readable in text seeds; libFuzzer finds it in the comparisons.
inline const std::string k_part_separator = "\n---8<---\n";

// Splits `data` at k_part_separator into at most `max_parts` parts (the last keeps any further separators).
std::vector<std::string> split_parts(const std::uint8_t* data, std::size_t size, std::size_t max_parts);

// `name` in a directory private to this process (on /dev/shm where there is one), removed at exit. Nothing
// is created there.
std::filesystem::path temp_path(const std::string& name);

// Writes `bytes` to temp_path(name) and returns the path. Each run overwrites the same few files.
std::filesystem::path write_temp_file(const std::string& name, const std::string& bytes);

// Runs `body`, treating automl::Error as the expected outcome.
template <typename Body> void expect_only_automl_errors(Body&& body);

} // namespace automl::fuzz

#include "core/error.hpp"

template <typename Body> void automl::fuzz::expect_only_automl_errors(Body&& body) {
  try {
    body();
  } catch (const automl::Error&) {
    // Bad input was refused with a message: what the library promises.
  }
}
