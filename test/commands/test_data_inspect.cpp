#include "commands/data_inspect.hpp"
#include "support/expect_error.hpp"
#include "support/test_files.hpp"

#include <nlohmann/json.hpp>

#include <sstream>

using namespace automl;
using automl::test::TempDir;
using testing::HasSubstr;

namespace {

commands::DataInspectOptions options_for(const std::string& source) {
  commands::DataInspectOptions options;
  options.source = source;
  return options;
}

std::string inspect(const commands::DataInspectOptions& options) {
  std::ostringstream out;
  EXPECT_EQ(commands::data_inspect(options, out), 0);
  return out.str();
}

} // namespace

TEST(DataInspect, TextReportOfACsv) {
  TempDir dir;
  test::write_file(dir / "d.csv", "a,b,y\n1,,cat\n2,NA,dog\n,5,cat\n4,6,cat\n");
  const auto text = inspect(options_for((dir / "d.csv").string()));
  EXPECT_THAT(text, HasSubstr("kind      tabular\n"));
  EXPECT_THAT(text, HasSubstr("samples   4\n"));
  EXPECT_THAT(text, HasSubstr("shape     2 (2 features per sample)\n"));
  EXPECT_THAT(text, HasSubstr("values    1 .. 6\n"));
  EXPECT_THAT(text, HasSubstr("missing   3 values in 3 samples\n"));
  EXPECT_THAT(text, HasSubstr("classes   2\n"));
  EXPECT_THAT(text, HasSubstr("  cat          3   75.0%\n"));
  EXPECT_THAT(text, HasSubstr("  dog          1   25.0%\n"));
}

TEST(DataInspect, JsonReportWithSplit) {
  TempDir dir;
  std::string csv = "x,y\n";
  for (int i = 0; i < 20; ++i) csv += std::to_string(i) + (i < 10 ? ",a\n" : i < 15 ? ",b\n" : ",c\n");
  csv += "NaN,c\n";
  test::write_file(dir / "d.csv", csv);
  auto options = options_for((dir / "d.csv").string());
  options.json = true;
  options.validation_split = 0.2;
  const auto j = nlohmann::json::parse(inspect(options));
  EXPECT_EQ(j["kind"], "tabular");
  EXPECT_EQ(j["samples"], 21);
  EXPECT_EQ(j["sample_shape"], nlohmann::json::array({1}));
  EXPECT_EQ(j["feature_names"], nlohmann::json::array({"x"}));
  EXPECT_EQ(j["num_classes"], 3);
  EXPECT_EQ(j["classes"][2]["name"], "c");
  EXPECT_EQ(j["classes"][2]["count"], 6);
  EXPECT_EQ(j["missing"]["values"], 1);
  EXPECT_EQ(j["missing"]["by_feature"]["x"], 1);
  EXPECT_EQ(j["value_range"], nlohmann::json::array({0.0, 19.0}));
  EXPECT_EQ(j["split"]["validation"], 4); // round(0.2 * 21)
  EXPECT_EQ(j["split"]["train"], 17);
  EXPECT_EQ(j["classes"][0]["validation"], 2);
}

TEST(DataInspect, ImagesFromAnIdxDirectory) {
  TempDir dir;
  test::write_idx(dir / "train-images-idx3-ubyte", 0x08, {3, 2, 2}, std::string(12, '\x09'));
  test::write_idx(dir / "train-labels-idx1-ubyte", 0x08, {3}, std::string{0, 1, 1});
  const auto text = inspect(options_for(dir.path().string()));
  EXPECT_THAT(text, HasSubstr("kind      image\n"));
  EXPECT_THAT(text, HasSubstr("shape     2x2 (4 features per sample)\n"));
  EXPECT_THAT(text, HasSubstr("missing   none\n"));
}

TEST(DataInspect, BadSourceIsAnInputError) {
  std::ostringstream out;
  automl::test::expect_input_error([&] { commands::data_inspect(options_for("no-such-source"), out); },
                                   {"unknown data source 'no-such-source'"});
}
