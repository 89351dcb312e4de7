#include "data/npy.hpp"
#include "support/expect_error.hpp"
#include "support/test_files.hpp"

#include <cmath>

using namespace automl;
using automl::test::bytes_of;
using automl::test::expect_input_error;
using automl::test::TempDir;

TEST(Npy, ReadsFloatFeaturesAndIntLabels) {
  TempDir dir;
  test::write_npy(dir / "X.npy", "<f8", {3, 2}, bytes_of(std::vector<double>{1, 2, 3, NAN, 5, 6}));
  test::write_npy(dir / "y.npy", "<i8", {3}, bytes_of(std::vector<std::int64_t>{5, 9, 5}));
  const auto d = data::load_npy(dir / "X.npy", dir / "y.npy");
  EXPECT_EQ(d.size(), 3);
  EXPECT_EQ(d.schema.kind, data::DataKind::tabular);
  EXPECT_EQ(d.schema.sample_shape, (std::vector<std::int64_t>{2}));
  EXPECT_EQ(d.schema.class_names, (std::vector<std::string>{"5", "9"}));
  EXPECT_EQ(d.label_vector(), (std::vector<std::int64_t>{0, 1, 0}));
  EXPECT_FLOAT_EQ(d.features[2][1].item<float>(), 6.0f);
  EXPECT_TRUE(std::isnan(d.features[1][1].item<float>()));
}

TEST(Npy, EverySupportedDtype) {
  TempDir dir;
  struct Case {
    std::string descr;
    std::string payload;
  };
  const std::vector<Case> cases{
      {"|u1", bytes_of(std::vector<std::uint8_t>{1, 200})},
      {"|i1", bytes_of(std::vector<std::int8_t>{1, -3})},
      {"<i2", bytes_of(std::vector<std::int16_t>{1, -300})},
      {"<i4", bytes_of(std::vector<std::int32_t>{1, 70000})},
      {"<i8", bytes_of(std::vector<std::int64_t>{1, 5000000000})},
      {"<f4", bytes_of(std::vector<float>{1, 0.25f})},
      {"<f8", bytes_of(std::vector<double>{1, -0.5})},
  };
  const std::vector<double> expected{200, -3, -300, 70000, 5000000000.0, 0.25, -0.5};
  for (std::size_t i = 0; i < cases.size(); ++i) {
    test::write_npy(dir / "a.npy", cases[i].descr, {2}, cases[i].payload);
    const auto a = data::read_npy(dir / "a.npy");
    EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2})) << cases[i].descr;
    EXPECT_DOUBLE_EQ(a.values[1].item<double>(), expected[i]) << cases[i].descr;
  }
}

TEST(Npy, ImagesAndColumnLabels) {
  TempDir dir;
  test::write_npy(dir / "X.npy", "|u1", {2, 1, 2, 2}, std::string(8, '\x07'));
  test::write_npy(dir / "y.npy", "<f4", {2, 1}, bytes_of(std::vector<float>{1, 0}));
  const auto d = data::load_npy(dir / "X.npy", dir / "y.npy");
  EXPECT_EQ(d.schema.kind, data::DataKind::image);
  EXPECT_EQ(d.schema.sample_shape, (std::vector<std::int64_t>{1, 2, 2}));
  EXPECT_EQ(d.label_vector(), (std::vector<std::int64_t>{1, 0}));
}

TEST(Npy, UnsupportedDtype) {
  TempDir dir;
  test::write_npy(dir / "c.npy", "<c8", {1}, std::string(8, '\0'));
  expect_input_error([&] { data::read_npy(dir / "c.npy"); },
                     {(dir / "c.npy").string(), "unsupported dtype '<c8'", "supported: uint8"});
  test::write_npy(dir / "b.npy", ">f4", {1}, std::string(4, '\0'));
  expect_input_error([&] { data::read_npy(dir / "b.npy"); }, {"unsupported dtype '>f4'"});
  test::write_npy(dir / "s.npy", "<U3", {1}, std::string(12, '\0'));
  expect_input_error([&] { data::read_npy(dir / "s.npy"); }, {"unsupported dtype '<U3'"});
}

