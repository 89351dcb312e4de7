#pragma once
// The automl binary of this build, for the suites that run it (their targets define AUTOML_BINARY).

#include "support/test_files.hpp"

#include <string>

namespace automl::test {

inline const std::string k_automl = AUTOML_BINARY;

// Runs `automl <args>` (a shell command line) and captures its exit code, stdout and stderr.
inline CommandResult automl_cli(const std::string& args) { return run_command(k_automl + " " + args); }

} // namespace automl::test
