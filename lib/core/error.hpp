#pragma once
// Errors that reach the user. Each carries the process exit code it maps to (see README "Exit codes").
// Throw short text at the source; callers add context (file, line, key) on the way up with with_context().

#include <cstdio>
#include <stdexcept>
#include <string>

namespace automl {

enum class ExitCode : int {
  ok = 0,
  failure = 1,        // the run itself failed (no trial completed, I/O error, ...)
  usage = 2,          // bad flags, configuration or input data
  below_threshold = 3 // a --fail-under threshold was missed
};

class Error : public std::runtime_error {
public:
  explicit Error(const std::string& message, ExitCode code = ExitCode::failure);
  ExitCode code() const { return m_code; }

  // The same error with "context: " in front, e.g. a file name or "file:line".
  Error with_context(const std::string& context) const;

private:
  ExitCode m_code;
};

// Bad user input: flags, configuration files, data files. Exit code 2.
class InputError : public Error {
public:
  explicit InputError(const std::string& message) : Error(message, ExitCode::usage) {}
};

// Runs `body` (returning an exit code) for a program's main(): an exception that escapes it is printed as
// "<program>: error: <message>" on stderr and becomes its exit code (automl::Error's, else 1).
template <typename Body> int run_reporting_errors(const char* program, Body&& body) {
  try {
    return body();
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return static_cast<int>(ExitCode::failure);
  }
}

} // namespace automl
