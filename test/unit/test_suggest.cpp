#include "core/suggest.hpp"

#include <gtest/gtest.h>

using automl::core::closest_match;
using automl::core::did_you_mean;
using automl::core::edit_distance;

TEST(Suggest, EditDistance) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("label", "lable"), 2u);
}

TEST(Suggest, ClosestMatchOnlyForLikelyTypos) {
  const std::vector<std::string> columns{"sepal_length", "species", "petal_width"};
  EXPECT_EQ(closest_match("specis", columns), "species");
  EXPECT_EQ(closest_match("petal_widht", columns), "petal_width");
  EXPECT_FALSE(closest_match("colour", columns).has_value());
  EXPECT_FALSE(closest_match("x", {}).has_value());
}

TEST(Suggest, DidYouMeanIsReadyToAppend) {
  EXPECT_EQ(did_you_mean("specis", {"species", "sepal_length"}), " (did you mean 'species'?)");
  EXPECT_EQ(did_you_mean("colour", {"species"}), "");
}
