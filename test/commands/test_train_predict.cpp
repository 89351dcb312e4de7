#include "commands/model.hpp"
#include "commands/predict.hpp"
#include "commands/train.hpp"
#include "support/expect_error.hpp"
#include "support/test_files.hpp"
#include "support/tiny_data.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sstream>

using namespace automl;
using automl::test::TempDir;
using testing::HasSubstr;

namespace {

// Writes `d` as a CSV with a header f0..fk,label; with `flip_every` > 0 every such row gets a wrong label.
void write_csv(const std::filesystem::path& path, const data::Dataset& d, int flip_every = 0, bool with_label = true) {
  std::string csv;
  for (const auto& f : d.schema.feature_names) csv += f + ",";
  csv = with_label ? csv + "label\n" : csv.substr(0, csv.size() - 1) + "\n";
  for (std::int64_t i = 0; i < d.size(); ++i) {
    for (std::int64_t f = 0; f < d.schema.num_features(); ++f)
      csv += fmt::format("{:.5f}{}", d.features[i][f].item<float>(), f + 1 < d.schema.num_features() || with_label ? "," : "");
    auto label = d.labels[i].item<std::int64_t>();
    if (flip_every > 0 && i % flip_every == 0) label = (label + 1) % d.schema.num_classes();
    if (with_label) csv += d.schema.class_names[static_cast<std::size_t>(label)];
    csv += "\n";
  }
  test::write_file(path, csv);
}

struct Trained {
  TempDir dir;
  std::string model;
};

// One small model shared by the tests in this file (training it takes about a second).
const Trained& trained() {
  static const auto* t = [] {
    auto* out = new Trained;
    write_csv(out->dir / "train.csv", test::blobs(300, 4, 3));
    test::write_file(out->dir / "config.yaml", "network: mlpnet\nnum_layers: 1\nnum_units_1: 16\n"
                                               "optimizer: adam\noptimizer:adam:lr: 0.01\nbatch_size: 32\n");
    commands::TrainCommandOptions o;
    o.config = (out->dir / "config.yaml").string();
    o.data = (out->dir / "train.csv").string();
    o.epochs = 5;
    o.out = (out->dir / "run").string();
    o.threads = 1;
    o.device = "cpu";
    o.json = true;
    std::ostringstream text;
    EXPECT_EQ(commands::train(o, text), 0);
    out->model = (out->dir / "run/model.pt").string();
    return out;
  }();
  return *t;
}

commands::PredictOptions predict_options(const std::string& data) {
  commands::PredictOptions o;
  o.model = trained().model;
  o.data = data;
  o.threads = 1;
  return o;
}

} // namespace

TEST(TrainCommand, WritesAModelAndASummary) {
  const auto& t = trained();
  const auto summary = nlohmann::json::parse(test::read_file(t.dir / "run/train.json"));
  EXPECT_EQ(summary["epochs"], 5.0);
  EXPECT_EQ(summary["train_samples"], 270);
  EXPECT_GT(summary["val_accuracy"].get<double>(), 0.9);
  EXPECT_EQ(summary["history"].size(), 5u);
  EXPECT_TRUE(std::filesystem::exists(t.model));
}

TEST(PredictCommand, ReproducesAccuracyAndWritesPredictions) {
  const auto& t = trained();
  auto o = predict_options((t.dir / "train.csv").string());
  o.output = (t.dir / "preds.csv").string();
  o.json = true;
  std::ostringstream out;
  EXPECT_EQ(commands::predict(o, out), 0);
  const auto report = nlohmann::json::parse(out.str());
  EXPECT_EQ(report["samples"], 300);
  EXPECT_GT(report["accuracy"].get<double>(), 0.9);
  EXPECT_EQ(report["per_class"]["c1"]["samples"], 100);
  const auto preds = test::read_file(t.dir / "preds.csv");
  EXPECT_EQ(preds.substr(0, preds.find('\n')), "id,predicted,label,p_c0,p_c1,p_c2");
  EXPECT_EQ(std::count(preds.begin(), preds.end(), '\n'), 301);
}

