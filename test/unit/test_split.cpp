#include "data/dataset.hpp"
#include "data/labels.hpp"
#include "data/split.hpp"
#include "support/expect_error.hpp"

#include <algorithm>
#include <set>

using namespace automl;

namespace {

std::vector<std::int64_t> labels_with_counts(const std::vector<int>& counts) {
  std::vector<std::int64_t> labels;
  // Interleave the classes so that the split cannot rely on sorted input.
  for (int round = 0; !counts.empty(); ++round) {
    bool any = false;
    for (std::size_t c = 0; c < counts.size(); ++c)
      if (round < counts[c]) {
        labels.push_back(static_cast<std::int64_t>(c));
        any = true;
      }
    if (!any) break;
  }
  return labels;
}

std::vector<std::int64_t> picked(const std::vector<std::int64_t>& labels, const std::vector<std::int64_t>& rows) {
  std::vector<std::int64_t> out;
  for (auto r : rows) out.push_back(labels[static_cast<std::size_t>(r)]);
  return out;
}

} // namespace

TEST(Split, StratifiedProportionsDisjointAndComplete) {
  const auto labels = labels_with_counts({500, 300, 200});
  const auto s = data::stratified_split(labels, 3, 0.1, 7);
  EXPECT_EQ(s.validation.size(), 100u);
  EXPECT_EQ(s.train.size(), 900u);
  EXPECT_EQ(data::class_counts(picked(labels, s.validation), 3), (std::vector<std::int64_t>{50, 30, 20}));
  std::set<std::int64_t> all(s.train.begin(), s.train.end());
  all.insert(s.validation.begin(), s.validation.end());
  EXPECT_EQ(all.size(), labels.size());
  EXPECT_TRUE(std::is_sorted(s.train.begin(), s.train.end()));
  EXPECT_TRUE(std::is_sorted(s.validation.begin(), s.validation.end()));
}

TEST(Split, LargestRemaindersGetTheRoundedShare) {
  // 0.25 of {3, 3, 2} = {0.75, 0.75, 0.5}: two samples in total, to the two largest remainders.
  const auto labels = labels_with_counts({3, 3, 2});
  const auto s = data::stratified_split(labels, 3, 0.25, 1);
  EXPECT_EQ(data::class_counts(picked(labels, s.validation), 3), (std::vector<std::int64_t>{1, 1, 0}));
}

TEST(Split, SingletonClassesStayInTraining) {
  const auto labels = labels_with_counts({10, 1});
  const auto s = data::stratified_split(labels, 2, 0.5, 1);
  EXPECT_EQ(data::class_counts(picked(labels, s.train), 2)[1], 1);
}

TEST(Split, SameSeedSameSplitOtherSeedOtherSplit) {
  const auto labels = labels_with_counts({100, 100});
  const auto a = data::stratified_split(labels, 2, 0.2, 3);
  const auto b = data::stratified_split(labels, 2, 0.2, 3);
  const auto c = data::stratified_split(labels, 2, 0.2, 4);
  EXPECT_EQ(a.validation, b.validation);
  EXPECT_NE(a.validation, c.validation);
}

TEST(Split, ZeroFractionAndBadFractions) {
  const auto labels = labels_with_counts({5, 5});
  EXPECT_TRUE(data::stratified_split(labels, 2, 0.0, 1).validation.empty());
  automl::test::expect_input_error([&] { data::stratified_split(labels, 2, 1.0, 1); },
                                   {"validation_split must be in [0, 1), got 1"});
  automl::test::expect_input_error([&] { data::stratified_split(labels, 2, -0.1, 1); }, {"got -0.1"});
}

TEST(Split, DatasetSplitKeepsSchemaAndRows) {
  data::Dataset d;
  d.features = torch::arange(20, torch::kFloat32).reshape({10, 2});
  d.labels = torch::tensor(std::vector<std::int64_t>{0, 1, 0, 1, 0, 1, 0, 1, 0, 1});
  d.schema.sample_shape = {2};
  d.schema.class_names = {"a", "b"};
  const auto tv = data::split_train_validation(d, data::k_default_validation_split * 2, 9);
  EXPECT_EQ(tv.train.size(), 8);
  EXPECT_EQ(tv.validation.size(), 2);
  EXPECT_EQ(tv.validation.schema.class_names, d.schema.class_names);
  data::validate(tv.train);
  data::validate(tv.validation);
  // Each row keeps its own label: feature row i is [2i, 2i+1] and label i % 2.
  for (std::int64_t r = 0; r < tv.train.size(); ++r) {
    const auto first = tv.train.features[r][0].item<float>();
    EXPECT_EQ(tv.train.labels[r].item<std::int64_t>(), static_cast<std::int64_t>(first / 2) % 2);
  }
}
