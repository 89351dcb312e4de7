// lib/report: the analysis behind `automl report` (importance, Spearman, best-so-far, timeline lanes, curves,
// confusion matrix) on hand-made trials with known answers, and the page: escaping and the size of a large study.

#include "report/analysis.hpp"
#include "report/html_report.hpp"
#include "report/svg.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace automl;
using testing::HasSubstr;
using testing::Not;

namespace {

study::Trial trial(std::int64_t id, double budget, std::optional<double> accuracy, double started, double finished,
                   study::TrialState state = study::TrialState::complete, const std::string& worker = "w") {
  study::Trial t;
  t.id = id;
  t.iteration = static_cast<std::size_t>(id);
  t.budget = budget;
  t.state = state;
  if (accuracy) t.loss = 1.0 - *accuracy;
  t.started_at = started;
  if (state != study::TrialState::running) t.finished_at = finished;
  t.worker = worker;
  t.config = "{}";
  return t;
}

} // namespace

TEST(ReportImportance, TheOnlyParameterThatMattersRanksFirst) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<nlohmann::json> configs;
  std::vector<double> losses;
  const char* choices[] = {"adam", "sgd", "rmsprop"};
  for (int i = 0; i < 300; ++i) {
    const double lr = std::pow(10.0, -4 + 3 * u(rng)); // log-uniform, as a learning rate
    configs.push_back({{"lr", lr}, {"momentum", u(rng)}, {"units", static_cast<int>(16 + 240 * u(rng))},
                       {"optimizer", choices[i % 3]}});
    losses.push_back(std::abs(std::log10(lr) + 2.5)); // only lr matters, best near 10^-2.5
  }
  const auto result = report::ped_anova(configs, losses);
  ASSERT_EQ(result.size(), 4u);
  EXPECT_EQ(result[0].name, "lr");
  EXPECT_GT(result[0].importance, 0.8);
  EXPECT_GT(result[0].importance, 10 * result[1].importance);
  double total = 0;
  for (const auto& p : result) total += p.importance;
  EXPECT_NEAR(total, 1.0, 1e-12);

  // A categorical parameter alone deciding the loss ranks first too.
  for (std::size_t i = 0; i < configs.size(); ++i) losses[i] = configs[i]["optimizer"] == "sgd" ? 0.1 : 0.5;
  EXPECT_EQ(report::ped_anova(configs, losses)[0].name, "optimizer");
}

TEST(ReportImportance, UsesTheLargestBudgetWithEnoughTrials) {
  std::vector<study::Trial> trials;
  for (int i = 0; i < 12; ++i) {
    auto t = trial(i + 1, 1.0, 0.5 + 0.01 * i, 0, 1);
    t.config = nlohmann::json{{"a", i}, {"b", i % 2 == 0 ? "x" : "y"}}.dump();
    trials.push_back(t);
  }
  for (int i = 0; i < 5; ++i) trials.push_back(trial(100 + i, 9.0, 0.9, 0, 1)); // too few on the larger budget
  const auto r = report::parameter_importance(trials);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->budget, 1.0);
  EXPECT_EQ(r->trials, 12u);
  EXPECT_EQ(r->parameters.size(), 2u);
  trials.resize(5);
  EXPECT_FALSE(report::parameter_importance(trials));
}