TEST(PredictCommand, FailUnderExits3) {
  const auto& t = trained();
  write_csv(t.dir / "noisy.csv", test::blobs(300, 4, 3), /*flip_every=*/4);
  auto o = predict_options((t.dir / "noisy.csv").string());
  o.fail_under = 0.9;
  std::ostringstream out;
  EXPECT_EQ(commands::predict(o, out), 3);
  EXPECT_THAT(out.str(), HasSubstr("FAILED: accuracy 0.7"));
  o.fail_under = 0.5;
  EXPECT_EQ(commands::predict(o, out), 0);
}

TEST(PredictCommand, UnlabelledCsvOfTheModelsFeatures) {
  const auto& t = trained();
  write_csv(t.dir / "x.csv", test::blobs(7, 4, 3), 0, /*with_label=*/false);
  auto o = predict_options((t.dir / "x.csv").string());
  o.output = (t.dir / "x_preds.csv").string();
  std::ostringstream out;
  EXPECT_EQ(commands::predict(o, out), 0);
  EXPECT_THAT(out.str(), HasSubstr("(7 samples, no labels)"));
  const auto preds = test::read_file(t.dir / "x_preds.csv");
  EXPECT_EQ(preds.substr(0, preds.find('\n')), "id,predicted,p_c0,p_c1,p_c2");
  o.fail_under = 0.5;
  test::expect_input_error([&] { commands::predict(o, out); }, {"--fail-under needs labels"});
}

TEST(PredictCommand, InputThatDoesNotFitTheModel) {
  const auto& t = trained();
  write_csv(t.dir / "wide.csv", test::blobs(5, 6, 3));
  std::ostringstream out;
  test::expect_input_error([&] { commands::predict(predict_options((t.dir / "wide.csv").string()), out); },
                           {"samples of 6 (6 features), but the model expects 4 (4 features)"});
  test::expect_input_error([&] { commands::predict(predict_options("mnist:test"), out); },
                           {"image data, but the model was trained on tabular data"});
  auto o = predict_options((t.dir / "train.csv").string());
  o.model = (t.dir / "config.yaml").string();
  test::expect_input_error([&] { commands::predict(o, out); }, {"config.yaml: not a TorchScript model file"});
}

TEST(ModelCommand, PrintsArchitectureAndDrawsTheGraph) {
  const auto& t = trained();
  commands::ModelOptions o;
  o.model = t.model;
  o.graph = (t.dir / "graph.dot").string();
  std::ostringstream out;
  EXPECT_EQ(commands::model(o, out), 0);
  EXPECT_THAT(out.str(), HasSubstr("(0): SimpleImputer(strategy=median)"));
  EXPECT_THAT(out.str(), HasSubstr("(0): Linear(in_features=4, out_features=16, bias=True)"));
  EXPECT_THAT(out.str(), HasSubstr("Trainable parameters: 131"));
  EXPECT_THAT(out.str(), HasSubstr("classes   c0, c1, c2"));
  const auto dot = test::read_file(t.dir / "graph.dot");
  EXPECT_THAT(dot, HasSubstr("digraph forward"));
  EXPECT_THAT(dot, HasSubstr("aten::linear"));
  EXPECT_THAT(dot, HasSubstr("aten::relu"));
  o.graph = (t.dir / "graph.gif").string();
  test::expect_input_error([&] { commands::model(o, out); }, {"use a .dot, .svg, .pdf or .png file name"});
}

TEST(TrainCommand, RefitsFromABestConfigJson) {
  const auto& t = trained();
  test::write_file(t.dir / "best_config.json",
                   R"({"config": {"network": "mlpnet", "num_layers": 1, "num_units_1": 8, "lr": 0.01}, "val_accuracy": 0.9})");
  commands::TrainCommandOptions o;
  o.config = (t.dir / "best_config.json").string();
  o.data = (t.dir / "train.csv").string();
  o.epochs = 1;
  o.out = (t.dir / "refit").string();
  o.device = "cpu";
  std::ostringstream out;
  EXPECT_EQ(commands::train(o, out), 0);
  EXPECT_THAT(out.str(), HasSubstr("Linear(in_features=4, out_features=8, bias=True)"));
}

