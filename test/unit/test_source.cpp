#include "data/source.hpp"
#include "support/expect_error.hpp"
#include "support/test_files.hpp"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

using namespace automl;
using automl::test::bytes_of;
using automl::test::expect_input_error;
using automl::test::TempDir;

namespace {

// A fake MNIST-style directory: train pair with 4 samples, test pair with 2, 3x3 images.
void write_idx_dir(const std::filesystem::path& dir, const std::string& suffix = "") {
  test::write_idx(dir / ("train-images-idx3-ubyte" + suffix), 0x08, {4, 3, 3}, std::string(36, '\x01'), !suffix.empty());
  test::write_idx(dir / ("train-labels-idx1-ubyte" + suffix), 0x08, {4}, std::string{0, 1, 2, 1}, !suffix.empty());
  test::write_idx(dir / ("t10k-images-idx3-ubyte" + suffix), 0x08, {2, 3, 3}, std::string(18, '\x02'), !suffix.empty());
  test::write_idx(dir / ("t10k-labels-idx1-ubyte" + suffix), 0x08, {2}, std::string{1, 0}, !suffix.empty());
}

} // namespace

TEST(Source, NamedMnistComesFromTheDataDir) {
  TempDir dir;
  std::filesystem::create_directory(dir / "mnist");
  write_idx_dir(dir / "mnist");
  const auto train = data::load_source("mnist", {"", dir.path()});
  EXPECT_EQ(train.size(), 4);
  EXPECT_EQ(train.origin, "mnist");
  EXPECT_EQ(data::load_source("mnist:train", {"", dir.path()}).size(), 4);
  const auto test_set = data::load_source("mnist:test", {"", dir.path()});
  EXPECT_EQ(test_set.size(), 2);
  EXPECT_EQ(test_set.origin, "mnist:test");
}

TEST(Source, NamedMnistAcceptsGzipFiles) {
  TempDir dir;
  std::filesystem::create_directory(dir / "mnist");
  write_idx_dir(dir / "mnist", ".gz");
  EXPECT_EQ(data::load_source("mnist:test", {"", dir.path()}).size(), 2);
}

TEST(Source, DataDirFromEnvironment) {
  TempDir dir;
  std::filesystem::create_directory(dir / "mnist");
  write_idx_dir(dir / "mnist");
  ::setenv("AUTOML_DATA_DIR", dir.path().c_str(), 1);
  EXPECT_EQ(data::default_data_dir(), dir.path());
  EXPECT_EQ(data::load_source("mnist:test").size(), 2);
  ::unsetenv("AUTOML_DATA_DIR");
}

TEST(Source, MissingMnistSaysHowToGetIt) {
  TempDir dir;
  expect_input_error([&] { data::load_source("mnist", {"", dir.path()}); },
                     {"MNIST not found", "train-images-idx3-ubyte is missing", "run scripts/setup"});
}

TEST(Source, IdxDirectoryAndTestSuffix) {
  TempDir dir;
  write_idx_dir(dir.path());
  EXPECT_EQ(data::load_source(dir.path().string()).size(), 4);
  EXPECT_EQ(data::load_source(dir.path().string() + ":test").size(), 2);
}

TEST(Source, ExplicitPairs) {
  TempDir dir;
  write_idx_dir(dir.path());
  const auto pair = (dir / "t10k-images-idx3-ubyte").string() + "," + (dir / "t10k-labels-idx1-ubyte").string();
  EXPECT_EQ(data::load_source(pair).size(), 2);
  test::write_npy(dir / "X.npy", "<f4", {2, 1}, bytes_of(std::vector<float>{1, 2}));
  test::write_npy(dir / "y.npy", "<i8", {2}, bytes_of(std::vector<std::int64_t>{0, 1}));
  EXPECT_EQ(data::load_source((dir / "X.npy").string() + "," + (dir / "y.npy").string()).size(), 2);
  expect_input_error([&] { data::load_source((dir / "X.npy").string() + "," + (dir / "nope.npy").string()); },
                     {"nope.npy: no such file"});
}

