// The model file's metadata (export/model_file parse_model_info, schema_from_json): what a damaged or
// hostile automl/*.json extra file gets, without TorchScript around it.

#include "export/model_file.hpp"
#include "support/expect_error.hpp"

using namespace automl;
using automl::test::expect_input_error;

namespace {

const std::string k_schema = R"({"kind": "tabular", "sample_shape": [2], "class_names": ["a", "b"], "feature_names": ["x", "y"]})";

torch::jit::ExtraFilesMap extra_files(const std::string& schema, const std::string& training = R"({"epochs": 2})",
                                      const std::string& versions = R"({"automl": "0.1.0", "libtorch": "1.13.1"})") {
  return {{"automl/config.json", R"({"lr": 0.1})"},
          {"automl/schema.json", schema},
          {"automl/architecture.txt", "Linear"},
          {"automl/versions.json", versions},
          {"automl/training.json", training}};
}

} // namespace

TEST(ModelMetadata, ParsesWhatSaveModelWrites) {
  const auto info = export_::parse_model_info("m.pt", extra_files(k_schema));
  EXPECT_EQ(info.schema.sample_shape, (std::vector<std::int64_t>{2}));
  EXPECT_EQ(info.schema.class_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(info.config["lr"], 0.1);
  EXPECT_EQ(info.architecture, "Linear");
  EXPECT_EQ(info.training["epochs"], 2);
  // A model saved without training details.
  EXPECT_TRUE(export_::parse_model_info("m.pt", extra_files(k_schema, "null")).training.is_null());
}

TEST(ModelMetadata, SchemaErrorsNameTheFileTheExtraFileAndTheKey) {
  const auto schema_error = [](const std::string& schema, const std::string& what) {
    expect_input_error([&] { export_::parse_model_info("m.pt", extra_files(schema)); },
                       {"m.pt: damaged model metadata: automl/schema.json: " + what});
  };
  schema_error("[1, 2]", "expected a JSON object, got array");
  schema_error(R"({"kind": "audio", "sample_shape": [2]})", R"(kind: expected "tabular" or "image", got "audio")");
  // A float used to be cast to int64 with undefined behaviour.
  schema_error(R"({"kind": "tabular", "sample_shape": [1e300], "class_names": ["a"], "feature_names": []})",
               "sample_shape: expected a list of integers, found 1e+300");
  schema_error(R"({"kind": "tabular", "sample_shape": [18446744073709551615], "class_names": ["a"], "feature_names": []})",
               "sample_shape: expected a list of integers, found 18446744073709551615");
  // The product of the dimensions used to overflow Schema::num_features.
  schema_error(R"({"kind": "image", "sample_shape": [4294967296, 4294967296], "class_names": ["a"], "feature_names": []})",
               "sample_shape: samples shaped 4294967296x4294967296 have more than 2147483647 features");
  schema_error(R"({"kind": "image", "sample_shape": [0, 28], "class_names": ["a"], "feature_names": []})",
               "sample_shape: samples shaped 0x28: each dimension must be > 0");
  schema_error(R"({"kind": "tabular", "sample_shape": [2, 2], "class_names": ["a"], "feature_names": []})",
               "sample_shape: tabular samples have 1 dimension, got [2,2]");
  schema_error(R"({"kind": "tabular", "sample_shape": [2], "class_names": [], "feature_names": []})",
               "class_names: a model has at least one class");
  schema_error(R"({"kind": "tabular", "sample_shape": [2], "class_names": [1], "feature_names": []})",
               "class_names: expected a list of strings, found 1");
  schema_error(R"({"kind": "tabular", "sample_shape": [3], "class_names": ["a"], "feature_names": ["x"]})",
               "feature_names: 1 names for 3 features");
}

TEST(ModelMetadata, OtherExtraFilesMustHoldWhatTheCommandsRead) {
  expect_input_error([] { export_::parse_model_info("m.pt", extra_files(k_schema, R"({"epochs": "two"})")); },
                     {"m.pt: damaged model metadata: automl/training.json: epochs: expected number, got \"two\""});
  expect_input_error([] { export_::parse_model_info("m.pt", extra_files(k_schema, "{}", R"({"automl": 1})")); },
                     {"m.pt: damaged model metadata: automl/versions.json: automl: expected string, got 1"});
  expect_input_error([] { export_::parse_model_info("m.pt", extra_files(k_schema, "{}", "[]")); },
                     {"m.pt: damaged model metadata: automl/versions.json: expected a JSON object, got array"});
  expect_input_error([] { export_::parse_model_info("m.pt", extra_files(k_schema, "{]")); },
                     {"m.pt: damaged model metadata: automl/training.json: [json.exception.parse_error"});
}
