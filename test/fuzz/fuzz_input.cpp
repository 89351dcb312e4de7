#include "fuzz_input.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <unistd.h>

namespace automl::fuzz {

std::vector<std::string> split_parts(const std::uint8_t* data, std::size_t size, std::size_t max_parts) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  std::size_t at = 0;
  while (parts.size() + 1 < max_parts) {
    const auto next = text.find(k_part_separator, at);
    if (next == std::string::npos) break;
    parts.push_back(text.substr(at, next - at));
    at = next + k_part_separator.size();
  }
  parts.push_back(text.substr(at));
  return parts;
}

namespace {

// Where the temp files go: /dev/shm/automl-fuzz-PID (or under the system temp dir without /dev/shm).
const std::string k_temp_dir_prefix =
    ((std::filesystem::is_directory("/dev/shm") ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path()) /
     "automl-fuzz-")
        .string();

} // namespace

std::filesystem::path temp_path(const std::string& name) {
  static const std::filesystem::path dir = [] {
    std::filesystem::path d = k_temp_dir_prefix + std::to_string(::getpid());
    std::filesystem::create_directories(d);
    // libFuzzer ends a run with exit(), so this removes the directory unless the process crashed.
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(std::filesystem::path(k_temp_dir_prefix + std::to_string(::getpid())), ec);
    });
    return d;
  }();
  return dir / name;
}

std::filesystem::path write_temp_file(const std::string& name, const std::string& bytes) {
  const auto path = temp_path(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("fuzz harness: cannot write " + path.string()); // the harness's own fault
  return path;
}

} // namespace automl::fuzz
