#pragma once
// The report's plots, each one inline SVG element with an id (plot-history, plot-budgets, plot-timeline,
// plot-importance, plot-correlation, plot-parallel, plot-confusion, plot-per-class). Marks that stand for a
// trial or configuration carry `data-tip` (tooltip text) and `data-c` (the configuration, for highlighting
// across plots). Large studies are thinned to the caps below; each plot says what it left out.

#include "report/analysis.hpp"
#include "study/trial.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace automl::report {

// At most this many trials are drawn as points in the optimization history: every trial that raised a
// budget's best-so-far, the best trials, and an even sample of the rest.
constexpr std::size_t k_max_history_points = 2500;
// At most this many configurations in the loss-against-budget plot (those that reached the largest budgets first).
constexpr std::size_t k_max_curves = 400;
// Timeline bars narrower than this many pixels, side by side in one row and in the same state, are drawn as one.
constexpr double k_timeline_merge_px = 2.0;
constexpr std::size_t k_max_timeline_rows = 64;
// Configurations and parameter axes in the parallel coordinates.
constexpr std::size_t k_parallel_configs = 30;
constexpr std::size_t k_parallel_axes = 10;
// Classes up to which the confusion matrix is drawn (the per-class accuracy is drawn up to k_max_class_bars).
constexpr std::size_t k_max_matrix_classes = 30;
constexpr std::size_t k_max_class_bars = 100;

// A plot and the sentence that says what it shows or left out (empty when nothing needs saying).
struct Plot {
  std::string svg;
  std::string note;
};

// The configuration key used by data-c: "iteration-slot".
std::string config_key(const study::Trial& trial);

// Validation accuracy of each trial against its finish time (seconds after `t0`), coloured by budget, with the
// best-so-far step line of each budget.
Plot history_plot(const std::vector<study::Trial>& trials, double t0, const std::string& budget_unit);
// One line per configuration across the budgets (rungs) it reached.
Plot budget_plot(const std::vector<study::Trial>& trials, const std::vector<ConfigCurve>& curves,
                 const std::string& budget_unit);
// One row per worker (lane), one bar per trial coloured by state.
Plot timeline_plot(const std::vector<study::Trial>& trials, const TimelineLayout& layout, double t0);
Plot importance_plot(const ImportanceResult& importance);
// The Spearman correlation of each pair of budgets as a triangle of cells.
Plot correlation_plot(const std::vector<BudgetCorrelation>& correlations);
// The best configurations (by the largest budget they reached, then accuracy) on one axis per varying parameter
// (the most important first when `importance` has them) and one for validation accuracy.
Plot parallel_plot(const std::vector<study::Trial>& trials, const std::vector<ConfigCurve>& curves,
                   const std::vector<std::string>& important_first);
Plot confusion_plot(const ConfusionMatrix& matrix);
Plot per_class_plot(const ConfusionMatrix& matrix);

} // namespace automl::report
