#include "exec/checkpoints.hpp"

#include "core/error.hpp"
#include "core/files.hpp"
#include "study/checkpoint_archive.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <system_error>
#include <utility>

namespace automl::exec {

namespace fs = std::filesystem;

std::optional<std::string> checkpoint_archive_for(const std::string& reference) {
  std::error_code ec;
  if (!fs::is_directory(reference, ec)) return std::nullopt;
  try {
    return study::pack_checkpoint(reference);
  } catch (const study::ArchiveTooLarge& e) {
    spdlog::warn("{}: stored without its files; only machines that see this directory can continue from it", e.what());
    return std::nullopt;
  }
}

LocalCheckpoint::~LocalCheckpoint() {
  if (!m_fetched || m_dir.empty()) return;
  std::error_code ignored;
  core::remove_tree(m_dir, ignored);
}

LocalCheckpoint::LocalCheckpoint(LocalCheckpoint&& other) noexcept
    : m_dir(std::exchange(other.m_dir, std::string())), m_fetched(other.m_fetched) {}

std::optional<LocalCheckpoint> local_checkpoint(study::Storage& storage, std::int64_t trial_id,
                                                const std::string& fetch_dir) {
  auto reference = storage.checkpoint(trial_id);
  if (!reference) return std::nullopt;
  const auto archive = storage.checkpoint_archive(trial_id);
  if (!archive) return LocalCheckpoint(std::move(*reference), false);
  // The directory the reference names may be missing here (written on another machine, or removed), or hold
  // other files: a lost attempt's, or another study's that used the same output directory.
  std::error_code ec;
  if (fs::is_directory(*reference, ec)) {
    try {
      if (study::pack_checkpoint(*reference) == *archive) return LocalCheckpoint(std::move(*reference), false);
    } catch (const Error&) { // unreadable here: the stored copy is used
    }
  }
  const fs::path base = fetch_dir.empty() ? fs::temp_directory_path() : fs::path(fetch_dir);
  // A name of its own: two attempts of one promotion on one machine never share it.
  const fs::path dir = core::temporary_path_for(base / fmt::format("trial_{}_from_store", trial_id));
  try {
    study::unpack_checkpoint(*archive, dir);
  } catch (const Error& e) {
    throw e.with_context(fmt::format("trial {}'s checkpoint from the storage (the directory {} is not on this machine "
                                     "as stored)",
                                     trial_id, *reference));
  }
  spdlog::info("trial {}'s checkpoint fetched from the storage into {} ({} bytes; {} is not on this machine as stored)",
               trial_id, dir.string(), archive->size(), *reference);
  return LocalCheckpoint(dir.string(), true);
}

} // namespace automl::exec
