// `automl report` and `automl search --report` called in-process on a small CSV search: the page and what it
// shows (the confusion matrix from best_config.json, the model's graph), the same report from a storage URL, a
// directory written before best_config.json recorded the confusion matrix, and the errors for bad input.

#include "commands/report.hpp"
#include "commands/search.hpp"
#include "core/error.hpp"
#include "support/expect_error.hpp"
#include "support/search_fixture.hpp"
#include "support/test_files.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <sstream>

using namespace automl;
using automl::test::TempDir;
using testing::HasSubstr;
using testing::Not;

namespace {

// A finished search with --report: 3 + 1 trials of a one-layer MLP on Gaussian blobs, with a test set.
void run_search(const TempDir& dir) {
  test::write_search_files(dir.path());
  auto o = test::small_search(dir.path());
  o.iterations = 1;
  o.seed = 0;
  o.report = true;
  std::ostringstream out;
  ASSERT_EQ(commands::search(o, out), 0);
}

int run_report(const commands::ReportOptions& o) {
  std::ostringstream out;
  return commands::report(o, out);
}

bool graphviz_installed() { return std::system("dot -V > /dev/null 2>&1") == 0; }

} // namespace

TEST(ReportCommand, SearchWritesTheReportAndReportRewritesIt) {
  TempDir dir;
  run_search(dir);
  const auto best = nlohmann::json::parse(test::read_file(dir / "run/best_config.json"));
  ASSERT_TRUE(best["test_confusion"].is_object());
  std::int64_t samples = 0;
  for (const auto& row : best["test_confusion"]["counts"])
    for (const auto& n : row) samples += n.get<std::int64_t>();
  EXPECT_EQ(samples, 120); // every test row, once

  const auto written = test::read_file(dir / "run/report.html");
  for (const char* id : {"id=\"plot-history\"", "id=\"plot-budgets\"", "id=\"plot-timeline\"", "id=\"plot-parallel\"",
                         "id=\"plot-correlation\"", "id=\"plot-per-class\"", "id=\"plot-confusion\"", "id=\"leaderboard-table\""})
    EXPECT_THAT(written, HasSubstr(id));
  EXPECT_THAT(written, HasSubstr("No budget has 10 complete trials yet")); // 3 + 1 trials: no importance
  if (graphviz_installed()) EXPECT_THAT(written, HasSubstr("<svg width="));  // Graphviz's own SVG, inlined
  else EXPECT_THAT(written, HasSubstr("Graphviz (dot) is not installed"));

  commands::ReportOptions o;
  o.dir = (dir / "run").string();
  o.output = (dir / "again.html").string();
  EXPECT_EQ(run_report(o), 0);
  const auto again = test::read_file(dir / "again.html");
  EXPECT_THAT(again, HasSubstr("id=\"plot-confusion\""));
  EXPECT_THAT(again, HasSubstr("4 trials"));

  // From the storage URL alone: no best_config.json, so no test results, and -o is required.
  commands::ReportOptions s;
  s.storage = "sqlite:///" + (dir / "run/study.db").string();
  test::expect_input_error([&] { run_report(s); }, {"-o FILE"});
  s.output = (dir / "storage.html").string();
  EXPECT_EQ(run_report(s), 0);
  EXPECT_THAT(test::read_file(dir / "storage.html"), HasSubstr("No best_config.json"));
}

TEST(ReportCommand, EvaluatesTheTestSetWhenBestConfigDoesNotRecordIt) {
  TempDir dir;
  run_search(dir);
  auto best = nlohmann::json::parse(test::read_file(dir / "run/best_config.json"));
  const auto recorded = best["test_confusion"];
  best.erase("test_confusion"); // as written before the report existed
  test::write_file(dir / "run/best_config.json", best.dump(2));
  commands::ReportOptions o;
  o.dir = (dir / "run").string();
  ASSERT_EQ(run_report(o), 0);
  const auto html = test::read_file(dir / "run/report.html");
  EXPECT_THAT(html, HasSubstr("Computed by automl report from"));
  EXPECT_THAT(html, HasSubstr("id=\"plot-confusion\""));
  // The same counts as the search recorded: the numbers shown in the tooltips of the diagonal.
  for (std::size_t c = 0; c < recorded["classes"].size(); ++c)
    EXPECT_THAT(html, HasSubstr(fmt::format("true {0} · predicted {0} · {1} samples", recorded["classes"][c].get<std::string>(),
                                            recorded["counts"][c][c].get<std::int64_t>())));

  // A test source that is gone is a note, not a failure.
  std::filesystem::remove(dir / "test.csv");
  ASSERT_EQ(run_report(o), 0);
  EXPECT_THAT(test::read_file(dir / "run/report.html"), HasSubstr("could not be evaluated"));
}

TEST(ReportCommand, BadInputNamesThePath) {
  TempDir dir;
  commands::ReportOptions o;
  test::expect_input_error([&] { run_report(o); }, {"report: give an output directory (DIR) or --storage URL"});
  o.dir = (dir / "missing").string();
  test::expect_input_error([&] { run_report(o); }, {(dir / "missing").string(), "no such directory"});
  o.dir.clear();
  o.storage = "sqlite:///" + (dir / "none.db").string();
  o.output = (dir / "r.html").string();
  test::expect_input_error([&] { run_report(o); }, {"no such database file", (dir / "none.db").string()});
  o.storage = "mysql://host/db";
  test::expect_input_error([&] { run_report(o); }, {"mysql"});

  run_search(dir);
  o.storage = "sqlite:///" + (dir / "run/study.db").string();
  o.study = "nope";
  test::expect_input_error([&] { run_report(o); }, {"no study 'nope'"});
  o.study.clear();
  o.output = (dir / "no/such/dir/r.html").string();
  test::expect_input_error([&] { run_report(o); }, {(dir / "no/such/dir/r.html").string(), "no such directory"});
  o.output = (dir / "run").string();
  test::expect_input_error([&] { run_report(o); }, {"is a directory"});
  EXPECT_FALSE(std::filesystem::exists(dir / "r.html"));
}