TEST(Source, NpyDirectory) {
  TempDir dir;
  test::write_npy(dir / "X.npy", "<f4", {3, 2}, std::string(24, '\0'));
  test::write_npy(dir / "y.npy", "<i4", {3}, bytes_of(std::vector<std::int32_t>{0, 1, 1}));
  const auto d = data::load_source(dir.path().string());
  EXPECT_EQ(d.size(), 3);
  EXPECT_EQ(d.schema.num_classes(), 2);
}

TEST(Source, CsvWithTarget) {
  TempDir dir;
  test::write_file(dir / "d.csv", "y,a\np,1\nq,2\n");
  const auto d = data::load_source((dir / "d.csv").string(), {"y", {}});
  EXPECT_EQ(d.schema.feature_names, (std::vector<std::string>{"a"}));
  expect_input_error([&] { data::load_source(dir.path().string(), {"y", {}}); }, {"--target only applies to CSV"});
}

TEST(Source, UnknownSources) {
  TempDir dir;
  expect_input_error([] { data::load_source("cifar10"); }, {"unknown data source 'cifar10'", "mnist:test"});
  expect_input_error([] { data::load_source(""); }, {"empty data source"});
  test::write_file(dir / "d.parquet", "x");
  expect_input_error([&] { data::load_source((dir / "d.parquet").string()); }, {"unknown data format"});
  std::filesystem::create_directory(dir / "empty");
  expect_input_error([&] { data::load_source((dir / "empty").string()); },
                     {"expected one IDX pair", "found images [] and labels []"});
  expect_input_error([&] { data::load_source((dir / "missing.csv").string()); }, {"missing.csv: no such file"});
}

// An infinity is refused wherever it comes from (a CSV's loader refused it already; an NPY file's got through to
// training, which then "diverged"), naming the sample and the feature; NaN is a missing value.
TEST(Source, NonFiniteValuesAreRefusedFromEveryFormat) {
  TempDir dir;
  std::vector<float> x{1, 2, 3, std::numeric_limits<float>::infinity(), 5, 6};
  test::write_npy(dir / "X.npy", "<f4", {3, 2}, bytes_of(x));
  test::write_npy(dir / "y.npy", "<i4", {3}, bytes_of(std::vector<std::int32_t>{0, 1, 1}));
  expect_input_error([&] { data::load_source(dir.path().string()); }, {dir.path().string(), "sample 1, feature 1", "inf is not a finite number"});
  x[3] = std::numeric_limits<float>::quiet_NaN();
  test::write_npy(dir / "X.npy", "<f4", {3, 2}, bytes_of(x));
  EXPECT_TRUE(std::isnan(data::load_source(dir.path().string()).features[1][1].item<float>()));
}

// What training needs, found before any: samples, of at least two classes; an evaluation set needs samples.
TEST(Source, TrainingNeedsTwoClassesAndTestsNeedSamples) {
  TempDir dir;
  test::write_file(dir / "one.csv", "a,y\n1,p\n2,p\n3,p\n");
  test::write_file(dir / "none.csv", "a,y\n");
  test::write_file(dir / "two.csv", "a,y\n1,p\n2,q\n");
  const auto one = data::load_source((dir / "one.csv").string());
  expect_input_error([&] { data::check_training_data(one, "one.csv"); }, {"one.csv: every sample is of class 'p'", "at least two classes"});
  const auto none = data::load_source((dir / "none.csv").string());
  expect_input_error([&] { data::check_training_data(none, "none.csv"); }, {"none.csv: no samples to train on"});
  expect_input_error([&] { data::check_test_data(none, "none.csv", "--test"); }, {"--test none.csv: no samples to evaluate"});
  const auto two = data::load_source((dir / "two.csv").string());
  data::check_training_data(two, "two.csv");
  data::check_test_data(two, "two.csv", "--test");
}
