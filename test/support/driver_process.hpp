#pragma once
// Running test/tools/search_driver as a separate process from the end-to-end tests.

#include "study/sqlite_storage.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

namespace automl::test {

inline const std::string k_driver = SEARCH_DRIVER_BINARY;

// Starts `program` with `args`, stdout and stderr to files; returns its pid.
inline pid_t spawn_program(const std::string& program, const std::vector<std::string>& args,
                           const std::filesystem::path& out, const std::filesystem::path& err) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    dup2(e, 2);
    std::vector<char*> argv{const_cast<char*>(program.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(program.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

// Starts the driver with `args`, stdout and stderr to files; returns its pid.
inline pid_t spawn(const std::vector<std::string>& args, const std::filesystem::path& out, const std::filesystem::path& err) {
  return spawn_program(k_driver, args, out, err);
}

inline int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

inline std::vector<std::string> driver_args(const std::string& db, std::vector<std::string> extra) {
  std::vector<std::string> args{"--storage", "sqlite:///" + db, "--study", "s", "--seed", "5"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

inline std::vector<automl::study::Trial> study_trials(const std::string& db) {
  automl::study::SqliteStorage storage(db);
  return storage.trials(1);
}

inline std::size_t count_state(const std::vector<automl::study::Trial>& trials, automl::study::TrialState state) {
  std::size_t n = 0;
  for (const auto& t : trials) n += t.state == state;
  return n;
}

} // namespace automl::test
