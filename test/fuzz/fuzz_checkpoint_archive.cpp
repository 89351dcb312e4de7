// The checkpoint archive (lib/study/checkpoint_archive), as a worker meets a checkpoint stored by another: read,
// then unpacked into a directory. The first byte chooses how the rest is used: odd, as it is; even, with its
// last 4 bytes replaced by the CRC-32 of the bytes before them, so that inputs get past the checksum (which a
// random input matches once in 2^32) to the files being written. An unpacked directory that holds anything but
// the archive's files (a name that escaped it) is a finding too.
#include "fuzz_input.hpp"
#include "study/checkpoint_archive.hpp"

#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace automl;
  if (size == 0) return 0;
  std::string archive(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0 && archive.size() >= 4) {
    auto crc =
        static_cast<std::uint32_t>(crc32_z(0L, reinterpret_cast<const Bytef*>(archive.data()), archive.size() - 4));
    for (std::size_t i = archive.size() - 4; i < archive.size(); ++i, crc >>= 8)
      archive[i] = static_cast<char>(crc & 0xFF);
  }
  const auto dir = fuzz::temp_path("checkpoint");
  fuzz::expect_only_automl_errors([&] {
    const auto files = study::read_checkpoint_archive(archive);
    study::unpack_checkpoint(archive, dir);
    std::set<std::string> expected, found;
    for (const auto& f : files)
      expected.insert(f.name);
    for (const auto& e : std::filesystem::directory_iterator(dir))
      found.insert(e.path().filename().string());
    if (found != expected) std::abort();
  });
  return 0;
}
