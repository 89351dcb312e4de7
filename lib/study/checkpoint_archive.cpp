#include "study/checkpoint_archive.hpp"

#include "core/files.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <system_error>

namespace automl::study {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_magic = "AUTOMLCK";
constexpr std::uint32_t k_version = 1;
constexpr std::size_t k_max_name_length = 255; // NAME_MAX on Linux
// Magic, version and file count before the files; the checksum after them.
constexpr std::size_t k_header_bytes = 8 + 4 + 4;
constexpr std::size_t k_trailer_bytes = 4;
// The least a file takes: name length, a one-byte name, size.
constexpr std::size_t k_min_file_bytes = 4 + 1 + 8;

std::uint32_t crc32_of(std::string_view bytes) {
  return static_cast<std::uint32_t>(
      crc32_z(crc32_z(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

template <typename T> void put(std::string& out, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i)
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

// Empty when `name` may be a file of an archive, else why not.
std::string bad_name(std::string_view name) {
  if (name.empty()) return "an empty file name";
  if (name == "." || name == "..") return fmt::format("file name '{}'", name);
  if (name.size() > k_max_name_length)
    return fmt::format("a file name of {} bytes (at most {})", name.size(), k_max_name_length);
  if (name.find('/') != std::string_view::npos) return fmt::format("file name '{}' contains '/'", name);
  if (name.find('\0') != std::string_view::npos) return "a file name containing NUL";
  return "";
}

// Reads the archive front to back; every length is checked against what is left before it is used.
class Reader {
public:
  explicit Reader(std::string_view bytes) : m_bytes(bytes) {}
  std::size_t offset() const { return m_offset; }
  std::size_t left() const { return m_bytes.size() - m_offset; }

  template <typename T> T get(const char* what) {
    need(sizeof(T), what);
    T value = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
      value |= static_cast<T>(static_cast<unsigned char>(m_bytes[m_offset + i])) << (8 * i);
    m_offset += sizeof(T);
    return value;
  }
  std::string_view take(std::uint64_t size, const std::string& what) {
    need(size, what);
    const auto part = m_bytes.substr(m_offset, static_cast<std::size_t>(size));
    m_offset += static_cast<std::size_t>(size);
    return part;
  }

private:
  void need(std::uint64_t size, const std::string& what) const {
    if (size > left())
      throw Error(fmt::format("checkpoint archive: truncated at byte {}: {} needs {} bytes, {} left", m_offset, what,
                              size, left()));
  }
  std::string_view m_bytes;
  std::size_t m_offset = 0;
};

} // namespace

std::string pack_checkpoint(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(fmt::format("checkpoint {}: not a directory", dir.string()));
  struct Entry {
    std::string name;
    std::uintmax_t size;
  };
  std::vector<Entry> entries;
  std::uintmax_t total = k_header_bytes + k_trailer_bytes;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!it->is_regular_file(ec))
      throw Error(fmt::format("checkpoint {}: '{}' is not a regular file (an archive holds a flat directory of files)",
                              dir.string(), name));
    const std::string bad = bad_name(name);
    if (!bad.empty()) throw Error(fmt::format("checkpoint {}: {}", dir.string(), bad));
    const auto size = it->file_size(ec);
    if (ec) break;
    entries.push_back({name, size});
    total += 4 + name.size() + 8 + size;
  }
  if (ec) throw Error(fmt::format("checkpoint {}: cannot list it ({})", dir.string(), ec.message()));
  if (total > k_max_checkpoint_archive_bytes)
    throw ArchiveTooLarge(fmt::format("checkpoint {}: {} bytes, more than the {} an archive may hold", dir.string(),
                                      total, k_max_checkpoint_archive_bytes));
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });

