// Search-space YAML: the format, and every validation error with its message and file:line:col.

#include "config/preset.hpp"
#include "config/space_yaml.hpp"
#include "support/expect_error.hpp"
#include "support/test_files.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

using namespace automl;
using automl::test::TempDir;
using testing::HasSubstr;

namespace {

// Loads `yaml` as a search-space file.
space::SearchSpace load_space(const TempDir& dir, const std::string& yaml) {
  test::write_file(dir / "s.yaml", yaml);
  config::LoadOptions options;
  options.space_file = (dir / "s.yaml").string();
  return config::load_setup(options).space;
}

// "FILE:LINE:COL" of the first occurrence of `token` on line `line` (1-based) of `text`: where an error about
// that token must point.
std::string at(const std::string& file, const std::string& text, int line, const std::string& token) {
  std::istringstream in(text);
  std::string l;
  for (int i = 0; i < line; ++i) std::getline(in, l);
  const auto col = l.find(token);
  EXPECT_NE(col, std::string::npos) << "'" << token << "' is not on line " << line;
  return file + ":" + std::to_string(line) + ":" + std::to_string(col + 1);
}

// Expects loading `yaml` to fail with "FILE:LINE:COL: message", the column being where `token` is on `line`.
void expect_space_error(const std::string& yaml, int line, const std::string& token, const std::string& message) {
  TempDir dir;
  const auto file = (dir / "s.yaml").string();
  test::expect_input_error([&] { load_space(dir, yaml); }, {at(file, yaml, line, token) + ": " + message});
}

} // namespace

TEST(SpaceYaml, FormatsAndComponents) {
  TempDir dir;
  const auto s = load_space(dir, R"(
hyperparameters:
  network:
    default: shapedresnet
    choices:
      mlpnet: ~
      shapedresnet:
        num_groups: {type: int, range: [1, 9], default: 2}
        max_units: {type: int, range: [10, 1024], log: true}
        use_dropout: {type: bool, default: true}
        max_dropout: {type: float, range: [0.0, 1.0], condition: "use_dropout == true"}
  optimizer: [adam, sgd, rmsprop]
  momentum: {type: float, range: [0.1, 0.999], step: 0.001, condition: "optimizer in [sgd, rmsprop]"}
  units_3: {type: int, range: [16, 64], condition: ["network:shapedresnet:num_groups >= 3", "optimizer == sgd"]}
  batch_size: 125
  tag: "true"
  scale: {type: constant, value: 0.5}
forbidden:
  - {optimizer: rmsprop, network: mlpnet}
)");
  EXPECT_EQ(s.dimension(), 8u); // constants are not dimensions
  const auto* max_dropout = s.find("network:shapedresnet:max_dropout");
  ASSERT_NE(max_dropout, nullptr);
  ASSERT_EQ(max_dropout->conditions.size(), 2u);
  EXPECT_EQ(max_dropout->conditions[0].to_string(), "network == shapedresnet");
  // Relative names resolve inside the component first.
  EXPECT_EQ(max_dropout->conditions[1].to_string(), "network:shapedresnet:use_dropout == true");
  EXPECT_EQ(s.find("momentum")->conditions[0].to_string(), "optimizer in [sgd, rmsprop]");
  EXPECT_EQ(s.find("units_3")->conditions.size(), 2u);
  EXPECT_EQ(s.find("network")->effective_default(), space::Value{std::string("shapedresnet")});
  EXPECT_EQ(s.find("batch_size")->value, space::Value{std::int64_t{125}});
  EXPECT_EQ(s.find("tag")->value, space::Value{std::string("true")}); // quoted: a string
  EXPECT_EQ(s.find("scale")->value, space::Value{0.5});
  EXPECT_EQ(s.find("network:shapedresnet:max_units")->log, true);
  EXPECT_EQ(s.find("momentum")->step, 0.001);
  ASSERT_EQ(s.forbidden().size(), 1u);
  EXPECT_EQ(s.forbidden()[0].to_string(), "optimizer == rmsprop && network == mlpnet");
}

