#pragma once
// Wall-clock time as the study stores it.

#include <chrono>

namespace automl::core {

// Seconds since the Unix epoch (the unit of Trial::started_at and finished_at).
inline double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

} // namespace automl::core
