#include "core/files.hpp"

#include "core/error.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <vector>

namespace automl::core {

std::uintmax_t remove_tree(const std::filesystem::path& path, std::error_code& ec) {
  namespace fs = std::filesystem;
  ec.clear();
  const auto status = fs::symlink_status(path, ec);
  if (ec || !fs::exists(status)) {
    if (ec == std::errc::no_such_file_or_directory || !fs::exists(status)) ec.clear();
    return 0;
  }
  std::uintmax_t removed = 0;
  if (fs::is_directory(status)) {
    std::vector<fs::path> children;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) children.push_back(it->path());
    if (ec) return removed;
    for (const auto& child : children) {
      removed += remove_tree(child, ec);
      if (ec) return removed;
    }
  }
  if (fs::remove(path, ec)) ++removed;
  return removed;
}

namespace fs = std::filesystem;

namespace {

// fsync of a file or directory; false (errno set) when it cannot be opened or synced.
bool sync_path(const fs::path& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return ok;
}

fs::path parent_or_dot(const fs::path& path) { return path.has_parent_path() ? path.parent_path() : fs::path("."); }

void remove_quietly(const fs::path& path) {
  std::error_code ignored;
  remove_tree(path, ignored);
}

} // namespace

std::size_t remove_stale_temporaries(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    // "<name>.tmp-<pid>-<n>"
    const auto at = name.rfind(".tmp-");
    if (at == std::string::npos) continue;
    const std::string rest = name.substr(at + 5);
    const auto dash = rest.find('-');
    if (dash == std::string::npos || dash == 0 || dash + 1 == rest.size() ||
        rest.find_first_not_of("0123456789-") != std::string::npos || rest.find('-', dash + 1) != std::string::npos)
      continue;
    const long pid = std::strtol(rest.substr(0, dash).c_str(), nullptr, 10);
    if (pid <= 0 || pid == ::getpid() || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    stale.push_back(it->path());
  }
  std::size_t removed = 0;
  for (const auto& p : stale) {
    std::error_code ignored;
    remove_tree(p, ignored);
    if (!ignored) ++removed;
  }
  return removed;
}

FileSink::FileSink(const fs::path& path) : m_path(path) {
  m_fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (m_fd < 0) throw Error(fmt::format("{}: cannot write ({})", path.string(), std::strerror(errno)));
}

FileSink::~FileSink() {
  if (m_fd >= 0) ::close(m_fd);
}

std::size_t FileSink::write(const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  for (std::size_t left = size; left > 0 && m_error == 0 && m_fd >= 0;) {
    const auto n = ::write(m_fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      m_error = n < 0 ? errno : ENOSPC;
      break;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return size;
}

void FileSink::close() {
  if (m_fd >= 0 && ::close(m_fd) != 0 && m_error == 0) m_error = errno;
  m_fd = -1;
  if (m_error != 0) throw Error(fmt::format("{}: cannot write ({})", m_path.string(), std::strerror(m_error)));
}

fs::path temporary_path_for(const fs::path& path) {
  static std::atomic<unsigned long> counter{0};
  return fs::path(fmt::format("{}.tmp-{}-{}", path.string(), ::getpid(), counter++));
}

void write_file_atomic(const fs::path& path, std::string_view text) {
  // What `path` names, links followed: a device, a pipe or a socket (--output /dev/stdout, /dev/null, a FIFO) is
  // written into, not replaced by a file; a link to a file has its target replaced, not the link.
  std::error_code ec;
  const auto status = fs::status(path, ec);
  const bool link = fs::is_symlink(fs::symlink_status(path, ec));
  const bool special = fs::exists(status) && !fs::is_regular_file(status) && !fs::is_directory(status);
  if (link && !special && fs::exists(status)) {
    const auto target = fs::canonical(path, ec);
    if (!ec && target != path) return write_file_atomic(target, text);
  }
  if (special || link) { // written into: the device or pipe, or a dangling link's target (created)
    FileSink sink(path);
    sink.write(text.data(), text.size());
    sink.close();
    return;
  }
  const auto tmp = temporary_path_for(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(fmt::format("{}: cannot write ({})", path.string(), std::strerror(errno)));
  const char* data = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    const auto n = ::write(fd, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int saved = errno;
      ::close(fd);
      remove_quietly(tmp);
      throw Error(fmt::format("{}: cannot write ({})", path.string(), std::strerror(saved)));
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const int saved = errno;
  if (::close(fd) != 0 || !synced) {
    remove_quietly(tmp);
    throw Error(fmt::format("{}: cannot write ({})", path.string(), std::strerror(synced ? errno : saved)));
  }
  commit_path(tmp, path);
}

void commit_path(const fs::path& tmp, const fs::path& path) {
  std::error_code ec;
  const bool directory = fs::is_directory(tmp, ec);
  bool synced = true;
  if (directory) {
    for (const auto& entry : fs::directory_iterator(tmp, ec))
      if (entry.is_regular_file()) synced = synced && sync_path(entry.path(), false);
  }
  synced = synced && !ec && sync_path(tmp, directory);
  if (!synced) {
    const int saved = errno;
    remove_quietly(tmp);
    throw Error(fmt::format("{}: cannot write ({})", path.string(), std::strerror(saved)));
  }
  if (directory && fs::exists(path, ec)) remove_tree(path, ec);
  if (!ec) fs::rename(tmp, path, ec);
  if (ec) {
    remove_quietly(tmp);
    throw Error(fmt::format("{}: cannot write ({})", path.string(), ec.message()));
  }
  sync_path(parent_or_dot(path), true); // the rename itself; a failure here loses nothing already visible
}

} // namespace automl::core