TEST(SpaceYaml, ScalarTypesFollowTheYamlCoreSchema) {
  TempDir dir;
  const auto s = load_space(dir, R"(
hyperparameters:
  answer: [yes, no]
  flag: [true, false]
  sizes: [32, 64, 1.0e+2]
  big: 1e3
  name: "0.5"
)");
  using space::Value;
  EXPECT_EQ(s.find("answer")->choices, (std::vector<Value>{Value{std::string("yes")}, Value{std::string("no")}}));
  EXPECT_EQ(s.find("flag")->choices, (std::vector<Value>{Value{true}, Value{false}}));
  EXPECT_EQ(s.find("sizes")->choices, (std::vector<Value>{Value{std::int64_t{32}}, Value{std::int64_t{64}}, Value{100.0}}));
  EXPECT_EQ(s.find("big")->value, Value{1000.0});
  EXPECT_EQ(s.find("name")->value, Value{std::string("0.5")});
}

TEST(SpaceYaml, OneChoiceIsAConstantWhoseSubSpaceIsSearched) {
  TempDir dir;
  const auto s = load_space(dir, R"(
hyperparameters:
  network:
    choices:
      shapedresnet:
        num_groups: {type: int, range: [1, 9]}
)");
  EXPECT_EQ(s.find("network")->type, space::Type::constant);
  EXPECT_EQ(s.dimension(), 1u);
  EXPECT_TRUE(s.find("network:shapedresnet:num_groups")->conditions.empty()); // always active
}

TEST(SpaceYaml, LowerAboveUpper) {
  expect_space_error(R"(hyperparameters:
  network:
    choices:
      shapedresnet:
        max_units: {type: int, range: [1024, 10], log: true}
      mlpnet: ~
)",
                     5, "[1024", "network:shapedresnet:max_units: lower 1024 > upper 10");
}

TEST(SpaceYaml, LogWithANonPositiveBound) {
  expect_space_error("hyperparameters:\n  lr: {type: float, range: [0.0, 0.1], log: true}\n", 2, "true",
                     "lr: log scale needs a positive range, got lower 0");
}

TEST(SpaceYaml, DefaultOutsideItsRange) {
  expect_space_error("hyperparameters:\n  lr:\n    type: float\n    range: [1.0e-4, 0.1]\n    default: 0.5\n", 5, "0.5",
                     "lr: default 0.5 is out of range [0.0001, 0.1]");
  expect_space_error("hyperparameters:\n  opt: {choices: [adam, sgd], default: adamw}\n", 2, "adamw",
                     "opt: default 'adamw' is not one of [adam, sgd]");
}

TEST(SpaceYaml, ConditionOnAnUnknownParameter) {
  expect_space_error(R"(hyperparameters:
  num_conv_layers: {type: int, range: [1, 4]}
  conv_depth_3: {type: int, range: [16, 64], condition: "num_conv_layer > 3"}
)",
                     3, "\"num_conv_layer > 3\"",
                     "conv_depth_3: condition 'num_conv_layer > 3': unknown hyperparameter 'num_conv_layer' (did you mean "
                     "'num_conv_layers'?)");
}

TEST(SpaceYaml, ConditionOnALaterDefinedParameter) {
  expect_space_error(R"(hyperparameters:
  conv_depth_3: {type: int, range: [16, 64], condition: "num_conv_layers > 3"}
  num_conv_layers: {type: int, range: [1, 4]}
)",
                     2, "\"num_conv",
                     "conv_depth_3: condition 'num_conv_layers > 3' refers to num_conv_layers, which is defined later "
                     "(line 3); define it first");
}

TEST(SpaceYaml, ComponentDefinedAfterItsSubSpace) {
  expect_space_error(R"(hyperparameters:
  network:shapedresnet:max_units: {type: int, range: [10, 1024]}
  network: [shapedresnet, mlpnet]
)",
                     2, "network:", "network:shapedresnet:max_units: its component network refers to network, which is "
                                    "defined later (line 3); define it first");
}

