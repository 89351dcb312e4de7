#include "data/split.hpp"
#include "export/inference.hpp"
#include "export/model_file.hpp"
#include "support/expect_error.hpp"
#include "support/test_files.hpp"
#include "support/tiny_data.hpp"
#include "train/trainer.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace automl;
using automl::test::TempDir;

namespace {

struct Trained {
  data::Dataset data;
  std::unique_ptr<train::Trainer> trainer;
};

Trained trained_mlp() {
  Trained t{test::blobs(120, 4, 3), nullptr};
  const auto tv = data::split_train_validation(t.data, 0.25, 1);
  t.trainer = std::make_unique<train::Trainer>(
      core::Hyperparameters(nlohmann::json{{"network", "shapedresnet"}, {"num_groups", 1}, {"blocks_per_group", 1}, {"max_units", 8},
                             {"resnet_shape", "brick"}, {"use_dropout", true}, {"max_dropout", 0.3},
                             {"optimizer", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}, {"feature_preprocessor", "pca"},
                             {"target_dim", 3}}),
      tv.train, tv.validation, 1);
  t.trainer->train({2, 0});
  return t;
}

bool python_torch_available() { return std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0; }

} // namespace

// A model whose schema names fewer (or more) classes than the network has outputs is refused when loaded:
// `predict` would read past its tensors.
TEST(Export, AModelWhoseClassNamesDoNotMatchItsOutputsIsRefused) {
  auto t = trained_mlp();
  TempDir dir;
  auto& module = t.trainer->pipeline().module;
  for (const std::size_t classes : {2u, 4u}) {
    auto schema = t.data.schema; // 3 classes
    schema.class_names.resize(classes, "extra");
    export_::ModelInfo info{nlohmann::json::object(), schema, "", nlohmann::json::object(), {}, {}};
    const auto path = dir / ("m" + std::to_string(classes) + ".pt");
    export_::save_model(module, info, path, t.data.features.narrow(0, 0, 4));
    test::expect_input_error([&] { export_::load_model(path); },
                             {path.string(), "automl/schema.json lists " + std::to_string(classes) +
                                                 " class names, but the network gives 3 outputs per sample"});
  }
}

TEST(Export, SavingLeavesOnlyTheCheckedModel) {
  auto t = trained_mlp();
  TempDir dir;
  export_::ModelInfo info{nlohmann::json::object(), t.data.schema, "", nlohmann::json::object(), {}, {}};
  export_::save_model(t.trainer->pipeline().module, info, dir / "m.pt", t.data.features.narrow(0, 0, 4));
  EXPECT_EQ(automl::test::names_in(dir.path()), std::vector<std::string>{"m.pt"});
}

TEST(Export, SavesReloadsAndCarriesItsDescription) {
  auto t = trained_mlp();
  TempDir dir;
  auto& module = t.trainer->pipeline().module;
  export_::ModelInfo info{core::Hyperparameters(nlohmann::json{{"lr", 0.05}}).json(), t.data.schema, "arch text",
                          nlohmann::json{{"epochs", 2}}, {}, {}};
  export_::save_model(module, info, dir / "m.pt", t.data.features.narrow(0, 0, 16));
  auto loaded = export_::load_model(dir / "m.pt");
  EXPECT_EQ(loaded.info.config["lr"], 0.05);
  EXPECT_EQ(loaded.info.schema.class_names, t.data.schema.class_names);
  EXPECT_EQ(loaded.info.schema.feature_names, t.data.schema.feature_names);
  EXPECT_EQ(loaded.info.architecture, "arch text");
  EXPECT_EQ(loaded.info.training["epochs"], 2);
  EXPECT_EQ(loaded.info.versions["automl"], AUTOML_VERSION);
  const auto expected = module.forward({t.data.features}).toTensor();
  const auto actual = loaded.module.forward({t.data.features}).toTensor();
  EXPECT_LE((expected - actual).abs().max().item<double>(), 1e-5);
  // The exported model applies its own preprocessing to raw inputs: same predictions as the trainer's.
  EXPECT_TRUE(torch::equal(export_::predict_probabilities(loaded.module, t.data.features).argmax(1),
                           t.trainer->evaluate(t.data).predictions));
}

