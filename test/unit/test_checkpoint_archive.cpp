#include "core/error.hpp"
#include "study/checkpoint_archive.hpp"
#include "support/expect_error.hpp"
#include "support/test_files.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

using automl::test::error_of;
using automl::test::names_in;
using automl::test::read_file;
using automl::test::TempDir;
using automl::test::write_file;
using testing::HasSubstr;
namespace fs = std::filesystem;
namespace study = automl::study;

namespace {

// Every byte value, NULs included, so that nothing on the way treats the contents as text.
std::string all_bytes(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>((i * 7 + i / 256) & 0xFF);
  return s;
}

// A checkpoint as Trainer::save_checkpoint leaves it.
void write_checkpoint(const fs::path& dir) {
  fs::create_directories(dir);
  write_file(dir / "pipeline.pt", all_bytes(70'000));
  write_file(dir / "optimizer.pt", all_bytes(1000));
  write_file(dir / "state.json", "{\"epochs_done\": 3}\n");
  write_file(dir / "empty", "");
}

// The archive of a directory holding `files` (name, bytes).
std::string archive_of(const std::vector<std::pair<std::string, std::string>>& files) {
  TempDir dir;
  for (const auto& [name, bytes] : files)
    write_file(dir / name, bytes);
  return study::pack_checkpoint(dir.path());
}

} // namespace

TEST(CheckpointArchive, RoundTripsADirectoryByteForByte) {
  TempDir dir;
  write_checkpoint(dir / "ckpt");
  const std::string archive = study::pack_checkpoint(dir / "ckpt");
  const auto files = study::read_checkpoint_archive(archive);
  ASSERT_EQ(files.size(), 4u);
  EXPECT_EQ(files[0].name, "empty"); // in name order
  EXPECT_EQ(files[1].name, "optimizer.pt");
  EXPECT_EQ(files[2].name, "pipeline.pt");
  EXPECT_EQ(files[3].name, "state.json");
  EXPECT_EQ(files[2].bytes, all_bytes(70'000));

  study::unpack_checkpoint(archive, dir / "copy" / "trial_1");
  EXPECT_EQ(names_in(dir / "copy" / "trial_1"),
            (std::vector<std::string>{"empty", "optimizer.pt", "pipeline.pt", "state.json"}));
  for (const auto& name : names_in(dir / "ckpt"))
    EXPECT_EQ(read_file(dir / "copy" / "trial_1" / name), read_file(dir / "ckpt" / name)) << name;
  EXPECT_EQ(names_in(dir / "copy"), (std::vector<std::string>{"trial_1"})); // no temporary left
  // The same files pack to the same bytes, wherever they are: archives can be compared.
  EXPECT_EQ(study::pack_checkpoint(dir / "copy" / "trial_1"), archive);

  // Unpacking again replaces the directory whole: a file that is not in the archive does not survive.
  write_file(dir / "copy" / "trial_1" / "stale", "x");
  study::unpack_checkpoint(archive, dir / "copy" / "trial_1");
  EXPECT_FALSE(fs::exists(dir / "copy" / "trial_1" / "stale"));

  TempDir empty;
  const auto nothing = study::pack_checkpoint(empty.path());
  EXPECT_TRUE(study::read_checkpoint_archive(nothing).empty());
}

TEST(CheckpointArchive, PackRefusesWhatIsNotAFlatDirectoryOfFiles) {
  TempDir dir;
  EXPECT_THAT(error_of([&] { study::pack_checkpoint(dir / "missing"); }), HasSubstr("missing: not a directory"));
  write_checkpoint(dir / "ckpt");
  fs::create_directory(dir / "ckpt" / "sub");
  EXPECT_THAT(error_of([&] { study::pack_checkpoint(dir / "ckpt"); }),
              HasSubstr("ckpt: 'sub' is not a regular file (an archive holds a flat directory of files)"));
}

TEST(CheckpointArchive, ATooLargeCheckpointIsRefusedBeforeAnythingIsRead) {
  TempDir dir;
  fs::create_directory(dir / "ckpt");
  write_file(dir / "ckpt" / "pipeline.pt", "");
  fs::resize_file(dir / "ckpt" / "pipeline.pt", study::k_max_checkpoint_archive_bytes); // sparse: no disk used
  try {
    study::pack_checkpoint(dir / "ckpt");
    ADD_FAILURE() << "packed";
  } catch (const study::ArchiveTooLarge& e) {
    EXPECT_THAT(e.what(), HasSubstr("more than the 805306368 an archive may hold"));
  }
}

TEST(CheckpointArchive, EveryTruncationOrFlippedByteIsAnErrorNotACrash) {
  const std::string archive = archive_of({{"a", "hello"}, {"state.json", all_bytes(300)}});
  ASSERT_EQ(study::read_checkpoint_archive(archive).size(), 2u);
  for (std::size_t n = 0; n < archive.size(); ++n)
    EXPECT_THROW(study::read_checkpoint_archive(std::string_view(archive).substr(0, n)), automl::Error) << n;
  for (std::size_t i = 0; i < archive.size(); ++i) {
    std::string flipped = archive;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x10);
    EXPECT_THROW(study::read_checkpoint_archive(flipped), automl::Error) << i;
  }
  EXPECT_THAT(error_of([&] { study::read_checkpoint_archive(archive + "x"); }),
              HasSubstr("1 bytes after the checksum"));
  // 16 bytes of header, 18 of "a", 22 before state.json's bytes.
  EXPECT_THAT(error_of([&] { study::read_checkpoint_archive(archive.substr(0, 100)); }),
              HasSubstr("checkpoint archive: truncated at byte 56: 'state.json' needs 300 bytes, 44 left"));
  std::string corrupt = archive;
  corrupt[100] = static_cast<char>(corrupt[100] ^ 1); // inside state.json's bytes
  EXPECT_THAT(error_of([&] { study::read_checkpoint_archive(corrupt); }), HasSubstr("checksum mismatch"));
  EXPECT_THAT(error_of([&] { study::read_checkpoint_archive("PK\3\4 a zip file"); }), HasSubstr("no AUTOMLCK magic"));
  // A corrupt archive writes nothing.
  TempDir dir;
  EXPECT_THROW(study::unpack_checkpoint(corrupt, dir / "out"), automl::Error);
  EXPECT_TRUE(names_in(dir.path()).empty());
}

TEST(CheckpointArchive, HugeLengthsAndBadNamesAreRefusedWithoutAllocating) {
  // Header fields written by hand (little-endian), with a valid checksum where it matters: the checks before it
  // must hold on their own.
  const auto le32 = [](std::uint32_t v) {
    std::string s;
    for (int i = 0; i < 4; ++i)
      s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    return s;
  };
  const auto le64 = [&](std::uint64_t v) {
    return le32(static_cast<std::uint32_t>(v)) + le32(static_cast<std::uint32_t>(v >> 32));
  };
  const std::string head = std::string("AUTOMLCK") + le32(1);
  EXPECT_THAT(error_of([&] { study::read_checkpoint_archive(std::string("AUTOMLCK") + le32(2) + le32(0) + le32(0)); }),
              HasSubstr("version 2; this automl reads version 1"));
  EXPECT_THAT(error_of([&] { study::read_checkpoint_archive(head + le32(0xFFFFFFFF) + std::string(20, 'x')); }),
              HasSubstr("4294967295 files cannot fit in the 20 bytes left at byte 16"));
  EXPECT_THAT(
      error_of([&] { study::read_checkpoint_archive(head + le32(1) + le32(0xFFFFFFFF) + std::string(20, 'x')); }),
      HasSubstr("file 1 at byte 16: name length 4294967295 (1 to 255)"));
  EXPECT_THAT(error_of([&] {
                study::read_checkpoint_archive(head + le32(1) + le32(1) + "a" + le64(~0ull) + std::string(20, 'x'));
              }),
              HasSubstr("'a' needs 18446744073709551615 bytes, 20 left"));
  for (const std::string& bad :
       {std::string(".."), std::string("."), std::string("../x"), std::string("a/b"), std::string("a\0b", 3)}) {
    const std::string entry = le32(static_cast<std::uint32_t>(bad.size())) + bad + le64(0);
    const auto message = error_of([&] { study::read_checkpoint_archive(head + le32(1) + entry + le32(0)); });
    EXPECT_THAT(message, HasSubstr("checkpoint archive: file 1 at byte 16: ")) << message;
  }
  const std::string twice = le32(1) + "a" + le64(0);
  EXPECT_THAT(error_of([&] { study::read_checkpoint_archive(head + le32(2) + twice + twice + le32(0)); }),
              HasSubstr("file 2 at byte 29: 'a' appears twice"));
}
