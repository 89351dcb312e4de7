#pragma once
// Checkpoints that reach every worker: a trial's checkpoint directory is stored in the study's database with its
// reference (study/checkpoint_archive.hpp), so that a promoted trial continues from its parent's checkpoint on
// any machine, whether or not that machine can see the directory the parent wrote.

#include "study/storage.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace automl::exec {

// What to store with a checkpoint an objective returned: its directory packed. None when `reference` is not a
// directory on this machine (an objective's own kind of reference, stored as it is), or when the archive
// would be too large for the database (logged; only machines that see the directory can continue from it).
// Error naming the directory when it cannot be packed (a subdirectory, an unreadable file).
std::optional<std::string> checkpoint_archive_for(const std::string& reference);

// A checkpoint directory on this machine. One unpacked from the storage is removed, with its files, when its
// LocalCheckpoint is destroyed.
class LocalCheckpoint {
public:
  LocalCheckpoint(std::string dir, bool fetched) : m_dir(std::move(dir)), m_fetched(fetched) {}
  ~LocalCheckpoint();
  LocalCheckpoint(LocalCheckpoint&& other) noexcept;
  LocalCheckpoint& operator=(LocalCheckpoint&&) = delete;
  LocalCheckpoint(const LocalCheckpoint&) = delete;
  LocalCheckpoint& operator=(const LocalCheckpoint&) = delete;

  const std::string& dir() const { return m_dir; }
  bool fetched() const { return m_fetched; } // unpacked from the storage

private:
  std::string m_dir;
  bool m_fetched;
};

// Trial `trial_id`'s latest checkpoint as a directory on this machine: the directory its reference names when
// that holds the same files as the archive stored with it; else that archive, unpacked into a fresh directory
// under `fetch_dir` (the system's temporary directory when empty). The reference as it is when no archive was
// stored; none when the trial has no checkpoint. Error naming the trial when the stored archive is corrupt or
// cannot be unpacked.
std::optional<LocalCheckpoint> local_checkpoint(study::Storage& storage, std::int64_t trial_id,
                                                const std::string& fetch_dir);

} // namespace automl::exec