TEST(Export, LoadErrors) {
  TempDir dir;
  test::expect_input_error([&] { export_::load_model(dir / "none.pt"); }, {"none.pt: no such model file"});
  test::write_file(dir / "junk.pt", "not a zip file");
  test::expect_input_error([&] { export_::load_model(dir / "junk.pt"); }, {"junk.pt: not a TorchScript model file"});
  torch::jit::Module bare("Bare");
  bare.define("def forward(self, x: Tensor) -> Tensor:\n    return x\n");
  bare.save((dir / "bare.pt").string());
  test::expect_input_error([&] { export_::load_model(dir / "bare.pt"); }, {"not one written by automl"});
}

TEST(Export, InputChecks) {
  auto schema = test::blobs(10, 4, 3).schema;
  test::expect_input_error([&] { export_::check_input(schema, test::blobs(10, 5, 3)); },
                           {"samples of 5 (5 features), but the model expects 4 (4 features)"});
  auto renamed = test::blobs(10, 4, 3);
  renamed.schema.feature_names[2] = "other";
  test::expect_input_error([&] { export_::check_input(schema, renamed); },
                           {"column 3 is 'other', but the model expects 'f2' there"});
  test::expect_input_error([&] { export_::check_input(schema, test::quadrant_images(4)); },
                           {"image data, but the model was trained on tabular data"});
  auto relabeled = test::blobs(10, 4, 3);
  relabeled.schema.class_names[1] = "zebra";
  test::expect_input_error([&] { export_::labels_for_model(schema, relabeled); },
                           {"label 'zebra' is not a class of the model (classes: c0, c1, c2)"});
  // A number written otherwise in the test file is the model's class of that number.
  auto numeric_model = schema;
  numeric_model.class_names = {"0", "1", "2"};
  auto respelled = test::blobs(10, 4, 3);
  respelled.schema.class_names = {"0.0", "01", "2e0"};
  EXPECT_TRUE(torch::equal(export_::labels_for_model(numeric_model, respelled), respelled.labels));
  // Images as H x W or 1 x H x W are the same input.
  auto image_schema = test::quadrant_images(4).schema;
  auto with_channel = test::quadrant_images(4);
  with_channel.schema.sample_shape = {1, 8, 8};
  EXPECT_NO_THROW(export_::check_input(image_schema, with_channel));
}

TEST(Export, LoadsInPythonWithTheSamePredictions) {
  if (!python_torch_available()) GTEST_SKIP() << "python3-torch is not installed";
  auto t = trained_mlp();
  TempDir dir;
  auto& module = t.trainer->pipeline().module;
  export_::save_model(module, {nlohmann::json::object(), t.data.schema, "", nlohmann::json::object(), {}, {}}, dir / "m.pt",
                      t.data.features.narrow(0, 0, 8));
  const auto x = t.data.features.contiguous();
  test::write_file(dir / "x.f32", std::string(static_cast<const char*>(x.data_ptr()), x.numel() * sizeof(float)));
  const std::string script =
      "import json, sys, numpy as np, torch\n"
      "extra = {'automl/schema.json': ''}\n"
      "m = torch.jit.load(sys.argv[1], _extra_files=extra)\n"
      "schema = json.loads(extra['automl/schema.json'])\n"
      "x = torch.from_numpy(np.fromfile(sys.argv[2], dtype=np.float32).reshape(-1, schema['sample_shape'][0]))\n"
      "with torch.no_grad():\n"
      "    m.eval(); logits = m(x)\n"
      "logits.numpy().astype(np.float32).tofile(sys.argv[3])\n";
  test::write_file(dir / "check.py", script);
  const auto r = test::run_command("/usr/bin/python3 " + (dir / "check.py").string() + " " + (dir / "m.pt").string() + " " +
                                   (dir / "x.f32").string() + " " + (dir / "out.f32").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto bytes = test::read_file(dir / "out.f32");
  const auto python = torch::from_blob(const_cast<char*>(bytes.data()), {x.size(0), 3}, torch::kFloat32).clone();
  module.train(false);
  const auto cpp = module.forward({t.data.features}).toTensor();
  EXPECT_LE((python - cpp).abs().max().item<double>(), 1e-5);
  EXPECT_TRUE(torch::equal(python.argmax(1), cpp.argmax(1)));
}