TEST(TrainCommand, BadConfigurationFiles) {
  TempDir dir;
  commands::TrainCommandOptions o;
  o.data = "unused";
  o.out = (dir / "run").string();
  std::ostringstream out;
  test::write_file(dir / "syntax.yaml", "network: mlpnet\nnum_layers: [1, 2\n");
  o.config = (dir / "syntax.yaml").string();
  test::expect_input_error([&] { commands::train(o, out); }, {(dir / "syntax.yaml").string() + ":3:1: YAML syntax error"});
  test::write_file(dir / "nested.yaml", "network: mlpnet\nnum_layers:\n  a: 1\n");
  o.config = (dir / "nested.yaml").string();
  test::expect_input_error([&] { commands::train(o, out); },
                           {(dir / "nested.yaml").string() + ":3:3: num_layers: expected a value (a number, true/false or a name), got a map"});
  o.config = (dir / "missing.yaml").string();
  test::expect_input_error([&] { commands::train(o, out); }, {"missing.yaml: cannot read the file"});
  o.config = (dir / "syntax.yaml").string();
  o.epochs = 1;
  o.seconds = 1;
  test::expect_input_error([&] { commands::train(o, out); }, {"give --epochs or --seconds, not both"});
}

// Found before any training: a misspelt key (it trained with the default before), one class, no samples, an empty
// --test set (it failed after training with a LibTorch message), a budget no run could have.
TEST(TrainCommand, BadDataKeysAndBudgetsAreRefusedBeforeTraining) {
  const auto& t = trained();
  TempDir dir;
  commands::TrainCommandOptions o;
  o.data = (t.dir / "train.csv").string();
  o.out = (dir / "run").string();
  o.threads = 1;
  o.device = "cpu";
  o.epochs = 1;
  std::ostringstream out;
  test::write_file(dir / "typo.yaml", "network: mlpnet\nnum_layers: 1\nnum_units_1: 16\noptimizer: adam\n"
                                      "optimizer:adam:lrr: 0.01\nbatch_size: 32\n");
  o.config = (dir / "typo.yaml").string();
  test::expect_input_error([&] { commands::train(o, out); },
                           {"typo.yaml: 'optimizer:adam:lrr' is used by no component", "did you mean 'optimizer:adam:lr'"});
  o.config = (t.dir / "config.yaml").string();
  test::write_file(dir / "one.csv", "f0,f1,f2,f3,label\n1,2,3,4,c0\n2,3,4,5,c0\n");
  o.data = (dir / "one.csv").string();
  test::expect_input_error([&] { commands::train(o, out); }, {"one.csv: every sample is of class 'c0'"});
  test::write_file(dir / "none.csv", "f0,f1,f2,f3,label\n");
  o.data = (dir / "none.csv").string();
  test::expect_input_error([&] { commands::train(o, out); }, {"none.csv: no samples to train on"});
  o.data = (t.dir / "train.csv").string();
  o.test = (dir / "none.csv").string();
  test::expect_input_error([&] { commands::train(o, out); }, {"--test", "none.csv: no samples to evaluate"});
  o.test.clear();
  o.epochs = 1e19;
  test::expect_input_error([&] { commands::train(o, out); }, {"--epochs: at most 1e+06"});
  EXPECT_FALSE(std::filesystem::exists(dir / "run" / "model.pt"));
}

// An accuracy gate on a file without samples does not pass (it printed "passed: accuracy 0.0000 >= 0.9").
TEST(PredictCommand, FailUnderOnNoSamplesIsAnError) {
  const auto& t = trained();
  TempDir dir;
  test::write_file(dir / "none.csv", "f0,f1,f2,f3,label\n");
  auto o = predict_options((dir / "none.csv").string());
  o.fail_under = 0.9;
  std::ostringstream out;
  test::expect_input_error([&] { commands::predict(o, out); }, {"--fail-under needs samples", "none.csv"});
  (void)t;
}
