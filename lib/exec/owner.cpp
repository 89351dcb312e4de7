#include "exec/owner.hpp"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <vector>

namespace automl::exec {
namespace {

std::string host_name() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0) return "unknown-host";
  return buffer;
}

// Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. Empty when it is gone
// (or a zombie).
std::string process_start_ticks(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return {};
  const auto close = line.rfind(')'); // the command name may hold spaces and parentheses
  if (close == std::string::npos) return {};
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  // After "pid (comm) " come field 3 (state) .. field 22 (starttime). A zombie (Z) has ended: it counts as gone.
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return {};
    if (i == 3 && (field == "Z" || field == "X")) return {};
  }
  return field;
}

std::mutex& live_runs_mutex() {
  static std::mutex m;
  return m;
}

std::set<std::string>& live_runs() {
  static std::set<std::string> runs;
  return runs;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  return parts;
}

} // namespace

OwnerToken::OwnerToken() {
  static std::atomic<unsigned long> counter{0};
  const long pid = static_cast<long>(getpid());
  m_token = host_name() + ":" + std::to_string(pid) + ":" + process_start_ticks(pid) + ":" + std::to_string(++counter);
  std::lock_guard lock(live_runs_mutex());
  live_runs().insert(m_token);
}

OwnerToken::~OwnerToken() {
  std::lock_guard lock(live_runs_mutex());
  live_runs().erase(m_token);
}

std::optional<OwnerFields> parse_owner(const std::string& worker) {
  OwnerFields fields;
  fields.token = worker.substr(0, worker.find('#'));
  const auto parts = split(fields.token, ':');
  if (parts.size() != 4) return std::nullopt;
  fields.host = parts[0];
  try {
    fields.pid = std::stol(parts[1]);
  } catch (...) {
    return std::nullopt;
  }
  fields.start_ticks = parts[2];
  return fields;
}

bool owner_is_alive(const std::string& worker) {
  const auto owner = parse_owner(worker);
  if (!owner) return true; // not ours to judge
  if (owner->host != host_name()) return true;
  if (owner->pid == static_cast<long>(getpid())) {
    std::lock_guard lock(live_runs_mutex());
    return live_runs().count(owner->token) > 0;
  }
  const std::string ticks = process_start_ticks(owner->pid);
  return !ticks.empty() && ticks == owner->start_ticks;
}

} // namespace automl::exec
