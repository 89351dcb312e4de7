#include "support/expect_error.hpp"
#include "train/preprocessing.hpp"

#include <cmath>

using automl::core::Hyperparameters;
using automl::train::fit_preprocessing;

namespace {

automl::data::Dataset table(torch::Tensor x) {
  automl::data::Dataset d;
  d.labels = torch::zeros({x.size(0)}, torch::kInt64);
  d.schema.sample_shape = {x.size(1)};
  d.schema.class_names = {"a"};
  d.features = std::move(x);
  return d;
}

torch::Tensor run(const nlohmann::json& config, const automl::data::Dataset& train, const torch::Tensor& x,
                  bool images = false) {
  torch::jit::Module m("P");
  fit_preprocessing(Hyperparameters(config), train, images, m);
  return m.get_method("preprocess")({x}).toTensor();
}

const float k_nan = std::nanf("");

} // namespace

TEST(Preprocessing, ImputationStrategies) {
  const auto train = table(torch::tensor({1.0f, k_nan, 2.0f, 10.0f, 2.0f, k_nan, k_nan, k_nan}).reshape({4, 2}));
  const auto missing = torch::full({1, 2}, k_nan);
  const nlohmann::json base{{"scaling", "none"}};
  auto with = [&](const char* strategy) {
    auto c = base;
    c["imputation"] = strategy;
    return run(c, train, missing);
  };
  // Column 0 holds 1, 2, 2; column 1 holds 10 only.
  EXPECT_TRUE(torch::allclose(with("mean"), torch::tensor({{5.0f / 3, 10.0f}})));
  EXPECT_TRUE(torch::allclose(with("median"), torch::tensor({{2.0f, 10.0f}})));
  EXPECT_TRUE(torch::allclose(with("most_frequent"), torch::tensor({{2.0f, 10.0f}})));
}

TEST(Preprocessing, AllMissingColumnFillsZero) {
  const auto train = table(torch::tensor({1.0f, k_nan, 3.0f, k_nan}).reshape({2, 2}));
  EXPECT_TRUE(torch::allclose(run({{"scaling", "none"}, {"imputation", "mean"}}, train, torch::full({1, 2}, k_nan)),
                              torch::tensor({{2.0f, 0.0f}})));
}

