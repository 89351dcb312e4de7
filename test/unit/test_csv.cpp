#include "data/csv.hpp"
#include "support/expect_error.hpp"
#include "support/test_files.hpp"

#include <cmath>

using namespace automl;
using automl::test::expect_input_error;
using automl::test::TempDir;

TEST(Csv, LastColumnIsTheDefaultTarget) {
  TempDir dir;
  test::write_file(dir / "iris.csv", "sepal,petal,species\n5.1,1.4,setosa\n7.0,4.7,versicolor\n6.3,6.0,virginica\n4.9,1.5,setosa\n");
  const auto d = data::load_csv(dir / "iris.csv");
  EXPECT_EQ(d.size(), 4);
  EXPECT_EQ(d.schema.kind, data::DataKind::tabular);
  EXPECT_EQ(d.schema.sample_shape, (std::vector<std::int64_t>{2}));
  EXPECT_EQ(d.schema.feature_names, (std::vector<std::string>{"sepal", "petal"}));
  EXPECT_EQ(d.schema.class_names, (std::vector<std::string>{"setosa", "versicolor", "virginica"}));
  EXPECT_EQ(d.label_vector(), (std::vector<std::int64_t>{0, 1, 2, 0}));
  EXPECT_FLOAT_EQ(d.features[1][1].item<float>(), 4.7f);
}

