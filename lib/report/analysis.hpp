#pragma once
// What `automl report` computes from a study's trials before drawing anything: best-so-far curves, the
// workers' timeline lanes, Spearman rank correlation between budgets, hyperparameter importance (PED-ANOVA),
// each configuration's curve across the rungs, and the confusion matrix of a model on a test set. Pure
// functions of their inputs (no storage, no torch): the report, `automl search --report` and the tests call
// them alike.

#include "study/trial.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace automl::report {

// A trial's validation accuracy when it has one worth plotting (COMPLETE or PRUNED with a finite loss).
std::optional<double> plotted_accuracy(const study::Trial& trial);

struct Point {
  double x = 0.0;
  double y = 0.0;
};

// Per budget, the best validation accuracy among the COMPLETE trials finished so far, as a step curve: one point
// (finish time, best) each time it improves, in time order. Times are seconds since the Unix epoch.
std::map<double, std::vector<Point>> best_so_far(const std::vector<study::Trial>& trials);

// One bar of the workers' timeline.
struct TimelineBar {
  std::size_t trial = 0; // index into the trials given
  std::size_t row = 0;   // index into TimelineLayout::rows
  double start = 0.0;
  double end = 0.0;      // finished_at, or `now` for a trial still running
};

struct TimelineLayout {
  std::vector<std::string> rows; // "worker" or "worker (lane k)" when trials of one worker overlapped
  std::vector<TimelineBar> bars;
};

// One row per worker (the trial's owner token, in order of first start). Trials of one worker that overlap in
// time (a worker token reused by runs that overlapped, or clocks that disagree) go on further lanes of that
// worker: each trial takes the first lane free at its start (interval partitioning), so the bars of a row never
// overlap and a worker whose trials never overlap has one row.
TimelineLayout timeline_lanes(const std::vector<study::Trial>& trials, double now);

// Spearman's rank correlation of paired samples (ties get their average rank); nullopt for fewer than 3 pairs or
// when either side is constant. Throws std::invalid_argument when the sizes differ.
std::optional<double> spearman(const std::vector<double>& x, const std::vector<double>& y);

// The configurations seen on both budgets of each pair, and the Spearman correlation of their accuracies
// there (HpBandSter's "correlation across budgets"). A configuration is known by its config id.
struct BudgetCorrelation {
  double budget_a = 0.0;       // the smaller budget
  double budget_b = 0.0;
  std::size_t configurations = 0;
  std::optional<double> rho;   // nullopt: fewer than 3 configurations, or constant accuracies
};
std::vector<BudgetCorrelation> budget_correlations(const std::vector<study::Trial>& trials);

// Hyperparameter importance by PED-ANOVA (Watanabe et al., IJCAI 2023; Optuna's default evaluator), as Optuna's
// PedAnovaImportanceEvaluator computes it with its defaults: for each parameter, the Pearson divergence between
// the distribution of the top `k_importance_top_quantile` trials' values and that of all the trials (the local
// space), each a one-dimensional Parzen estimate on a grid of `k_importance_grid` points; then normalised to sum
// to 1. Numbers are placed by their empirical quantile among the trials (average ranks for ties), so a log-scaled
// learning rate and a linear momentum are treated alike without the search space; strings and booleans are
// categories (Laplace-smoothed frequencies). A parameter is only evaluated on the trials where it is active.
struct ParameterImportance {
  std::string name;
  double importance = 0.0;  // share of the total, in [0, 1]
  double divergence = 0.0;  // the Pearson divergence itself
  std::size_t trials = 0;   // trials where the parameter was active
};
struct ImportanceResult {
  double budget = 0.0;
  std::size_t trials = 0; // COMPLETE trials on that budget
  std::vector<ParameterImportance> parameters; // most important first
};
// Trials needed on one budget (and for one parameter) before importance is computed.
constexpr std::size_t k_importance_min_trials = 10;
constexpr double k_importance_top_quantile = 0.1;
constexpr std::size_t k_importance_min_top = 2;
constexpr std::size_t k_importance_grid = 50;
// On the largest budget with at least k_importance_min_trials COMPLETE trials; nullopt when there is none.
std::optional<ImportanceResult> parameter_importance(const std::vector<study::Trial>& trials);
// The same on given parameter values and losses (lower is better) of one budget: `configs[i]` is trial i's
// configuration as a JSON object.
std::vector<ParameterImportance> ped_anova(const std::vector<nlohmann::json>& configs, const std::vector<double>& losses);

// The keys whose values differ between the configurations (JSON objects), in name order; a key missing from
// some configurations (inactive there) varies too.
std::vector<std::string> varying_parameters(const std::vector<nlohmann::json>& configs);

// One configuration across the rungs it reached: its trials' (budget, accuracy), by budget.
struct ConfigCurve {
  std::string config_id;
  std::vector<Point> points; // x: budget, y: validation accuracy
  std::vector<std::size_t> trials; // indices into the trials given, in the points' order
};
// Configurations in order of the largest budget they reached, then their accuracy there, best first.
std::vector<ConfigCurve> config_curves(const std::vector<study::Trial>& trials);

// Counts of (true class, predicted class) on a test set.
struct ConfusionMatrix {
  std::vector<std::string> classes;
  std::vector<std::vector<std::int64_t>> counts; // [true][predicted]
  std::string source;                             // the test source, for the caption
};
// Throws std::invalid_argument when the sizes differ or a class index is out of range.
ConfusionMatrix confusion_matrix(const std::vector<std::int64_t>& truth, const std::vector<std::int64_t>& predicted,
                                 const std::vector<std::string>& classes);
// Share of each true class predicted right (nullopt for a class without samples).
std::vector<std::optional<double>> per_class_accuracy(const ConfusionMatrix& m);
// As stored in best_config.json ("test_confusion"): {"source", "classes", "counts"}.
nlohmann::json to_json(const ConfusionMatrix& m);
// nullopt when `j` is not such an object with a square matrix of non-negative counts.
std::optional<ConfusionMatrix> confusion_from_json(const nlohmann::json& j);

} // namespace automl::report
