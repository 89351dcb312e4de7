#pragma once
// A checkpoint directory packed into one byte string, so that the storage can keep it with the trial and a
// worker on another machine (no shared filesystem) can continue from it. A checkpoint is flat: a few regular
// files (Trainer::save_checkpoint writes pipeline.pt, optimizer.pt, state.json).
//
// Format, version 1 (integers little-endian):
//   "AUTOMLCK"  magic, 8 bytes
//   u32         version
//   u32         number of files
//   per file:   u32 name length (1..255), the name, u64 size, the bytes
//   u32         CRC-32 (zlib) of everything before it
// Files are in name order, so the same directory always packs to the same bytes (archives can be compared).
// Names are plain file names: never empty, ".", "..", or containing '/' or NUL; no name twice.
//
// Reading never trusts a length: each is checked against what is left of the input before anything is
// allocated, so a truncated or corrupt archive is an Error, never a crash or a huge allocation.

#include "core/error.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace automl::study {

// Archives larger than this are not made: both storages refuse values near 1 GB (SQLite's default
// SQLITE_MAX_LENGTH, PostgreSQL's field limit), and the archive is held in memory twice while it is sent.
constexpr std::uintmax_t k_max_checkpoint_archive_bytes = 768ull << 20;

// pack_checkpoint() of a directory whose archive would exceed k_max_checkpoint_archive_bytes.
class ArchiveTooLarge : public Error {
public:
  using Error::Error;
};

struct ArchiveFile {
  std::string name;
  std::string_view bytes; // into the archive it was read from
};

// Packs the regular files of `dir`. Error naming the directory (and file) when it is not a directory, holds
// anything but regular files (a subdirectory), or a file cannot be read; ArchiveTooLarge before reading
// anything when the archive would be too large.
std::string pack_checkpoint(const std::filesystem::path& dir);

// The files of an archive, checked (structure, names, checksum). Error saying what is wrong and at which
// byte offset.
std::vector<ArchiveFile> read_checkpoint_archive(std::string_view archive);

// Writes the files of `archive` into directory `dir`, whole: into a temporary directory next to it, flushed
// and renamed over `dir` (an existing `dir` is replaced). Error when the archive is corrupt (nothing is
// written then) or a file cannot be written (naming it).
void unpack_checkpoint(std::string_view archive, const std::filesystem::path& dir);

} // namespace automl::study
