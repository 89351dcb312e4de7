#include "support/tiny_data.hpp"

#include <string>

namespace automl::test {

data::Dataset blobs(std::int64_t n, std::int64_t features, std::int64_t classes, std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  data::Dataset d;
  d.labels = torch::arange(n, torch::kInt64).remainder(classes);
  const auto centers = torch::randn({classes, features}, gen) * 4;
  d.features = (centers.index_select(0, d.labels) + torch::randn({n, features}, gen)).contiguous();
  d.schema.kind = data::DataKind::tabular;
  d.schema.sample_shape = {features};
  for (std::int64_t c = 0; c < classes; ++c) d.schema.class_names.push_back("c" + std::to_string(c));
  for (std::int64_t f = 0; f < features; ++f) d.schema.feature_names.push_back("f" + std::to_string(f));
  d.origin = "blobs";
  return d;
}

data::Dataset quadrant_images(std::int64_t n, std::int64_t size, std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  data::Dataset d;
  d.labels = torch::arange(n, torch::kInt64).remainder(4);
  d.features = torch::randint(0, 60, {n, size, size}, gen).to(torch::kFloat32);
  const auto half = size / 2;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto q = d.labels[i].item<std::int64_t>();
    d.features[i].narrow(0, (q / 2) * half, half).narrow(1, (q % 2) * half, half).add_(180);
  }
  d.schema.kind = data::DataKind::image;
  d.schema.sample_shape = {size, size};
  d.schema.class_names = {"top_left", "top_right", "bottom_left", "bottom_right"};
  d.origin = "quadrants";
  return d;
}

} // namespace automl::test
