#pragma once
// Small files made by the tests themselves: a temporary directory and writers for IDX, NPY and text.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace automl::test {

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return m_path; }
  std::filesystem::path operator/(const std::string& name) const { return m_path / name; }

private:
  std::filesystem::path m_path;
};

void write_file(const std::filesystem::path& path, const std::string& bytes);
std::string read_file(const std::filesystem::path& path);

// An IDX file: magic (0, 0, type, dims.size()), big-endian dims, then `payload` as given (already
// big-endian). gzip-compresses it when `gzip` is set.
void write_idx(const std::filesystem::path& path, std::uint8_t type, const std::vector<std::uint32_t>& dims,
               const std::string& payload, bool gzip = false);

// An NPY v1.0 file with the given descr ('<f4', ...), shape and raw little-endian payload.
void write_npy(const std::filesystem::path& path, const std::string& descr, const std::vector<std::int64_t>& shape,
               const std::string& payload, bool fortran_order = false);

// Raw bytes of a vector of trivially copyable values (host order, little-endian here).
template <typename T> std::string bytes_of(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

} // namespace automl::test

namespace automl::test {

struct CommandResult {
  int exit_code;
  std::string out; // stdout
  std::string err; // stderr
};

// Runs a shell command line and captures its exit code, stdout and stderr.
CommandResult run_command(const std::string& command_line);

// The names of the entries of `dir`, sorted.
std::vector<std::string> names_in(const std::filesystem::path& dir);

} // namespace automl::test