TEST(Npy, FortranOrder) {
  TempDir dir;
  test::write_npy(dir / "X.npy", "<f4", {2, 2}, std::string(16, '\0'), /*fortran_order=*/true);
  expect_input_error([&] { data::read_npy(dir / "X.npy"); }, {(dir / "X.npy").string(), "Fortran-order"});
  // A 1-D array is the same in either order.
  test::write_npy(dir / "y.npy", "<f4", {4}, std::string(16, '\0'), /*fortran_order=*/true);
  EXPECT_EQ(data::read_npy(dir / "y.npy").shape, (std::vector<std::int64_t>{4}));
}

TEST(Npy, LengthMismatchAndHugeClaims) {
  TempDir dir;
  test::write_npy(dir / "t.npy", "<f4", {10, 3}, std::string(16, '\0'));
  expect_input_error([&] { data::read_npy(dir / "t.npy"); },
                     {"truncated NPY data", "shape (10, 3) of float32 (120 bytes)", "file has 16 bytes"});
  test::write_npy(dir / "h.npy", "<f8", {4000000000000, 4000000000000}, std::string(16, '\0'));
  expect_input_error([&] { data::read_npy(dir / "h.npy"); }, {"more than any file can hold"});
  test::write_npy(dir / "o.npy", "<f4", {1}, std::string(8, '\0'));
  expect_input_error([&] { data::read_npy(dir / "o.npy"); }, {"oversized NPY data"});
}

TEST(Npy, MalformedFiles) {
  TempDir dir;
  test::write_file(dir / "x.npy", "PK\x03\x04 not numpy");
  expect_input_error([&] { data::read_npy(dir / "x.npy"); }, {"not an NPY file"});
  test::write_file(dir / "h.npy", std::string("\x93NUMPY\x01\x00\xff\x00{'descr'", 18));
  expect_input_error([&] { data::read_npy(dir / "h.npy"); }, {"truncated NPY header"});
}

TEST(Npy, XAndYLengthsDiffer) {
  TempDir dir;
  test::write_npy(dir / "X.npy", "<f4", {3, 2}, std::string(24, '\0'));
  test::write_npy(dir / "y.npy", "<i8", {2}, std::string(16, '\0'));
  expect_input_error([&] { data::load_npy(dir / "X.npy", dir / "y.npy"); },
                     {(dir / "X.npy").string() + " has 3 samples but " + (dir / "y.npy").string() + " has 2 labels"});
}

TEST(Npy, BadLabels) {
  TempDir dir;
  test::write_npy(dir / "X.npy", "<f4", {2, 1}, std::string(8, '\0'));
  test::write_npy(dir / "y.npy", "<f4", {2}, bytes_of(std::vector<float>{1, 0.5f}));
  expect_input_error([&] { data::load_npy(dir / "X.npy", dir / "y.npy"); },
                     {"labels must be whole numbers; element 1 is 0.5"});
  test::write_npy(dir / "y2.npy", "<i8", {2, 2}, std::string(32, '\0'));
  expect_input_error([&] { data::load_npy(dir / "X.npy", dir / "y2.npy"); }, {"y must have shape (N,) or (N, 1)"});
  test::write_npy(dir / "x1.npy", "<f4", {2}, std::string(8, '\0'));
  expect_input_error([&] { data::load_npy(dir / "x1.npy", dir / "y.npy"); }, {"X must have 2 to 4 dimensions"});
}

// Issue 15: a shape with zero samples and huge other dimensions used to overflow Schema::num_features.
TEST(Npy, ZeroSamplesWithHugeDimensionsIsAnErrorNamingTheFile) {
  TempDir dir;
  test::write_npy(dir / "X.npy", "<f4", {0, 4294967296, 4294967296}, "");
  test::write_npy(dir / "y.npy", "<i8", {0}, "");
  expect_input_error([&] { data::load_npy(dir / "X.npy", dir / "y.npy"); },
                     {(dir / "X.npy").string(), "4294967296x4294967296", "more than 2147483647 features"});
}
