// `automl search --report` through the binary, then the page opened in a real browser (Debian's
// chromium-headless-shell, installed by `scripts/setup --test`): the script runs to its end without a console
// error, the plots are in the rendered DOM, and a screenshot is kept in the build tree
// (test/artifacts/report.png). Skipped when no such browser is installed.

#include "support/automl_binary.hpp"
#include "support/search_fixture.hpp"
#include "support/test_files.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

using automl::test::k_automl;
using automl::test::run_command;
using automl::test::TempDir;
using testing::HasSubstr;
using testing::Not;

namespace {

// The first browser found: $AUTOML_BROWSER, else chromium-headless-shell or chromium on PATH.
std::string find_browser() {
  if (const char* env = std::getenv("AUTOML_BROWSER"); env && *env) return env;
  for (const char* name : {"chromium-headless-shell", "chromium"})
    if (run_command(std::string("command -v ") + name + " > /dev/null 2>&1").exit_code == 0) return name;
  return "";
}

// Headless flags: no sandbox (tests may run as root in containers), no GPU, console messages on stderr.
std::string browser_command(const std::string& browser, const std::string& what, const std::filesystem::path& page) {
  return browser + " --headless --no-sandbox --disable-gpu --no-first-run --enable-logging=stderr --v=0 " + what +
         " 'file://" + page.string() + "'";
}

} // namespace

TEST(ReportBrowser, RendersWithoutConsoleErrorsAndShowsThePlots) {
  const auto browser = find_browser();
  if (browser.empty()) GTEST_SKIP() << "no chromium-headless-shell or chromium on PATH (scripts/setup --test installs it)";
  TempDir dir;
  automl::test::write_search_files(dir.path());
  const auto search = run_command(k_automl + " search --space " + (dir / "space.yaml").string() + " --data " +
                                  (dir / "train.csv").string() + " --test " + (dir / "test.csv").string() + " --out " +
                                  (dir / "run").string() + " --min-budget 1 --max-budget 3 --iterations 7 --threads 1 " +
                                  "--device cpu --seed 5 --budget 60 --quiet --report");
  ASSERT_EQ(search.exit_code, 0) << search.err;
  const auto page = dir / "run/report.html";
  ASSERT_TRUE(std::filesystem::exists(page));

  // 7 iterations of 1 + 3 epochs: 22 trials, enough on one budget for the importance plot.
  const auto html = automl::test::read_file(page);
  std::size_t plots = 0;
  for (auto at = html.find("class=\"plot\""); at != std::string::npos; at = html.find("class=\"plot\"", at + 1)) ++plots;
  EXPECT_EQ(plots, 8u);

  const auto dom = run_command(browser_command(browser, "--dump-dom", page));
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  // The script ran to its end (it marks the body and logs one line), and nothing went wrong on the way.
  EXPECT_THAT(dom.out, HasSubstr("data-ready=\"" + std::to_string(plots) + "\""));
  EXPECT_THAT(dom.err, HasSubstr("automl report: ready, " + std::to_string(plots) + " plots"));
  EXPECT_THAT(dom.err, Not(HasSubstr("Uncaught")));
  EXPECT_THAT(dom.err, Not(HasSubstr(":ERROR:CONSOLE")));
  for (const char* id : {"plot-history", "plot-budgets", "plot-timeline", "plot-importance", "plot-correlation",
                         "plot-parallel", "plot-per-class", "plot-confusion", "leaderboard-table", "failures"})
    EXPECT_THAT(dom.out, HasSubstr(std::string("id=\"") + id + "\"")) << id;
  EXPECT_THAT(dom.out, HasSubstr("<circle")); // trials drawn in the history

  const std::filesystem::path artifacts = REPORT_ARTIFACT_DIR;
  std::filesystem::create_directories(artifacts);
  const auto png = artifacts / "report.png";
  std::filesystem::remove(png);
  const auto shot = run_command(browser_command(browser, "--window-size=1200,3000 --screenshot=" + png.string(), page));
  ASSERT_EQ(shot.exit_code, 0) << shot.err;
  ASSERT_TRUE(std::filesystem::exists(png));
  EXPECT_GT(std::filesystem::file_size(png), 10000u); // a rendered page, not an empty image
}