TEST(SpaceYaml, CyclesAmongConditions) {
  expect_space_error(R"(hyperparameters:
  a: {type: bool, condition: "b == true"}
  b: {type: bool, condition: "c == true"}
  c: {type: bool, condition: "a == true"}
)",
                     2, "\"b == true\"", "a: conditions form a cycle: a -> b -> c -> a");
  expect_space_error("hyperparameters:\n  a: {type: int, range: [1, 3], condition: \"a > 1\"}\n", 2, "\"a > 1\"",
                     "a: conditions form a cycle: a -> a");
}

TEST(SpaceYaml, UnknownKeysWithDidYouMean) {
  expect_space_error("hyperparameters:\n  lr: {type: float, range: [1.0e-4, 0.1], logg: true}\n", 2, "logg",
                     "lr: unknown key 'logg' (did you mean 'log'?)");
  expect_space_error("hyperparameters:\n  lr: {type: float, range: [1.0e-4, 0.1], scale: log}\n", 2, "scale",
                     "lr: unknown key 'scale' (known keys: type, range, log, step, choices, value, default, condition)");
  expect_space_error("hyperparameter:\n  lr: {type: float, range: [1.0e-4, 0.1]}\n", 1, "hyperparameter",
                     "unknown key 'hyperparameter' (did you mean 'hyperparameters'?)");
  expect_space_error("hyperparameters:\n  lr: {type: flot, range: [1.0e-4, 0.1]}\n", 2, "flot",
                     "lr: type: unknown type 'flot' (did you mean 'float'?)");
}

TEST(SpaceYaml, OtherDefinitionErrors) {
  expect_space_error("hyperparameters:\n  n: {type: int, range: [1, 9], log: true, step: 2}\n", 2, "2}",
                     "n: step cannot be combined with log");
  expect_space_error("hyperparameters:\n  opt: {choices: [adam, sgd], log: true}\n", 2, "log",
                     "opt: 'log' does not apply to a categorical hyperparameter");
  expect_space_error("hyperparameters:\n  n: {type: int}\n", 2, "n:", "n: an int needs a range: [lower, upper]");
  expect_space_error("hyperparameters:\n  n: {type: int, range: [1, x]}\n", 2, "x]", "n: range: expected a number, got 'x'");
  expect_space_error("hyperparameters:\n  opt: [adam, sgd]\n  m: {type: float, range: [0, 1], condition: \"opt == sgdd\"}\n",
                     3, "\"opt", "m: condition opt == sgdd: opt cannot take this value: 'sgdd' is not one of [adam, sgd]");
  expect_space_error("hyperparameters:\n  opt: [adam, sgd]\n  m: {type: float, range: [0, 1], condition: \"opt ~ sgd\"}\n",
                     3, "\"opt", "m: condition 'opt ~ sgd': expected 'parent == value', 'parent in [a, b]' or 'parent > number'");
  expect_space_error("hyperparameters:\n  a: 1\n  a: 2\n", 3, "a:", "a: defined twice (first at line 2)");
  expect_space_error("hyperparameters:\n  ? [a]\n  : 1\n", 2, "[a]", "a hyperparameter name must be a plain, non-empty name");
  expect_space_error("hyperparameters:\n  opt: [adam, sgd]\nforbidden:\n  - {opt: adamw}\n", 4, "{",
                     "forbidden opt == adamw: opt: 'adamw' is not one of [adam, sgd]");
  expect_space_error("hyperparameters:\n  opt: [adam, sgd]\nforbidden:\n  - {optt: sgd}\n", 4, "{",
                     "forbidden optt == sgd: unknown hyperparameter 'optt' (did you mean 'opt'?)");
}

