// Every preset's configurations are ones the trainer understands: sample from each space, build the
// pipeline and train one batch. Catches a hyperparameter name or value that the space and the trainer
// spell differently.

#include "config/preset.hpp"
#include "data/split.hpp"
#include "support/tiny_data.hpp"
#include "train/preflight.hpp"
#include "train/trainer.hpp"

#include <gtest/gtest.h>

using namespace automl;

namespace {

void train_samples(const config::LoadOptions& options, const data::Dataset& data, int samples) {
  const auto setup = config::load_setup(options);
  const auto tv = data::split_train_validation(data, 0.25, 1);
  core::Rng rng(11);
  for (int i = 0; i < samples; ++i) {
    const auto config = setup.space.sample(rng);
    const auto json = space::to_json(config);
    SCOPED_TRACE(json.dump());
    train::Trainer trainer(core::Hyperparameters(json), tv.train, tv.validation, 1);
    const auto r = trainer.train({1e-3, 0}); // one batch
    EXPECT_NE(r.status, train::TrainStatus::stopped);
    EXPECT_EQ(r.history.size(), 1u);
  }
}

config::LoadOptions preset(const std::string& name, std::optional<config::DataKind> kind) {
  config::LoadOptions o;
  o.preset = name;
  o.data_kind = kind;
  return o;
}

} // namespace

// The search's preflight (every choice of every categorical, built) passes for every shipped space: it found
// full_cs's real-valued T_mult, which six random samples had missed.
TEST(PresetsTrain, EveryShippedSpacePassesThePreflight) {
  const auto features = test::blobs(64, 6, 3);
  for (const char* name : {"tiny_cs", "medium_cs", "full_cs"}) {
    SCOPED_TRACE(name);
    EXPECT_NO_THROW(train::check_space_trainable(config::load_setup(preset(name, config::DataKind::feature)).space,
                                                 features.schema));
  }
  const auto images = test::quadrant_images(32, 12);
  for (const char* name : {"tiny_cs", "medium_cs"}) {
    SCOPED_TRACE(name);
    EXPECT_NO_THROW(train::check_space_trainable(config::load_setup(preset(name, config::DataKind::image)).space,
                                                 images.schema));
  }
  config::LoadOptions optuna;
  optuna.space_file = "convnet_optuna";
  EXPECT_NO_THROW(train::check_space_trainable(config::load_setup(optuna).space, images.schema));
}

TEST(PresetsTrain, FeaturePresets) {
  torch::set_num_threads(1);
  const auto data = test::blobs(64, 6, 3);
  for (const char* name : {"tiny_cs", "medium_cs", "full_cs"}) {
    SCOPED_TRACE(name);
    train_samples(preset(name, config::DataKind::feature), data, 6);
  }
}

TEST(PresetsTrain, ImagePresetsAndTheOptunaSpace) {
  torch::set_num_threads(1);
  const auto images = test::quadrant_images(32, 12);
  for (const char* name : {"tiny_cs", "medium_cs"}) {
    SCOPED_TRACE(name);
    train_samples(preset(name, config::DataKind::image), images, 6);
  }
  config::LoadOptions optuna;
  optuna.space_file = "convnet_optuna";
  train_samples(optuna, images, 8);
}
