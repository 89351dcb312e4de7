// The automl binary as users and CI run it: exit codes, stdout/stderr, messages.

#include "data/source.hpp"
#include "support/automl_binary.hpp"
#include "support/test_files.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using automl::test::automl_cli;
using automl::test::bytes_of;
using automl::test::TempDir;
using testing::HasSubstr;

namespace {

bool have_mnist() {
  const auto dir = automl::data::default_data_dir() / "mnist";
  return std::filesystem::exists(dir / "train-images-idx3-ubyte") && std::filesystem::exists(dir / "t10k-images-idx3-ubyte");
}

// Runs `automl data inspect <source>` and checks it fails with exit code 2 and `message` on stderr.
void expect_exit_2(const std::string& source, const std::string& message, const std::string& extra = "") {
  const auto r = automl_cli("data inspect '" + source + "' " + extra);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("automl: error: "));
  EXPECT_THAT(r.err, HasSubstr(message));
  EXPECT_EQ(r.out, "");
}

} // namespace

TEST(Cli, InspectMnist) {
  if (!have_mnist()) GTEST_SKIP() << "MNIST is not in " << automl::data::default_data_dir() << " (run scripts/setup)";
  const auto r = automl_cli("data inspect mnist --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["samples"], 60000);
  EXPECT_EQ(j["kind"], "image");
  EXPECT_EQ(j["sample_shape"], nlohmann::json::array({28, 28}));
  EXPECT_EQ(j["num_classes"], 10);
  const std::vector<int> counts{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
  for (std::size_t c = 0; c < counts.size(); ++c) EXPECT_EQ(j["classes"][c]["count"], counts[c]) << "class " << c;
  EXPECT_EQ(j["missing"]["values"], 0);
  EXPECT_EQ(j["value_range"], nlohmann::json::array({0.0, 255.0}));
}

TEST(Cli, InspectMnistTestText) {
  if (!have_mnist()) GTEST_SKIP() << "MNIST is not in " << automl::data::default_data_dir() << " (run scripts/setup)";
  const auto r = automl_cli("data inspect mnist:test");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("samples   10000\n"));
  EXPECT_THAT(r.out, HasSubstr("shape     28x28 (784 features per sample)\n"));
  EXPECT_THAT(r.out, HasSubstr("classes   10\n"));
  EXPECT_THAT(r.out, HasSubstr("  1         1135   11.3%\n"));
}

TEST(Cli, DataDirFlag) {
  TempDir dir;
  std::filesystem::create_directory(dir / "mnist");
  automl::test::write_idx(dir / "mnist/t10k-images-idx3-ubyte", 0x08, {2, 2, 2}, std::string(8, '\x01'));
  automl::test::write_idx(dir / "mnist/t10k-labels-idx1-ubyte", 0x08, {2}, std::string{3, 4});
  const auto r = automl_cli("data inspect mnist:test --json --data-dir " + dir.path().string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["samples"], 2);
}

TEST(Cli, BadIdxExitsWith2) {
  TempDir dir;
  automl::test::write_idx(dir / "images", 0x08, {60000, 28, 28}, std::string(1000, '\0'));
  automl::test::write_idx(dir / "labels", 0x08, {60000}, std::string(60000, '\0'));
  expect_exit_2((dir / "images").string() + "," + (dir / "labels").string(),
                (dir / "images").string() +
                    ": truncated IDX file: header claims 60000x28x28 ubyte values (47040000 bytes of data), but only "
                    "1000 bytes follow the 16-byte header");
  automl::test::write_idx(dir / "huge", 0x08, {3000000000u, 28, 28}, std::string(64, '\0'));
  expect_exit_2((dir / "huge").string() + "," + (dir / "labels").string(), "3000000000x28x28 ubyte");
  automl::test::write_file(dir / "magic", "\x89PNG\r\n\x1a\n....");
  expect_exit_2((dir / "magic").string() + "," + (dir / "labels").string(), "wrong magic number 0x89504e47");
}

TEST(Cli, BadCsvExitsWith2) {
  TempDir dir;
  automl::test::write_file(dir / "fields.csv", "a,b,y\n1,2,p\n3,4\n");
  expect_exit_2((dir / "fields.csv").string(), (dir / "fields.csv").string() + ":3: expected 3 fields");
  automl::test::write_file(dir / "cell.csv", "a,b,y\n1,two,p\n");
  expect_exit_2((dir / "cell.csv").string(), (dir / "cell.csv").string() + ":2: column 'b': 'two' is not a number");
  expect_exit_2((dir / "cell.csv").string(), "no target column 'label'; columns: a, b, y", "--target label");
}

TEST(Cli, BadNpyExitsWith2) {
  TempDir dir;
  automl::test::write_npy(dir / "X.npy", "<c16", {2, 1}, std::string(32, '\0'));
  automl::test::write_npy(dir / "y.npy", "<i8", {2}, std::string(16, '\0'));
  expect_exit_2(dir.path().string(), "unsupported dtype '<c16'");
  automl::test::write_npy(dir / "X.npy", "<f4", {2, 2}, std::string(16, '\0'), /*fortran_order=*/true);
  expect_exit_2(dir.path().string(), "Fortran-order arrays are not supported");
  automl::test::write_npy(dir / "X.npy", "<f4", {3, 1}, std::string(12, '\0'));
  expect_exit_2(dir.path().string(), "has 3 samples but " + (dir / "y.npy").string() + " has 2 labels");
}

TEST(Cli, UsageErrorsExitWith2) {
  auto r = automl_cli("");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("automl: error: "));
  r = automl_cli("data inspect mnist --no-such-flag");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--no-such-flag"));
  r = automl_cli("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  r = automl_cli("--log-level loud data inspect mnist");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown log level 'loud'; valid: trace, debug, info, warn, error, off"));
  r = automl_cli("data inspect mnist --validation-split 1.5 --data-dir /nonexistent");
  EXPECT_EQ(r.exit_code, 2);
}

TEST(Cli, HelpAndVersionExit0) {
  auto r = automl_cli("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("data"));
  r = automl_cli("data inspect --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("--validation-split"));
  r = automl_cli("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("automl " AUTOML_VERSION));
}
