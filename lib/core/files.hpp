#pragma once
// Durable output files. Everything automl writes for the user (models, checkpoints, JSON, CSV logs) goes to a
// temporary name in the same directory, is checked and flushed to disk (fsync), and is then renamed over the
// final name: a kill or a full disk leaves either the old file or the new one, never a torn one.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <system_error>
#include <string_view>

namespace automl::core {

// Removes `path` and, for a directory, everything under it, as std::filesystem::remove_all(path, ec) does (a
// missing path is no error); returns how many entries were removed. Written out because some PyTorch builds'
// libtorch.so export their own std::filesystem::remove_all, which crashed when automl's calls were bound to it
// (PyTorch 2.11 on Ubuntu 24.04).
std::uintmax_t remove_tree(const std::filesystem::path& path, std::error_code& ec);

// A fresh temporary name next to `path`, in the same directory (so that renaming it is atomic):
// "<path>.tmp-<pid>-<n>". Nothing is created.
std::filesystem::path temporary_path_for(const std::filesystem::path& path);

// Removes the entries of `dir` (not below it) that temporary_path_for named for a process that is gone: what a
// kill or a full disk left half written. Returns how many were removed; a missing `dir` is none.
std::size_t remove_stale_temporaries(const std::filesystem::path& dir);

// Writes `text` to `path` durably (see above). Throws Error naming the path when any step fails; the temporary
// file is removed then and `path` is unchanged.
void write_file_atomic(const std::filesystem::path& path, std::string_view text);

// A file written piece by piece by a serializer that takes a writer function (LibTorch's module and archive
// writers). write() always reports every byte written: LibTorch 1.13 answers a short write by throwing, and its
// writer's destructor throws again, which ends the process (a full disk aborted a search). The first error is kept
// instead, later writes are skipped, and close() throws it as an Error naming the path. Example (train/trainer.cpp):
//   core::FileSink sink(dir / "pipeline.pt");
//   torch::jit::ExportModule(module, [&](const void* p, std::size_t n) { return sink.write(p, n); });
//   sink.close();
class FileSink {
public:
  explicit FileSink(const std::filesystem::path& path); // creates or truncates; throws Error when it cannot
  ~FileSink();
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;
  std::size_t write(const void* data, std::size_t size);
  void close();

private:
  std::filesystem::path m_path;
  int m_fd = -1;
  int m_error = 0; // the first errno
};

// Makes a finished temporary file or directory `tmp` durable (fsync of it, its files and its directory) and
// renames it to `path`. A file replaces `path`; a directory replaces an existing `path` directory (removed
// first: the old one is lost if the process dies between the two steps, never half of the new one).
// Throws Error naming `path`; `tmp` is removed then.
void commit_path(const std::filesystem::path& tmp, const std::filesystem::path& path);

} // namespace automl::core