TEST(ReportSpearman, KnownValues) {
  EXPECT_DOUBLE_EQ(*report::spearman({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0);
  EXPECT_DOUBLE_EQ(*report::spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  // Ties get their average rank: y ranks 1, 2, 3.5, 5, 3.5; rho = 8 / sqrt(10 * 9.5) (scipy.stats.spearmanr agrees).
  EXPECT_NEAR(*report::spearman({1, 2, 3, 4, 5}, {5, 6, 7, 8, 7}), 0.8207826816681233, 1e-12);
  EXPECT_FALSE(report::spearman({1, 2}, {1, 2}));        // too few
  EXPECT_FALSE(report::spearman({1, 2, 3}, {7, 7, 7})); // constant
  EXPECT_THROW(report::spearman({1, 2, 3}, {1, 2}), std::invalid_argument);
}

TEST(ReportSpearman, AcrossBudgetsPairsTheSameConfigurations) {
  std::vector<study::Trial> trials;
  // Four configurations (config id = iteration, slot) on budgets 1 and 3, ranked the same way except one swap;
  // two of them reach budget 9.
  const double on_1[] = {0.5, 0.6, 0.7, 0.8};
  const double on_3[] = {0.55, 0.75, 0.65, 0.85};
  std::int64_t id = 1;
  for (std::size_t c = 0; c < 4; ++c) {
    for (auto [budget, acc] : {std::pair{1.0, on_1[c]}, std::pair{3.0, on_3[c]}}) {
      auto t = trial(id++, budget, acc, 0, 1);
      t.iteration = 0;
      t.slot = c;
      trials.push_back(t);
    }
  }
  for (std::size_t c = 2; c < 4; ++c) {
    auto t = trial(id++, 9.0, 0.9, 0, 1);
    t.iteration = 0;
    t.slot = c;
    trials.push_back(t);
  }
  trials.push_back(trial(id++, 3.0, std::nullopt, 0, 1, study::TrialState::fail)); // ignored
  const auto r = report::budget_correlations(trials);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].budget_a, 1.0);
  EXPECT_EQ(r[0].budget_b, 3.0);
  EXPECT_EQ(r[0].configurations, 4u);
  EXPECT_NEAR(*r[0].rho, 0.8, 1e-12); // ranks 1 2 3 4 against 1 3 2 4: 1 - 6 * 2 / (4 * 15)
  EXPECT_EQ(r[1].budget_b, 9.0);
  EXPECT_EQ(r[1].configurations, 2u);
  EXPECT_FALSE(r[1].rho);
}

TEST(ReportBestSoFar, StepsPerBudgetInFinishOrder) {
  std::vector<study::Trial> trials{
      trial(1, 1.0, 0.50, 0, 10),
      trial(2, 1.0, 0.70, 0, 30),
      trial(3, 1.0, 0.60, 0, 20), // finished before trial 2: a step of its own
      trial(4, 1.0, 0.65, 0, 40), // no improvement
      trial(5, 3.0, 0.80, 0, 50),
      trial(6, 1.0, 0.99, 0, 45, study::TrialState::pruned), // not COMPLETE: not an incumbent
      trial(7, 1.0, std::nullopt, 0, 5, study::TrialState::fail),
  };
  const auto curves = report::best_so_far(trials);
  ASSERT_EQ(curves.size(), 2u);
  const auto& b1 = curves.at(1.0);
  ASSERT_EQ(b1.size(), 3u);
  EXPECT_EQ(b1[0].x, 10);
  EXPECT_EQ(b1[0].y, 0.5);
  EXPECT_EQ(b1[1].x, 20);
  EXPECT_NEAR(b1[1].y, 0.6, 1e-12);
  EXPECT_EQ(b1[2].x, 30);
  EXPECT_NEAR(b1[2].y, 0.7, 1e-12);
  ASSERT_EQ(curves.at(3.0).size(), 1u);
  EXPECT_NEAR(curves.at(3.0)[0].y, 0.8, 1e-12);
}

TEST(ReportTimeline, OneRowPerWorkerAndLanesForOverlaps) {
  std::vector<study::Trial> trials{
      trial(1, 1, 0.5, 100, 110, study::TrialState::complete, "A"),
      trial(2, 1, 0.5, 110, 120, study::TrialState::complete, "A"), // touches trial 1: same lane
      trial(3, 1, 0.5, 105, 115, study::TrialState::pruned, "A"),   // overlaps: a second lane
      trial(4, 1, 0.5, 102, 104, study::TrialState::complete, "B"),
      trial(5, 1, std::nullopt, 106, 0, study::TrialState::running, "B"),
      trial(6, 1, 0.5, 116, 118, study::TrialState::complete, "A"), // lane 2 is free again at 115
  };
  const auto layout = report::timeline_lanes(trials, 130);
  EXPECT_EQ(layout.rows, (std::vector<std::string>{"A", "A (lane 2)", "B"}));
  ASSERT_EQ(layout.bars.size(), 6u);
  std::map<std::int64_t, report::TimelineBar> by_id;
  for (const auto& b : layout.bars) by_id[trials[b.trial].id] = b;
  EXPECT_EQ(by_id[1].row, 0u);
  EXPECT_EQ(by_id[2].row, 0u);
  EXPECT_EQ(by_id[3].row, 1u);
  EXPECT_EQ(by_id[6].row, 1u);
  EXPECT_EQ(by_id[4].row, 2u);
  EXPECT_EQ(by_id[5].row, 2u);
  EXPECT_EQ(by_id[5].end, 130); // still running: up to now
  // No two bars of a row overlap.
  for (const auto& a : layout.bars)
    for (const auto& b : layout.bars)
      if (&a != &b && a.row == b.row) {
        EXPECT_TRUE(a.end <= b.start || b.end <= a.start);
      }
}

TEST(ReportCurves, OneCurvePerConfigurationBestFirst) {
  std::vector<study::Trial> trials;
  auto add = [&](std::size_t iteration, std::size_t slot, double budget, double acc) {
    auto t = trial(static_cast<std::int64_t>(trials.size() + 1), budget, acc, 0, 1);
    t.iteration = iteration;
    t.slot = slot;
    trials.push_back(t);
  };
  add(0, 0, 1, 0.6);
  add(0, 1, 1, 0.7);
  add(0, 1, 3, 0.8);
  add(0, 2, 1, 0.9);
  const auto curves = report::config_curves(trials);
  ASSERT_EQ(curves.size(), 3u);
  EXPECT_EQ(curves[0].config_id, "[0, 0, 1]"); // reached budget 3
  ASSERT_EQ(curves[0].points.size(), 2u);
  EXPECT_EQ(curves[0].points[1].x, 3);
  EXPECT_EQ(curves[1].config_id, "[0, 0, 2]"); // then by accuracy on budget 1
  EXPECT_EQ(curves[2].config_id, "[0, 0, 0]");
}

TEST(ReportConfusion, CountsPerClassAccuracyAndJson) {
  const auto m = report::confusion_matrix({0, 0, 1, 1, 1, 2}, {0, 1, 1, 1, 0, 2}, {"a", "b", "c"});
  EXPECT_EQ(m.counts, (std::vector<std::vector<std::int64_t>>{{1, 1, 0}, {1, 2, 0}, {0, 0, 1}}));
  const auto acc = report::per_class_accuracy(m);
  EXPECT_DOUBLE_EQ(*acc[0], 0.5);
  EXPECT_DOUBLE_EQ(*acc[1], 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(*acc[2], 1.0);
  const auto back = report::confusion_from_json(report::to_json(m));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->counts, m.counts);
  EXPECT_EQ(back->classes, m.classes);
  EXPECT_FALSE(report::confusion_from_json(nlohmann::json{{"classes", {"a"}}, {"counts", {{-1}}}}));
  EXPECT_FALSE(report::confusion_from_json(nlohmann::json{{"classes", {"a", "b"}}, {"counts", {{1, 2}}}}));
  EXPECT_THROW(report::confusion_matrix({0, 3}, {0, 0}, {"a", "b"}), std::invalid_argument);
}

TEST(ReportSvg, AccuracyScaleAndEscaping) {
  EXPECT_EQ(report::escape(R"(<a href="x">'&'</a>)"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  const auto y = report::accuracy_scale(0.5, 0.98, 300, 0);
  EXPECT_DOUBLE_EQ(y.lo, 0.01); // errors 0.01..1: whole decades
  EXPECT_DOUBLE_EQ(y.hi, 1.0);
  EXPECT_NEAR(y(report::error_of(0.99)), 0.0, 1e-9);   // the best accuracy at the top
  EXPECT_NEAR(y(report::error_of(0.0)), 300.0, 1e-9);  // error 1 at the bottom
  EXPECT_EQ(report::px(12.04), "12");
  EXPECT_EQ(report::px(-0.01), "0");
}

TEST(ReportHtml, EscapesWhatComesFromTheStudy) {
  report::ReportInput in;
  in.study = "s<1>";
  in.now = 1000;
  for (int i = 0; i < 12; ++i) {
    auto t = trial(i + 1, 1.0, 0.5 + 0.02 * i, 10.0 * i, 10.0 * i + 5);
    t.config = nlohmann::json{{"<img src=x onerror=alert(1)>", i}, {"opt", i % 2 ? "a&b" : "\"q\""}}.dump();
    in.trials.push_back(t);
  }
  auto failed = trial(13, 1.0, std::nullopt, 200, 201, study::TrialState::fail, "<worker>");
  failed.error = "boom </pre><script>alert(2)</script>";
  in.trials.push_back(failed);
  in.best = in.trials[11];
  in.best_config = {{"trial_id", 12}, {"ensemble", {{{"member", "<m1>"}, {"weight", 0.5}}}}};
  in.test_note = "no <test>";
  in.model_graph_note = "no graph";
  const auto html = report::render_html(in);
  EXPECT_THAT(html, Not(HasSubstr("<img src=x")));
  EXPECT_THAT(html, Not(HasSubstr("<script>alert")));
  EXPECT_THAT(html, Not(HasSubstr("<worker>")));
  EXPECT_THAT(html, Not(HasSubstr("<m1>")));
  EXPECT_THAT(html, HasSubstr("&lt;img src=x onerror=alert(1)&gt;"));
  EXPECT_THAT(html, HasSubstr("boom &lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;"));
  EXPECT_THAT(html, HasSubstr("Study s&lt;1&gt;"));
  for (const char* id : {"id=\"summary\"", "id=\"leaderboard-table\"", "id=\"plot-history\"", "id=\"plot-budgets\"",
                         "id=\"plot-timeline\"", "id=\"plot-importance\"", "id=\"plot-correlation\"",
                         "id=\"plot-parallel\"", "id=\"ensemble\"", "id=\"failures\""})
    EXPECT_THAT(html, HasSubstr(id));
  // Nothing is fetched: no external URL in any src or href.
  EXPECT_THAT(html, Not(HasSubstr("src=\"http")));
  EXPECT_THAT(html, Not(HasSubstr("href=\"http")));

  // automl's own ensemble: its accuracy against the best trial alone, a row per member without the configuration.
  in.best_config = {{"ensemble",
                     {{"val_accuracy", 0.99},
                      {"best_single", {{"trial_id", 3}, {"val_accuracy", 0.985}}},
                      {"members", {{{"trial_id", 3}, {"weight", 0.6}, {"config", {{"secret_key", 1}}}},
                                   {{"trial_id", 5}, {"weight", 0.4}, {"config", {{"secret_key", 2}}}}}}}}};
  const auto with_ensemble = report::render_html(in);
  EXPECT_THAT(with_ensemble, HasSubstr("2 members, validation accuracy 0.9900 (the best of them alone, trial 3: 0.9850)"));
  EXPECT_THAT(with_ensemble, Not(HasSubstr("secret_key")));
  // No ensemble (null): no section.
  in.best_config = {{"ensemble", nullptr}};
  EXPECT_THAT(report::render_html(in), Not(HasSubstr("id=\"ensemble\"")));
}

TEST(ReportHtml, TenThousandTrialsStayUnderTwoMegabytes) {
  report::ReportInput in;
  in.study = "large";
  in.now = 1e6;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double budgets[] = {1, 3, 9, 27};
  for (int i = 0; i < 10000; ++i) {
    const int rung = i % 13 == 0 ? 3 : i % 7 == 0 ? 2 : i % 3 == 0 ? 1 : 0;
    auto t = trial(i + 1, budgets[rung], 0.5 + 0.4 * u(rng), 10.0 * i / 4, 10.0 * i / 4 + 9,
                   i % 50 == 0 ? study::TrialState::fail : study::TrialState::complete, "w" + std::to_string(i % 4));
    if (i % 50 == 0) t.error = "error " + std::to_string(i % 7);
    t.iteration = static_cast<std::size_t>(i / 40);
    t.slot = static_cast<std::size_t>(i % 40);
    t.config = nlohmann::json{{"lr", u(rng)}, {"units", static_cast<int>(u(rng) * 500)}, {"opt", u(rng) < 0.5 ? "adam" : "sgd"}}.dump();
    in.trials.push_back(t);
  }
  const auto html = report::render_html(in);
  EXPECT_LT(html.size(), 2u * 1024 * 1024);
  EXPECT_THAT(html, HasSubstr("trials drawn"));          // the history was thinned and says so
  EXPECT_THAT(html, HasSubstr("configurations drawn")); // so were the curves
}

// The summary says what was exported: an ensemble (its test accuracy is the ensemble's) or the trial itself; a
// test set that was evaluated gets no "no model" note.
TEST(ReportHtml, TheSummarySaysWhetherAnEnsembleWasExported) {
  report::ReportInput in;
  in.study = "s";
  in.now = 100;
  in.trials.push_back(trial(1, 1.0, 0.9, 0, 5));
  in.best = in.trials[0];
  in.best_config = {{"trial_id", 1}, {"test", "t.csv"}, {"test_accuracy", 0.91}, {"refit", {{"done", false}}},
                    {"ensemble", {{"method", "peers"}, {"val_accuracy", 0.9},
                                  {"members", {{{"trial_id", 1}, {"weight", 0.5}}, {{"trial_id", 2}, {"weight", 0.5}}}}}}};
  const auto html = report::render_html(in);
  EXPECT_THAT(html, HasSubstr("an ensemble of 2 trials (peers; see Ensemble below)"));
  EXPECT_THAT(html, HasSubstr("0.9100</b> on t.csv (the ensemble)"));
  EXPECT_THAT(html, Not(HasSubstr("own weights")));
  in.best_config["ensemble"] = nullptr;
  const auto single = report::render_html(in);
  EXPECT_THAT(single, HasSubstr("this trial's own weights"));
  EXPECT_THAT(single, HasSubstr("(the exported model)"));
}