  std::string out;
  out.reserve(static_cast<std::size_t>(total));
  out.append(k_magic);
  put<std::uint32_t>(out, k_version);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(entries.size()));
  for (const auto& e : entries) {
    put<std::uint32_t>(out, static_cast<std::uint32_t>(e.name.size()));
    out.append(e.name);
    put<std::uint64_t>(out, e.size);
    const auto path = dir / e.name;
    std::ifstream in(path, std::ios::binary);
    const std::size_t start = out.size();
    out.resize(start + static_cast<std::size_t>(e.size));
    // A file that is shorter or longer than listed changed while it was packed: not a finished checkpoint.
    if (!in || !in.read(out.data() + start, static_cast<std::streamsize>(e.size)) ||
        in.peek() != std::ifstream::traits_type::eof())
      throw Error(fmt::format("checkpoint {}: cannot read '{}' ({} bytes listed)", dir.string(), e.name, e.size));
  }
  put<std::uint32_t>(out, crc32_of(out));
  return out;
}

std::vector<ArchiveFile> read_checkpoint_archive(std::string_view archive) {
  Reader reader(archive);
  if (reader.take(k_magic.size(), "the magic") != k_magic)
    throw Error("checkpoint archive: not an automl checkpoint archive (no AUTOMLCK magic)");
  const auto version = reader.get<std::uint32_t>("the version");
  if (version != k_version)
    throw Error(fmt::format("checkpoint archive: version {}; this automl reads version {}", version, k_version));
  const auto count = reader.get<std::uint32_t>("the file count");
  if (count > (reader.left() - std::min(reader.left(), k_trailer_bytes)) / k_min_file_bytes)
    throw Error(fmt::format("checkpoint archive: {} files cannot fit in the {} bytes left at byte {}", count,
                            reader.left(), reader.offset()));
  std::vector<ArchiveFile> files;
  files.reserve(count);
  std::set<std::string_view> seen;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::size_t at = reader.offset();
    const auto length = reader.get<std::uint32_t>("a file name's length");
    if (length == 0 || length > k_max_name_length)
      throw Error(fmt::format("checkpoint archive: file {} at byte {}: name length {} (1 to {})", i + 1, at, length,
                              k_max_name_length));
    const auto name = reader.take(length, fmt::format("file {}'s name", i + 1));
    const std::string bad = bad_name(name);
    if (!bad.empty()) throw Error(fmt::format("checkpoint archive: file {} at byte {}: {}", i + 1, at, bad));
    if (!seen.insert(name).second)
      throw Error(fmt::format("checkpoint archive: file {} at byte {}: '{}' appears twice", i + 1, at, name));
    const auto size = reader.get<std::uint64_t>(fmt::format("the size of '{}'", name).c_str());
    files.push_back(ArchiveFile{std::string(name), reader.take(size, fmt::format("'{}'", name))});
  }
  const std::size_t body = reader.offset();
  const auto stored = reader.get<std::uint32_t>("the checksum");
  if (reader.left() != 0)
    throw Error(fmt::format("checkpoint archive: {} bytes after the checksum at byte {}", reader.left(), body));
  const auto actual = crc32_of(archive.substr(0, body));
  if (stored != actual)
    throw Error(
        fmt::format("checkpoint archive: checksum mismatch (stored {:08x}, computed {:08x}): the archive is corrupt",
                    stored, actual));
  return files;
}

void unpack_checkpoint(std::string_view archive, const fs::path& dir) {
  const auto files = read_checkpoint_archive(archive); // before anything is written
  if (dir.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(dir.parent_path(), ec);
    if (ec) throw Error(fmt::format("{}: cannot create it ({})", dir.parent_path().string(), ec.message()));
  }
  const auto tmp = core::temporary_path_for(dir);
  std::error_code ec;
  fs::create_directory(tmp, ec);
  if (ec) throw Error(fmt::format("{}: cannot write ({})", dir.string(), ec.message()));
  try {
    for (const auto& f : files)
      core::write_file_atomic(tmp / f.name, f.bytes);
  } catch (...) {
    core::remove_tree(tmp, ec);
    throw;
  }
  core::commit_path(tmp, dir);
}

} // namespace automl::study
