#pragma once
// The report as one self-contained HTML page: inline CSS, inline SVG plots (plots.hpp) and a small inline script
// for tooltips, table sorting and highlighting one configuration across the plots. Nothing is fetched: it opens
// from disk, in a mail or as a CI artifact. Everything taken from the study (names, values, error messages,
// worker tokens) is HTML-escaped.
//
// Sections (element ids): summary, leaderboard, plot-history, plot-budgets, plot-timeline, plot-importance,
// plot-correlation, plot-parallel, test (plot-per-class, plot-confusion), model-graph, ensemble (only when
// best_config.json has a non-null "ensemble"), failures.

#include "report/analysis.hpp"
#include "study/trial.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace automl::report {

// Rows of the leaderboard: the best COMPLETE trials, ranked as the incumbent is (largest budget, then accuracy).
constexpr std::size_t k_leaderboard_rows = 50;
// Failed trials are grouped by message; at most this many messages, each cut to k_max_error_chars.
constexpr std::size_t k_max_failure_groups = 30;
constexpr std::size_t k_max_error_chars = 2000;

// Example: ReportInput in; in.study = "tiny_cs"; in.trials = storage->trials(id); in.now = unix_now();
struct ReportInput {
  std::string study;                      // required
  std::string storage;                    // the storage URL
  std::string budget_unit = "epochs";     // what trial budgets count ("epochs" or "s")
  std::vector<study::Trial> trials;
  std::optional<study::Trial> best;       // the incumbent (exec::best_trial), if any
  nlohmann::json best_config;             // best_config.json of the output directory, or null
  nlohmann::json effective;               // effective_config.json, or null
  std::optional<ConfusionMatrix> test_confusion; // the exported model on the test set, when known
  std::string test_note;                  // why there is no confusion matrix (or where it came from)
  std::string model_graph_svg;            // the best model's forward graph drawn by Graphviz, or empty
  std::string model_graph_note;           // why there is none
  double now = 0.0;                       // seconds since the Unix epoch: the end of running trials' bars
  std::string generator = "automl";       // "automl <version>", in the footer
};

std::string render_html(const ReportInput& input);

} // namespace automl::report
