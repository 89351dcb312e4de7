#pragma once
// A graceful stop on SIGINT and SIGTERM for long commands (automl search). While a StopSignals object lives,
// the first SIGINT or SIGTERM is only recorded: the command sees it through received(), stops starting work,
// finishes what it must write and exits with exit_code(). A second one ends the process at once with
// 128 + its number (what a shell reports for a signal). The previous handlers come back when it is destroyed.
// One object at a time per process.

namespace automl::core {

class StopSignals {
public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // SIGINT or SIGTERM once one has arrived, else 0. Any thread.
  int received() const;
  // 128 + the signal: 130 for SIGINT, 143 for SIGTERM.
  static int exit_code(int signal) { return 128 + signal; }
  // The signal's name for messages: "SIGINT", "SIGTERM".
  static const char* name(int signal);
};

} // namespace automl::core