TEST(Csv, TargetByNameAndIntegerLabels) {
  TempDir dir;
  test::write_file(dir / "d.csv", "label,a,b\n10,1,2\n2,3,4\n10,5,6\n");
  const auto d = data::load_csv(dir / "d.csv", {"label"});
  EXPECT_EQ(d.schema.feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(d.schema.class_names, (std::vector<std::string>{"2", "10"}));
  EXPECT_EQ(d.label_vector(), (std::vector<std::int64_t>{1, 0, 1}));
  EXPECT_FLOAT_EQ(d.features[2][0].item<float>(), 5.0f);
}

TEST(Csv, MissingCellsBecomeNaN) {
  TempDir dir;
  test::write_file(dir / "m.csv", "a,b,c,y\n,NA,NaN,x\n1, 2 ,n/a,y\nnull,-3e2,+4,x\n");
  const auto d = data::load_csv(dir / "m.csv");
  const auto f = d.features;
  EXPECT_TRUE(std::isnan(f[0][0].item<float>()));
  EXPECT_TRUE(std::isnan(f[0][1].item<float>()));
  EXPECT_TRUE(std::isnan(f[0][2].item<float>()));
  EXPECT_TRUE(std::isnan(f[1][2].item<float>()));
  EXPECT_TRUE(std::isnan(f[2][0].item<float>()));
  EXPECT_FLOAT_EQ(f[1][1].item<float>(), 2.0f);
  EXPECT_FLOAT_EQ(f[2][1].item<float>(), -300.0f);
  EXPECT_FLOAT_EQ(f[2][2].item<float>(), 4.0f);
}

TEST(Csv, QuotesCrlfBomAndBlankLines) {
  TempDir dir;
  test::write_file(dir / "q.csv", "\xEF\xBB\xBF\"x\",\"the, label\"\r\n1.5,\"a \"\"b\"\"\"\r\n\r\n2.5,\"multi\nline\"\r\n");
  const auto d = data::load_csv(dir / "q.csv");
  EXPECT_EQ(d.schema.feature_names, (std::vector<std::string>{"x"}));
  EXPECT_EQ(d.schema.class_names, (std::vector<std::string>{"a \"b\"", "multi\nline"}));
  EXPECT_EQ(d.size(), 2);
}

TEST(Csv, TsvIsTabSeparated) {
  TempDir dir;
  test::write_file(dir / "t.tsv", "a\tb\ty\n1\t2\tp\n3\t4\tq\n");
  const auto d = data::load_csv(dir / "t.tsv");
  EXPECT_EQ(d.schema.num_features(), 2);
  EXPECT_FLOAT_EQ(d.features[1][1].item<float>(), 4.0f);
}

TEST(Csv, WrongFieldCountNamesFileAndLine) {
  TempDir dir;
  test::write_file(dir / "w.csv", "a,b,y\n1,2,x\n\n3,x\n");
  expect_input_error([&] { data::load_csv(dir / "w.csv"); },
                     {(dir / "w.csv").string() + ":4: expected 3 fields (as in the header), got 2"});
}

TEST(Csv, LineNumbersCountLinesInsideQuotes) {
  TempDir dir;
  test::write_file(dir / "w.csv", "a,y\n1,\"two\nlines\"\n2\n");
  expect_input_error([&] { data::load_csv(dir / "w.csv"); }, {(dir / "w.csv").string() + ":4: expected 2 fields"});
}

TEST(Csv, NonNumericCellNamesFileLineAndColumn) {
  TempDir dir;
  test::write_file(dir / "n.csv", "age,income,y\n30,100,a\n31,lots,b\n");
  expect_input_error([&] { data::load_csv(dir / "n.csv"); },
                     {(dir / "n.csv").string() + ":3: column 'income': 'lots' is not a number"});
  test::write_file(dir / "i.csv", "age,y\ninf,a\n");
  expect_input_error([&] { data::load_csv(dir / "i.csv"); }, {":2: column 'age': 'inf' is not a finite number"});
  test::write_file(dir / "p.csv", "age,y\n1e999,a\n");
  expect_input_error([&] { data::load_csv(dir / "p.csv"); }, {":2: column 'age': '1e999' is not a finite number"});
}

TEST(Csv, UnknownTargetListsColumns) {
  TempDir dir;
  test::write_file(dir / "u.csv", "sepal,petal,species\n1,2,a\n");
  expect_input_error([&] { data::load_csv(dir / "u.csv", {"specis"}); },
                     {(dir / "u.csv").string() + ": no target column 'specis' (did you mean 'species'?); columns: "
                                                 "sepal, petal, species"});
  expect_input_error([&] { data::load_csv(dir / "u.csv", {"colour"}); },
                     {"no target column 'colour'; columns: sepal, petal, species"});
}

TEST(Csv, OtherBadInput) {
  TempDir dir;
  test::write_file(dir / "e.csv", "");
  expect_input_error([&] { data::load_csv(dir / "e.csv"); }, {"empty file"});
  test::write_file(dir / "one.csv", "y\na\n");
  expect_input_error([&] { data::load_csv(dir / "one.csv"); }, {"need at least one feature and a target"});
  test::write_file(dir / "dup.csv", "a,a,y\n1,2,x\n");
  expect_input_error([&] { data::load_csv(dir / "dup.csv"); }, {":1: column 'a' appears twice"});
  test::write_file(dir / "t.csv", "a,y\n1,\n");
  expect_input_error([&] { data::load_csv(dir / "t.csv"); }, {":2: column 'y': the target is missing"});
  test::write_file(dir / "q.csv", "a,y\n1,\"open\n");
  expect_input_error([&] { data::load_csv(dir / "q.csv"); }, {":2: unterminated quoted field"});
  expect_input_error([&] { data::load_csv(dir / "absent.csv"); }, {"absent.csv: cannot open"});
}

TEST(Csv, ParsesTextInMemoryNamingItsPath) {
  const auto d = data::parse_csv("a\tb\tt\n1\t2\tx\n3\t4\ty\n", "mem.tsv");
  EXPECT_EQ(d.size(), 2);
  EXPECT_EQ(d.schema.feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(d.origin, "mem.tsv");
  expect_input_error([] { data::parse_csv("a,t\n1,x\nzz,y\n", "mem.csv"); },
                     {"mem.csv:3: column 'a': 'zz' is not a number"});
}

// Found while fuzzing: column or class names with invalid UTF-8 loaded, then made nlohmann::json throw when the
// model's schema was saved.
TEST(Csv, InvalidUtf8IsAnErrorAtItsLine) {
  expect_input_error([] { data::parse_csv("a,t\n1,x\n2,caf\xE9\n", "latin1.csv"); },
                     {"latin1.csv:3: invalid UTF-8 (byte 0xE9): save the file as UTF-8"});
}
