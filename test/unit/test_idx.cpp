#include "data/idx.hpp"
#include "support/expect_error.hpp"
#include "support/test_files.hpp"

using namespace automl;
using automl::test::TempDir;
using automl::test::expect_input_error;

namespace {

std::string pixels(std::size_t n, char start = 0) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(start + static_cast<char>(i));
  return s;
}

} // namespace

TEST(Idx, ReadsUbyteImagesAndLabels) {
  TempDir dir;
  test::write_idx(dir / "images", 0x08, {3, 2, 2}, pixels(12));
  test::write_idx(dir / "labels", 0x08, {3}, std::string{'\x02', '\x00', '\x02'});
  const auto d = data::load_idx(dir / "images", dir / "labels");
  EXPECT_EQ(d.size(), 3);
  EXPECT_EQ(d.schema.kind, data::DataKind::image);
  EXPECT_EQ(d.schema.sample_shape, (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(d.schema.class_names, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(d.features.scalar_type(), torch::kFloat32);
  EXPECT_FLOAT_EQ(d.features[2][1][1].item<float>(), 11.0f);
  EXPECT_EQ(d.label_vector(), (std::vector<std::int64_t>{2, 0, 2}));
}

TEST(Idx, ReadsGzipAndBigEndianTypes) {
  TempDir dir;
  // Two int16 values, big-endian: 0x0102 = 258 and 0xFFFE = -2.
  test::write_idx(dir / "a.gz", 0x0B, {2, 1}, std::string{'\x01', '\x02', '\xFF', '\xFE'}, /*gzip=*/true);
  const auto a = data::read_idx(dir / "a.gz");
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(a.values.scalar_type(), torch::kInt16);
  EXPECT_EQ(a.values[0][0].item<int>(), 258);
  EXPECT_EQ(a.values[1][0].item<int>(), -2);
  // float 1.5 big-endian is 3F C0 00 00.
  test::write_idx(dir / "f", 0x0D, {1}, std::string{'\x3F', '\xC0', '\x00', '\x00'});
  EXPECT_FLOAT_EQ(data::read_idx(dir / "f").values[0].item<float>(), 1.5f);
}

TEST(Idx, TwoDimensionalImagesAreTabular) {
  TempDir dir;
  test::write_idx(dir / "x", 0x08, {2, 3}, pixels(6));
  test::write_idx(dir / "y", 0x08, {2}, std::string{'\x00', '\x01'});
  EXPECT_EQ(data::load_idx(dir / "x", dir / "y").schema.kind, data::DataKind::tabular);
}

TEST(Idx, TruncatedFileNamesFileClaimAndSize) {
  TempDir dir;
  test::write_idx(dir / "images", 0x08, {10, 28, 28}, pixels(100));
  expect_input_error([&] { data::read_idx(dir / "images"); },
                     {(dir / "images").string(), "truncated IDX file", "10x28x28 ubyte", "7840 bytes",
                      "only 100 bytes follow the 16-byte header"});
}

TEST(Idx, TruncatedGzipFile) {
  TempDir dir;
  test::write_idx(dir / "images.gz", 0x08, {10, 28, 28}, pixels(100), /*gzip=*/true);
  expect_input_error([&] { data::read_idx(dir / "images.gz"); }, {"truncated IDX file", "only 100 bytes"});
}

TEST(Idx, BillionsClaimedInSmallFileIsRefusedWithoutAllocating) {
  TempDir dir;
  // 4e9 x 4e9 x 4e9 doubles overflows 64 bits; 4e9 x 28 x 28 ubyte fits but is absent.
  test::write_idx(dir / "huge", 0x0E, {4000000000u, 4000000000u, 4000000000u}, pixels(64));
  expect_input_error([&] { data::read_idx(dir / "huge"); }, {"more than any file can hold"});
  test::write_idx(dir / "big", 0x08, {4000000000u, 28, 28}, pixels(64));
  expect_input_error([&] { data::read_idx(dir / "big"); },
                     {"truncated IDX file", "4000000000x28x28 ubyte", "3136000000000 bytes", "only 64 bytes"});
}

TEST(Idx, ExtraBytesAreAnError) {
  TempDir dir;
  test::write_idx(dir / "x", 0x08, {2}, pixels(3));
  expect_input_error([&] { data::read_idx(dir / "x"); }, {"longer than its header says"});
}

TEST(Idx, WrongMagicNumber) {
  TempDir dir;
  test::write_file(dir / "x", "GIF89a....");
  expect_input_error([&] { data::read_idx(dir / "x"); }, {(dir / "x").string(), "wrong magic number 0x47494638"});
  test::write_idx(dir / "t", 0x07, {1}, pixels(1));
  expect_input_error([&] { data::read_idx(dir / "t"); }, {"unknown IDX type 0x07"});
  test::write_file(dir / "short", std::string{'\0', '\0'});
  expect_input_error([&] { data::read_idx(dir / "short"); }, {"shorter than the 4-byte magic number"});
  test::write_file(dir / "header", std::string{'\0', '\0', '\x08', '\x03', '\0'});
  expect_input_error([&] { data::read_idx(dir / "header"); }, {"truncated IDX header"});
}

TEST(Idx, MissingFile) {
  expect_input_error([] { data::read_idx("/nonexistent/images"); }, {"/nonexistent/images: cannot open"});
}

TEST(Idx, PairMismatches) {
  TempDir dir;
  test::write_idx(dir / "images", 0x08, {3, 2, 2}, pixels(12));
  test::write_idx(dir / "labels", 0x08, {2}, pixels(2));
  expect_input_error([&] { data::load_idx(dir / "images", dir / "labels"); },
                     {(dir / "images").string() + " has 3 samples but " + (dir / "labels").string() + " has 2 labels"});
  test::write_idx(dir / "flabels", 0x0D, {3}, std::string(12, '\0'));
  expect_input_error([&] { data::load_idx(dir / "images", dir / "flabels"); }, {"labels must be integers"});
  test::write_idx(dir / "neg", 0x09, {3}, std::string{'\x01', '\xFF', '\x00'});
  expect_input_error([&] { data::load_idx(dir / "images", dir / "neg"); }, {"class indices >= 0, found -1"});
  test::write_idx(dir / "flat", 0x08, {12}, pixels(12));
  expect_input_error([&] { data::load_idx(dir / "flat", dir / "labels"); }, {"at least 2 dimensions"});
}

// Issue 15: a header with zero samples and huge other dimensions used to reach Schema::num_features, whose
// product overflowed int64.
TEST(Idx, ZeroSamplesWithHugeDimensionsIsAnErrorNamingTheFile) {
  TempDir dir;
  test::write_idx(dir / "images", 0x08, {0, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, "");
  test::write_idx(dir / "labels", 0x08, {0}, "");
  expect_input_error([&] { data::load_idx(dir / "images", dir / "labels"); },
                     {(dir / "images").string(), "4294967295x4294967295x4294967295", "more than 2147483647 features"});
  test::write_idx(dir / "images", 0x08, {0, 28, 0}, "");
  expect_input_error([&] { data::load_idx(dir / "images", dir / "labels"); },
                     {(dir / "images").string(), "28x0", "each dimension must be > 0"});
}

TEST(Idx, SchemaFeatureCountIsCheckedNotOverflowed) {
  data::Schema schema;
  schema.sample_shape = {std::int64_t{1} << 40, std::int64_t{1} << 40};
  EXPECT_THROW(schema.num_features(), std::logic_error);
  schema.sample_shape = {3, 28, 28};
  EXPECT_EQ(schema.num_features(), 3 * 28 * 28);
}
