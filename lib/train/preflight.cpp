#include "train/preflight.hpp"

#include "core/error.hpp"
#include "core/hyperparameters.hpp"
#include "core/suggest.hpp"
#include "train/trainer.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <limits>

namespace automl::train {

namespace {

// Samples in the synthetic data set: a few per class, enough for every preprocessing fit.
constexpr std::int64_t k_samples_per_class = 4;
constexpr std::int64_t k_min_samples = 16;

// Deterministic, non-constant values of the schema's shape (no RNG: the check must not move torch's global
// generator), 0-255 for images as the loaders keep them.
data::Dataset synthetic_data(const data::Schema& schema) {
  const auto classes = std::max<std::int64_t>(schema.num_classes(), 2);
  const auto n = std::max(k_min_samples, k_samples_per_class * classes);
  std::vector<std::int64_t> shape{n};
  shape.insert(shape.end(), schema.sample_shape.begin(), schema.sample_shape.end());
  auto values = torch::sin(torch::arange(n * schema.num_features(), torch::kFloat32) * 0.7f).reshape(shape);
  if (schema.kind == data::DataKind::image) values = (values + 1.0f) * 127.5f;
  data::Dataset d;
  d.features = values.contiguous();
  d.labels = torch::arange(n, torch::kInt64).remainder(classes);
  d.schema = schema;
  return d;
}

struct Candidate {
  std::string what; // "the default configuration", "the default configuration with network = mlpnet"
  space::Config config;
};

std::vector<Candidate> candidates(const space::SearchSpace& space) {
  std::vector<Candidate> out{{"the default configuration", space.default_config()}};
  for (std::size_t d = 0; d < space.dimension(); ++d) {
    const auto k = space.cardinality(d);
    if (k < 2) continue;
    const auto& hp = space.dimension_hyperparameter(d);
    const auto choices = hp.discrete_values();
    for (std::size_t c = 0; c < k && c < choices.size(); ++c) {
      space::UnitVector point(space.dimension(), std::numeric_limits<double>::quiet_NaN());
      point[d] = (static_cast<double>(c) + 0.5) / static_cast<double>(k);
      const auto valid = space.make_valid(point);
      if (!valid) continue; // a forbidden combination: never proposed, nothing to build
      auto config = space.decode(*valid);
      if (config.values() == out.front().config.values()) continue;
      out.push_back({fmt::format("the default configuration with {} = {}", hp.name, space::to_string(choices[c])),
                     std::move(config)});
    }
  }
  return out;
}

} // namespace

void check_space_trainable(const space::SearchSpace& space, const data::Schema& schema) {
  const auto data = synthetic_data(schema);
  auto lookups = std::make_shared<core::Hyperparameters::Lookups>();
  std::set<std::string> active;
  std::map<std::string, std::string> where; // first candidate each hyperparameter was active in
  for (const auto& candidate : candidates(space)) {
    core::Hyperparameters hp(space::to_json(candidate.config));
    hp.record_lookups(lookups);
    try {
      Trainer trainer(hp, data, data, 0, torch::kCPU);
    } catch (const InputError& e) {
      throw InputError(fmt::format("search space: {} cannot be trained: {}", candidate.what, e.what()));
    }
    for (const auto& [name, value] : candidate.config) {
      active.insert(name);
      where.emplace(name, candidate.what);
    }
  }
  std::vector<std::string> wanted(lookups->keys_wanted.begin(), lookups->keys_wanted.end());
  for (const auto& name : active)
    if (!lookups->keys_read.count(name))
      throw InputError(fmt::format("search space: hyperparameter '{}' is used by no component (in {}){}", name,
                                   where.at(name), core::did_you_mean(name, wanted)));
}

} // namespace automl::train
