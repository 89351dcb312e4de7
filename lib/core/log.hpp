#pragma once
// Logging goes through spdlog to stderr, so that stdout stays for results (tables, --json).

#include <string>

namespace automl::core {

// Sets the global log level from its name: trace, debug, info, warn, error, off.
// Throws InputError naming the valid levels for anything else.
void set_log_level(const std::string& level);

} // namespace automl::core
