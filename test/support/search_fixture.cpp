#include "support/search_fixture.hpp"

#include "support/test_files.hpp"
#include "support/tiny_data.hpp"

#include <fmt/format.h>

#include <string>

namespace automl::test {

namespace {

std::string csv_rows(const data::Dataset& d, std::int64_t from, std::int64_t to, int flip_every) {
  std::string csv;
  for (const auto& f : d.schema.feature_names) csv += f + ",";
  csv += "label\n";
  for (std::int64_t i = from; i < to; ++i) {
    for (std::int64_t f = 0; f < d.schema.num_features(); ++f) csv += fmt::format("{:.5f},", d.features[i][f].item<float>());
    auto label = d.labels[i].item<std::int64_t>();
    if (flip_every > 0 && (i - from) % flip_every == 0) label = (label + 1) % d.schema.num_classes();
    csv += d.schema.class_names[static_cast<std::size_t>(label)] + "\n";
  }
  return csv;
}

} // namespace

void write_search_files(const std::filesystem::path& dir, int train, int test, int flip_test_every) {
  // Overlapping blobs (extra noise) so that the configurations differ in accuracy.
  auto d = blobs(train + test, 4, 3, 7);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  d.features = (d.features + 3.0 * torch::randn(d.features.sizes(), gen)).contiguous();
  write_file(dir / "train.csv", csv_rows(d, 0, train, 0));
  write_file(dir / "test.csv", csv_rows(d, train, train + test, flip_test_every));
  write_file(dir / "space.yaml", "description: a one-layer MLP for tests\n"
                                 "hyperparameters:\n"
                                 "  network:\n"
                                 "    choices:\n"
                                 "      mlpnet:\n"
                                 "        num_layers: 1\n"
                                 "        num_units_1: {type: int, range: [4, 32], log: true}\n"
                                 "  optimizer:\n"
                                 "    choices:\n"
                                 "      adam:\n"
                                 "        lr: {type: float, range: [1.0e-3, 0.1], log: true}\n"
                                 "  batch_size: 32\n");
}

commands::SearchOptions small_search(const std::filesystem::path& dir) {
  commands::SearchOptions o;
  o.space_file = (dir / "space.yaml").string();
  o.data = (dir / "train.csv").string();
  o.test = (dir / "test.csv").string();
  o.budget = 60;
  o.min_budget = 1;
  o.max_budget = 3;
  o.eta = 3;
  o.iterations = 2;
  o.threads = 1;
  o.device = "cpu";
  o.seed = 3;
  o.out = (dir / "run").string();
  o.json = true;
  o.log_level = "warn";
  return o;
}

} // namespace automl::test
