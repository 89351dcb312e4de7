#include "data/labels.hpp"

#include <gtest/gtest.h>

using namespace automl::data;

TEST(Labels, StringsSortLexicographically) {
  const auto enc = encode_labels(std::vector<std::string>{"versicolor", "setosa", "virginica", "setosa"});
  EXPECT_EQ(enc.class_names, (std::vector<std::string>{"setosa", "versicolor", "virginica"}));
  EXPECT_EQ(enc.indices, (std::vector<std::int64_t>{1, 0, 2, 0}));
}

TEST(Labels, IntegerStringsSortNumerically) {
  const auto enc = encode_labels(std::vector<std::string>{"10", "2", "-1", "2"});
  EXPECT_EQ(enc.class_names, (std::vector<std::string>{"-1", "2", "10"}));
  EXPECT_EQ(enc.indices, (std::vector<std::int64_t>{2, 1, 0, 1}));
}

// "0", "0.0", "00" and "0e0" are one class (as scikit-learn reading the column as floats), named as first written,
// and numbers sort by value; integers keep their own path (no rounding through double above 2^53).
TEST(Labels, OneNumberWrittenOtherwiseIsOneClass) {
  auto enc = encode_labels(std::vector<std::string>{"0.0", "1", "00", "0", "1.0", "0e0", "-0.5", "10"});
  EXPECT_EQ(enc.class_names, (std::vector<std::string>{"-0.5", "0.0", "1", "10"}));
  EXPECT_EQ(enc.indices, (std::vector<std::int64_t>{1, 2, 1, 1, 2, 1, 0, 3}));
  enc = encode_labels(std::vector<std::string>{"007", "7", "3"});
  EXPECT_EQ(enc.class_names, (std::vector<std::string>{"3", "007"}));
  enc = encode_labels(std::vector<std::string>{"9007199254740993", "9007199254740992"});
  EXPECT_EQ(enc.class_names.size(), 2u);
  EXPECT_EQ(encode_labels(std::vector<std::string>{"1", "1.0", "nan"}).class_names.size(), 3u); // not all numbers
  EXPECT_TRUE(same_label("1", "1.00"));
  EXPECT_TRUE(same_label("cat", "cat"));
  EXPECT_FALSE(same_label("1", "1.5"));
  EXPECT_FALSE(same_label("inf", "inf.0"));
}

TEST(Labels, MixedLabelsAreStrings) {
  const auto enc = encode_labels(std::vector<std::string>{"10", "2", "b"});
  EXPECT_EQ(enc.class_names, (std::vector<std::string>{"10", "2", "b"}));
}

TEST(Labels, Integers) {
  const auto enc = encode_labels(std::vector<std::int64_t>{7, 3, 7, 5});
  EXPECT_EQ(enc.class_names, (std::vector<std::string>{"3", "5", "7"}));
  EXPECT_EQ(enc.indices, (std::vector<std::int64_t>{2, 0, 2, 1}));
}

TEST(Labels, ClassCounts) {
  EXPECT_EQ(class_counts({0, 2, 2, 1, 2}, 4), (std::vector<std::int64_t>{1, 1, 3, 0}));
}