TEST(SpaceYaml, SyntaxErrorsHaveALocation) {
  TempDir dir;
  const auto file = (dir / "s.yaml").string();
  test::expect_input_error([&] { load_space(dir, "hyperparameters:\n  lr: {type: float, range: [1, 2]\n  x: 1\n"); },
                           {file + ":3:", "YAML syntax error"});
  test::expect_input_error([&] { load_space(dir, "hyperparameters:\n  lr: [a, b\n"); }, {file + ":3:1: YAML syntax error"});
}

TEST(SpaceYaml, MissingFile) {
  config::LoadOptions options;
  options.space_file = "/nonexistent/space.yaml";
  test::expect_input_error([&] { config::load_setup(options); }, {"search-space file '/nonexistent/space.yaml' does not exist"});
}

// Issue 15: nested anchors and aliases (9 levels of 9 aliases each, ~387 million hyperparameters expanded)
// grew the process by ~100 MB/s until it was killed. Expanded YAML is now limited, before any reader walks it.
TEST(SpaceYaml, NestedAliasesAreRefusedAtTheExpansionLimit) {
  TempDir dir;
  std::string yaml = "hyperparameters:\n  a0: &a0 {x: {type: int, range: [1, 2]}}\n  network:\n    choices:\n";
  for (int level = 1; level <= 9; ++level) {
    yaml += "      l" + std::to_string(level) + ": &a" + std::to_string(level) + " {";
    for (int j = 0; j < 9; ++j) yaml += (j ? ", " : "") + std::string("c") + std::to_string(j) + ": *a" + std::to_string(level - 1);
    yaml += "}\n";
  }
  test::expect_input_error([&] { load_space(dir, yaml); },
                           {(dir / "s.yaml").string(), "more than 1000000 nodes", "counting aliases at every use"});
}

TEST(SpaceYaml, AnAliasInsideItsOwnAnchorIsRefused) {
  TempDir dir;
  // yaml-cpp builds a cycle for this; walking it never ends.
  test::expect_input_error([&] { load_space(dir, "hyperparameters: &h\n  a: *h\n"); },
                           {(dir / "s.yaml").string(), "more than 1000000 nodes"});
}

TEST(SpaceYaml, FilesOverTheSizeLimitAreRefusedBeforeParsing) {
  TempDir dir;
  std::string yaml = "hyperparameters:\n  a: [x, y]\n";
  yaml += "#" + std::string(config::k_max_yaml_bytes, ' ') + "\n";
  test::expect_input_error([&] { load_space(dir, yaml); },
                           {(dir / "s.yaml").string(), "YAML files are limited to 16777216 bytes"});
}

// Found by fuzz_space_yaml: a name with invalid UTF-8 loaded, then made nlohmann::json throw (type_error 316)
// when the space was fingerprinted or written to effective_config.json.
TEST(SpaceYaml, InvalidUtf8IsAnErrorAtItsLine) {
  TempDir dir;
  test::expect_input_error([&] { load_space(dir, "hyperparameters:\n  a\x9A: [x, y]\n"); },
                           {(dir / "s.yaml").string() + ":2:4: invalid UTF-8 (byte 0x9A)"});
  // Found by fuzz_space_update: yaml-cpp turned a NUL byte inside a name into invalid UTF-8.
  test::expect_input_error([&] { load_space(dir, std::string("hyperparameters:\n  a: [x, y\0z]\n", 31)); },
                           {(dir / "s.yaml").string() + ":2:11: a control character (byte 0x00)"});
}

// Found by fuzz_space_yaml: parse_space() on a missing `hyperparameters` key (as its header allows) threw
// YAML::InvalidNode from the node's Mark() while building its own error.
TEST(SpaceYaml, MissingHyperparametersIsAnErrorNamingTheFile) {
  const auto root = config::load_yaml_text("forbidden: []\n", "s.yaml");
  test::expect_input_error([&] { config::parse_space("s.yaml", root["hyperparameters"], root["forbidden"]); },
                           {"s.yaml: hyperparameters: the space is empty"});
}