TEST(Preprocessing, Scalings) {
  const auto train = table(torch::tensor({0.0f, -4.0f, 2.0f, 2.0f, 4.0f, 5.0f}).reshape({3, 2}));
  const auto x = torch::tensor({{4.0f, 5.0f}});
  // standardize: column 0 mean 2, std sqrt(8/3); column 1 mean 1, std sqrt(42/3).
  EXPECT_TRUE(torch::allclose(run({{"scaling", "standardize"}}, train, x),
                              torch::tensor({{2.0f / std::sqrt(8.0f / 3), 4.0f / std::sqrt(14.0f)}}), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(run({{"scaling", "minmax"}}, train, x), torch::tensor({{1.0f, 1.0f}})));
  EXPECT_TRUE(torch::allclose(run({{"scaling", "maxabs"}}, train, x), torch::tensor({{1.0f, 1.0f}})));
  EXPECT_TRUE(torch::allclose(run({{"scaling", "none"}}, train, x), x));
  // A constant column is left unscaled rather than divided by zero.
  const auto constant = table(torch::tensor({3.0f, 3.0f}).reshape({2, 1}));
  EXPECT_TRUE(torch::allclose(run({{"scaling", "standardize"}}, constant, torch::tensor({{4.0f}})), torch::tensor({{1.0f}})));
}

TEST(Preprocessing, ProjectionsKeepTheTopDirections) {
  // Points along (1, 1, 0) plus small noise on the third axis: one component captures them.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const auto t = torch::randn({200, 1}, gen);
  const auto x = torch::cat({t, t, 0.01 * torch::randn({200, 1}, gen)}, 1);
  const auto train = table(x);
  for (const char* method : {"pca", "truncated_svd"}) {
    const nlohmann::json config{{"scaling", "none"}, {"feature_preprocessor", method},
                                {std::string("feature_preprocessor:") + method + ":target_dim", 1}};
    const auto z = run(config, train, x);
    ASSERT_EQ(z.sizes().vec(), (std::vector<std::int64_t>{200, 1})) << method;
    // The projection onto (1, 1, 0)/sqrt(2) (sign fixed positive) recovers sqrt(2) * t up to centring.
    const auto expected = std::sqrt(2.0f) * t - (std::string(method) == "pca" ? (std::sqrt(2.0f) * t).mean() : torch::zeros({}));
    EXPECT_TRUE(torch::allclose(z, expected, 1e-2, 2e-2)) << method;
  }
  // target_dim above the width is clamped.
  const auto z = run({{"scaling", "none"}, {"feature_preprocessor", "pca"}, {"target_dim", 10}}, train, x);
  EXPECT_EQ(z.size(1), 3);
  // More rows than the fit takes (16384, spread over the set): the same direction, the last rows included. The
  // first half of the rows lies along (1, 1, 0), the second along (1, -1, 0) with twice the spread: a fit on the
  // first rows only would keep the wrong one.
  const auto half = torch::randn({20000, 1}, gen);
  const auto big = torch::cat({torch::cat({half, half, torch::zeros_like(half)}, 1),
                               torch::cat({2 * half, -2 * half, torch::zeros_like(half)}, 1)});
  const auto direction = run({{"scaling", "none"}, {"feature_preprocessor", "truncated_svd"}, {"target_dim", 1}}, table(big),
                             torch::tensor({{1.0f, -1.0f, 0.0f}}));
  EXPECT_NEAR(std::abs(direction.item<float>()), std::sqrt(2.0f), 1e-3);
}

TEST(Preprocessing, ImagesScaledAndNormalised) {
  automl::data::Dataset images;
  images.features = torch::tensor({0.0f, 255.0f, 255.0f, 0.0f}).reshape({1, 2, 2}).repeat({4, 1, 1});
  images.labels = torch::zeros({4}, torch::kInt64);
  images.schema.kind = automl::data::DataKind::image;
  images.schema.sample_shape = {2, 2};
  images.schema.class_names = {"a"};
  // Pixels become 0 and 1, mean 0.5 and std 0.5: normalised to -1 and 1. Both layouts are accepted.
  const auto expected = torch::tensor({-1.0f, 1.0f, 1.0f, -1.0f}).reshape({1, 1, 2, 2});
  EXPECT_TRUE(torch::allclose(run(nlohmann::json::object(), images, images.features.narrow(0, 0, 1), true), expected));
  EXPECT_TRUE(torch::allclose(run(nlohmann::json::object(), images, images.features.narrow(0, 0, 1).unsqueeze(1), true), expected));
  const auto raw = run({{"image_normalize", false}}, images, images.features.narrow(0, 0, 1), true);
  EXPECT_TRUE(torch::allclose(raw, (expected + 1) / 2));
}

TEST(Preprocessing, TrialsShareTheFitAndThePreprocessedData) {
  // Two pipelines fitted with the same settings on the same training tensor (two trials of a search) carry the
  // same fitted buffers, and preprocess_cached gives both the same network input: computed once.
  const auto train = table(torch::randn({50, 6}));
  const auto other = table(torch::randn({20, 6}));
  const nlohmann::json config{{"feature_preprocessor", "truncated_svd"}, {"feature_preprocessor:truncated_svd:target_dim", 3}};
  torch::jit::Module a("A"), b("B");
  fit_preprocessing(Hyperparameters(config), train, false, a);
  fit_preprocessing(Hyperparameters(config), train, false, b);
  EXPECT_TRUE(a.attr("projection").toTensor().is_same(b.attr("projection").toTensor()));
  const auto xa = automl::train::preprocess_cached(a, other.features, torch::kCPU);
  const auto xb = automl::train::preprocess_cached(b, other.features, torch::kCPU);
  EXPECT_TRUE(xa.is_same(xb));
  EXPECT_TRUE(torch::equal(xa, a.get_method("preprocess")({other.features}).toTensor()));
  // Another raw tensor with the same values is another data set: computed again, the same result.
  const auto copy = other.features.clone();
  const auto xc = automl::train::preprocess_cached(a, copy, torch::kCPU);
  EXPECT_FALSE(xc.is_same(xa));
  EXPECT_TRUE(torch::equal(xc, xa));
  // Other settings: another fit, other buffers, no sharing.
  torch::jit::Module c("C");
  fit_preprocessing(Hyperparameters(nlohmann::json{{"scaling", "minmax"}}), train, false, c);
  const auto xd = automl::train::preprocess_cached(c, other.features, torch::kCPU);
  EXPECT_FALSE(xd.is_same(xa));
  EXPECT_EQ(xd.size(1), 6);
}

TEST(Preprocessing, BadChoices) {
  using automl::test::expect_input_error;
  const auto train = table(torch::ones({2, 2}));
  expect_input_error([&] { run({{"imputation", "mode"}}, train, torch::ones({1, 2})); },
                     {"imputation: unknown strategy 'mode'; valid: mean, median, most_frequent"});
  expect_input_error([&] { run({{"scaling", "robust"}}, train, torch::ones({1, 2})); }, {"scaling: unknown strategy 'robust'"});
  expect_input_error([&] { run({{"feature_preprocessor", "kernel_pca"}}, train, torch::ones({1, 2})); },
                     {"feature_preprocessor: unknown 'kernel_pca'; valid: none, truncated_svd, pca"});
  expect_input_error(
      [&] { run({{"feature_preprocessor", "pca"}, {"feature_preprocessor:pca:target_dim", 0}}, train, torch::ones({1, 2})); },
      {"feature_preprocessor:pca:target_dim: must be >= 1, got 0"});
}

// Wide data (more features than rows): the projection comes from the rows x rows problem, as wide as the rows at
// most, and is the data's top right singular vectors (a 60 x 10,000 CSV took minutes and 3 GB before).
TEST(Preprocessing, ProjectionsOfWideDataUseTheRows) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  const auto x = torch::randn({12, 400}, gen);
  const auto train = table(x);
  const nlohmann::json config{{"scaling", "none"}, {"feature_preprocessor", "truncated_svd"},
                              {"feature_preprocessor:truncated_svd:target_dim", 100}};
  const auto z = run(config, train, x);
  ASSERT_EQ(z.sizes().vec(), (std::vector<std::int64_t>{12, 12}));
  // |x v_i| per column equals the singular values, largest first (signs are fixed separately).
  const auto singular = std::get<1>(torch::linalg_svd(x.to(torch::kFloat64), false));
  EXPECT_TRUE(torch::allclose(z.to(torch::kFloat64).norm(2, 0), singular, 1e-3, 1e-3));
  const auto narrower = run({{"scaling", "none"}, {"feature_preprocessor", "truncated_svd"},
                             {"feature_preprocessor:truncated_svd:target_dim", 5}}, train, x);
  EXPECT_TRUE(torch::allclose(narrower.to(torch::kFloat64).norm(2, 0), singular.narrow(0, 0, 5), 1e-3, 1e-3));
}
