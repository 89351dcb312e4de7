#include "core/error.hpp"
#include "core/files.hpp"
#include "support/test_files.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

using automl::test::names_in;
using automl::test::TempDir;
namespace fs = std::filesystem;

TEST(Files, WriteFileAtomicWritesAndReplacesWithoutTemporaries) {
  TempDir dir;
  automl::core::write_file_atomic(dir / "a.json", "first\n");
  EXPECT_EQ(automl::test::read_file(dir / "a.json"), "first\n");
  automl::core::write_file_atomic(dir / "a.json", "second\n");
  EXPECT_EQ(automl::test::read_file(dir / "a.json"), "second\n");
  automl::core::write_file_atomic(dir / "empty", "");
  EXPECT_EQ(automl::test::read_file(dir / "empty"), "");
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{"a.json", "empty"}));
}

TEST(Files, AFailedWriteNamesThePathAndChangesNothing) {
  TempDir dir;
  try {
    automl::core::write_file_atomic(dir / "missing" / "a.json", "x");
    ADD_FAILURE() << "wrote into a missing directory";
  } catch (const automl::Error& e) {
    EXPECT_NE(std::string(e.what()).find((dir / "missing" / "a.json").string() + ": cannot write"), std::string::npos)
        << e.what();
  }
  // A directory in the way of the final name: the rename fails, the temporary is removed.
  fs::create_directory(dir / "taken");
  automl::test::write_file(dir / "taken" / "inside", "kept");
  EXPECT_THROW(automl::core::write_file_atomic(dir / "taken", "x"), automl::Error);
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{"taken"}));
  EXPECT_EQ(automl::test::read_file(dir / "taken" / "inside"), "kept");
}

TEST(Files, CommitPathReplacesADirectoryWhole) {
  TempDir dir;
  fs::create_directory(dir / "ckpt");
  automl::test::write_file(dir / "ckpt" / "old", "old");
  const auto tmp = automl::core::temporary_path_for(dir / "ckpt");
  EXPECT_EQ(tmp.parent_path(), dir.path());
  EXPECT_NE(tmp, automl::core::temporary_path_for(dir / "ckpt"));
  fs::create_directory(tmp);
  automl::test::write_file(tmp / "new", "new");
  automl::core::commit_path(tmp, dir / "ckpt");
  EXPECT_EQ(names_in(dir / "ckpt"), std::vector<std::string>{"new"});
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"ckpt"});
}

// remove_tree as std::filesystem::remove_all: everything under a directory, a link without what it points to,
// a missing path as no error.
TEST(Files, RemoveTreeRemovesADirectoryWholeAndNotWhatALinkPointsTo) {
  namespace fs = std::filesystem;
  TempDir dir;
  const auto tree = dir / "tree";
  fs::create_directories(tree / "a" / "b");
  automl::core::write_file_atomic(tree / "a" / "b" / "f.txt", "x");
  automl::core::write_file_atomic(tree / "g.txt", "y");
  const auto outside = dir / "outside";
  fs::create_directories(outside);
  automl::core::write_file_atomic(outside / "kept.txt", "z");
  fs::create_directory_symlink(outside, tree / "link");
  std::error_code ec;
  EXPECT_EQ(automl::core::remove_tree(tree, ec), 6u); // tree, a, b, f.txt, g.txt, link
  EXPECT_FALSE(ec);
  EXPECT_FALSE(fs::exists(tree));
  EXPECT_TRUE(fs::exists(outside / "kept.txt"));
  EXPECT_EQ(automl::core::remove_tree(tree, ec), 0u);
  EXPECT_FALSE(ec);
  automl::core::write_file_atomic(dir / "single.txt", "s");
  EXPECT_EQ(automl::core::remove_tree(dir / "single.txt", ec), 1u);
  EXPECT_FALSE(fs::exists(dir / "single.txt"));
}

// A short write (a full disk) through FileSink is an Error naming the file when it is closed, never an exception
// inside the serializer's writer: LibTorch 1.13's writer threw again from its destructor, and the process aborted.
TEST(Files, FileSinkReportsAFullDiskWhenClosed) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  automl::core::FileSink sink("/dev/full");
  const std::string bytes(1 << 16, 'x');
  EXPECT_EQ(sink.write(bytes.data(), bytes.size()), bytes.size()); // reported whole: the serializer goes on
  EXPECT_EQ(sink.write(bytes.data(), bytes.size()), bytes.size());
  try {
    sink.close();
    ADD_FAILURE() << "a write to /dev/full succeeded";
  } catch (const automl::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/dev/full: cannot write (No space left on device)"), std::string::npos) << e.what();
  }
  TempDir dir;
  automl::core::FileSink ok(dir / "a.bin");
  ok.write("abc", 3);
  ok.close();
  EXPECT_EQ(automl::test::read_file(dir / "a.bin"), "abc");
  EXPECT_THROW(automl::core::FileSink(dir / "missing" / "a.bin"), automl::Error);
}

// An output path that is a link is followed (its target replaced, the link kept); a device or a pipe is written
// into, not replaced by a file (`predict --output /dev/stdout` as root replaced the device).
TEST(Files, WriteFileAtomicFollowsLinksAndWritesIntoDevices) {
  TempDir dir;
  automl::test::write_file(dir / "target.csv", "old\n");
  fs::create_symlink("target.csv", dir / "link.csv");
  automl::core::write_file_atomic(dir / "link.csv", "new\n");
  EXPECT_TRUE(fs::is_symlink(dir / "link.csv"));
  EXPECT_EQ(automl::test::read_file(dir / "target.csv"), "new\n");
  fs::create_symlink("made.csv", dir / "dangling.csv");
  automl::core::write_file_atomic(dir / "dangling.csv", "made\n");
  EXPECT_TRUE(fs::is_symlink(dir / "dangling.csv"));
  EXPECT_EQ(automl::test::read_file(dir / "made.csv"), "made\n");
  if (::mknod((dir / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) GTEST_SKIP() << "mknod needs root";
  automl::core::write_file_atomic(dir / "null", "discarded\n");
  EXPECT_TRUE(fs::is_character_file(dir / "null"));
}

// What a killed run left under temporary names goes; what a live process (this one, pid 1) is writing stays.
TEST(Files, StaleTemporariesOfGoneProcessesAreRemoved) {
  TempDir dir;
  automl::test::write_file(dir / "best_model.pt.tmp-999999999-3", "torn");
  fs::create_directory(dir / "trial_3.tmp-999999998-17");
  automl::test::write_file(dir / "trial_3.tmp-999999998-17" / "pipeline.pt", "torn");
  const auto mine = "a.json.tmp-" + std::to_string(::getpid()) + "-1";
  automl::test::write_file(dir / mine, "writing");
  automl::test::write_file(dir / "b.json.tmp-1-2", "pid 1 is alive");
  automl::test::write_file(dir / "notes.tmp-x-1", "not ours");
  automl::test::write_file(dir / "best_model.pt", "kept");
  EXPECT_EQ(automl::core::remove_stale_temporaries(dir.path()), 2u);
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{mine, "b.json.tmp-1-2", "best_model.pt", "notes.tmp-x-1"}));
  EXPECT_EQ(automl::core::remove_stale_temporaries(dir / "missing"), 0u);
}
