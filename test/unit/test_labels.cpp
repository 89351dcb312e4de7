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
