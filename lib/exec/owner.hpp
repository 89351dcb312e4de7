#pragma once
// Who runs a trial, and whether they are still alive: a RUNNING trial whose owner is dead (its process was
// killed, or its search ended without recording it) is run again. An owner token is
// "host:pid:process-start-ticks:run", unique per search run even when a pid is reused.

#include <optional>
#include <string>

namespace automl::exec {

// An owner token for one search run of this process, live until destroyed.
// Thread safety: tokens may be created, queried and destroyed from any thread.
class OwnerToken {
public:
  OwnerToken();
  ~OwnerToken();
  OwnerToken(const OwnerToken&) = delete;
  OwnerToken& operator=(const OwnerToken&) = delete;
  const std::string& str() const { return m_token; }

private:
  std::string m_token;
};

// The parts of an owner token "host:pid:process-start-ticks:run" (optionally followed by "#suffix"); none when
// `worker` is not such a token (another writer may store anything there).
struct OwnerFields {
  std::string token; // without the "#suffix"
  std::string host;
  long pid = 0;
  std::string start_ticks;
};
std::optional<OwnerFields> parse_owner(const std::string& worker);

// Whether the owner of `worker` (a token, optionally followed by "#suffix") may still be running it: false when
// it names this host and its process is gone (or is another process with the same pid), or names this process
// and a run that has ended; true otherwise (another host: we cannot tell, so we assume it is alive).
bool owner_is_alive(const std::string& worker);

} // namespace automl::exec
