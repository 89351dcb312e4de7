// `automl space` as users and CI run it: exit codes, stdout, stderr.

#include "support/automl_binary.hpp"
#include "support/test_files.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>

using automl::test::automl_cli;
using automl::test::TempDir;
using testing::HasSubstr;

TEST(SpaceCli, TinyCs) {
  const auto r = automl_cli("space --preset tiny_cs");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("6 free hyperparameters (dimensions), 15 constants, 0 forbidden clauses\n"));
  EXPECT_THAT(r.out, HasSubstr("optimizer:sgd:lr"));
  EXPECT_EQ(r.err, "");
}

TEST(SpaceCli, SpaceUpdateAndSamples) {
  TempDir dir;
  automl::test::write_file(dir / "u.yaml", "optimizer:sgd:lr: {range: [1.0e-3, 1.0e-2]}\n");
  const auto r = automl_cli("space --preset tiny_cs --space-update " + (dir / "u.yaml").string() + " --json --sample 200 --seed 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& hps = j["hyperparameters"];
  const auto lr = std::find_if(hps.begin(), hps.end(), [](const nlohmann::json& h) { return h["name"] == "optimizer:sgd:lr"; });
  ASSERT_NE(lr, hps.end());
  EXPECT_EQ((*lr)["lower"], 1e-3);
  EXPECT_EQ((*lr)["upper"], 1e-2);
  for (const auto& s : j["samples"]) {
    EXPECT_GE(s["optimizer:sgd:lr"].get<double>(), 1e-3);
    EXPECT_LE(s["optimizer:sgd:lr"].get<double>(), 1e-2);
  }
}

TEST(SpaceCli, BadYamlExitsWith2AndNamesTheLine) {
  TempDir dir;
  const auto file = (dir / "s.yaml").string();
  automl::test::write_file(dir / "s.yaml", "hyperparameters:\n  lr: {type: float, range: [0.1, 0.01], log: true}\n");
  auto r = automl_cli("space --space " + file);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "automl: error: " + file + ":2:28: lr: lower 0.1 > upper 0.01\n");
  EXPECT_EQ(r.out, "");
  automl::test::write_file(dir / "s.yaml", "hyperparameters:\n  lr: [a, b\n");
  r = automl_cli("space --space " + file);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("automl: error: " + file + ":3:1: YAML syntax error"));
}

TEST(SpaceCli, CheckExitsWith2WhenTheConfigurationDoesNotFit) {
  TempDir dir;
  automl::test::write_file(dir / "c.yaml", "optimizer: adam\nlr: 0.5\n");
  const auto r = automl_cli("space --space convnet_optuna --check " + (dir / "c.yaml").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("  lr: 0.5 is out of range [1e-05, 0.1] log\n"));
  EXPECT_THAT(r.out, HasSubstr("  network:convnet:num_conv_layers: missing\n"));
}

TEST(SpaceCli, UnknownPreset) {
  const auto r = automl_cli("space --preset medum_cs");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("automl: error: unknown preset 'medum_cs' (did you mean 'medium_cs'?)"));
}
