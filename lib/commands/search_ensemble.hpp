#pragma once
// The ensemble step of `automl search`'s export: ensemble selection (export/ensemble.hpp) over the trials that
// stored their validation probabilities, favouring the largest budgets, or else the incumbent averaged with its seed
// replicas, when either beats the best single model on validation (accuracy, then log-loss); or else, when trials on
// the incumbent's budget tie with it on validation, the incumbent averaged with its peers; and the ensemble's module.

#include "data/dataset.hpp"
#include "export/ensemble.hpp"
#include "study/storage.hpp"
#include "study/trial.hpp"

#include <nlohmann/json.hpp>
#include <torch/script.h>

#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace automl::commands {

// The most trials ensemble selection looks at: the first ones by budget (largest first), then validation loss.
constexpr std::size_t k_max_ensemble_candidates = 24;
// Reading the candidates (unpacking checkpoints stored only in the database) stops after this share of the time
// the ensemble has, with the candidates read so far (two at least).
constexpr double k_ensemble_read_share = 0.25;

// A candidate takes part in the selection only when its validation accuracy alone is at least this share of the
// way from chance (the commonest class's share) to the best candidate's, less 2 standard errors of the best's
// accuracy on the validation set (90 samples: 7 points; MNIST's 6000: a quarter of one). Weaker members that err
// elsewhere are what an ensemble gains from; a diverged network is not. Selection keeps any candidate whose share
// in the average gets a few more validation samples right, however poor it is alone: in a 2000 s search of the
// Optuna chapter's ConvNets, two 1-epoch trials at 25.2% and 9.9% validation accuracy (MNIST; chance 11%) took 65%
// of the ensemble's weight beside a 99.0% trial (validation 99.18%, test 98.99%, against 99.07% for that trial).
constexpr double k_ensemble_min_competence = 0.5;

struct EnsembleSettings {
  int size = 25;                // rounds of selection
  double min_competence = k_ensemble_min_competence;
  std::string fetch_dir;        // where checkpoints stored only in the database are unpacked
  double min_budget = 0;        // trials below this budget are validated on a subset: not candidates
  // The members must evaluate `samples` raw samples within `seconds` (each member's pace measured on validation
  // samples, times k_ensemble_safety): the heaviest-weighted members that fit are selected from again.
  double seconds = std::numeric_limits<double>::infinity();
  std::int64_t samples = 0;
  // The trial exported when no ensemble is (the incumbent): with its seed replicas, the second kind of ensemble.
  std::int64_t incumbent_id = -1;
};

// An ensemble as accurate on validation as the best candidate alone beats it when its log-loss is lower by at
// least this share: on small validation sets (iris: 34 samples) many trials get every sample right, and
// accuracy alone cannot tell a network that is sure of its answers from one that barely is; the average of
// several is the surer (and, averaging networks trained apart, the one that generalises more often).
constexpr double k_ensemble_log_loss_gain = 0.05;
// Beating the best alone on validation is not enough: selection among ~20 candidates over the same samples finds
// combinations that get a few more of them right by chance. In three 2000 s searches of the Optuna chapter's
// ConvNets the exported ensembles got 7-9 more of MNIST's 6000 validation images right than their best member, and
// 6-14 fewer of the 10,000 test images (98.99-99.01% against 99.07-99.14%). So the choice is also made on all but
// one of this many folds of the validation set and judged on the fold left out (export_::compare_held_out): the
// ensemble is kept only when, summed over the folds, it gets more of the held-out samples right than the best
// trial alone chosen the same way (or as many with a log-loss lower by k_ensemble_log_loss_gain), see
// gain_holds_out. Validation sets of fewer than 4 samples are not split.
constexpr int k_ensemble_held_out_folds = 5;
// More held-out samples right is not enough when the held-out log-loss is worse: in a fourth such search the
// selection put 37.5% of the weight on a 3-epoch trial at 60% validation accuracy whose nearly flat probabilities
// tipped a few close calls; held out, the ensemble got 5945 of 6000 right against 5944 for the best trial alone,
// with a log-loss of 0.197 against 0.029 (test: 98.98% against 99.11%). Then the gain must be significant: at
// least this many standard errors of a sign test over the held-out samples on which exactly one of the two is right.
constexpr double k_ensemble_significant_gain = 2.0;
// Whether the held-out comparison supports the ensemble: more samples right, with a log-loss no worse or by a
// significant margin (k_ensemble_significant_gain); or as many right, with a log-loss lower by
// k_ensemble_log_loss_gain.
bool gain_holds_out(const export_::HeldOutComparison& h);
// The rule without the significance clause: `correct` samples right at `log_loss` beat `alone_correct` at
// `alone_log_loss` when more are right with a log-loss no worse, or as many with a log-loss lower by
// k_ensemble_log_loss_gain. gain_holds_out is this, or a significant gain; the incumbent's seeds are kept by this.
bool beats_alone(std::int64_t correct, double log_loss, std::int64_t alone_correct, double alone_log_loss);
// Margin on the measured evaluation pace of the members.
constexpr double k_ensemble_safety = 1.5;
// Validation samples each member's pace is measured on.
constexpr std::int64_t k_ensemble_pace_samples = 512;

struct EnsembleExport {
  nlohmann::json description;   // members (trial, configuration, budget, weight, validation accuracy), whole
  std::string architecture;     // the members' printouts, each with its weight
  double val_accuracy = 0;
  std::vector<std::int64_t> member_ids;
  // The members' modules and weights, heaviest first (as member_ids): export_::ensemble_of puts them together
  // (forward(x) -> log of the weighted average probability) once the refit (commands/search_refit.hpp), if any,
  // has swapped members for their refit models.
  std::vector<torch::jit::Module> members;
  std::vector<double> weights;
};

// The time the export keeps for its evaluations (the test set, the export's check) grows with an ensemble,
// whose members each evaluate them: without one kept for them, an ensemble of networks that take seconds to
// evaluate could never be exported (a 2000 s search of the Optuna chapter's ConvNets ended with 32.7 s for two
// members that needed about 22 s each). With --ensemble-size >= 2 the export keeps time for this many models...
constexpr int k_ensemble_reserve_members = 4;
// ... the extra members' part at most this share of the budget (the search gives it up).
constexpr double k_ensemble_reserve_share = 0.05;

// Seconds kept for the export's evaluations: `one_model_s` (one model's, with its margin) for a single model
// (`ensemble_size` 0 or 1), or for min(ensemble_size, k_ensemble_reserve_members) models, the extra ones' part at
// most k_ensemble_reserve_share x `budget_s`.
double export_evaluation_seconds(double one_model_s, int ensemble_size, double budget_s);

// Candidates: COMPLETE trials, and trials cut at the deadline and evaluated there, whose checkpoint holds
// probabilities for all of `validation`. Ensemble selection ("method": "selection") is kept when the selected
// ensemble has two members or more and beats the best single candidate on validation (more samples right, or as
// many with a log-loss lower by k_ensemble_log_loss_gain), on the whole set and on held-out folds
// (k_ensemble_held_out_folds), with at least two members that can be evaluated in time; the description's
// "held_out" records the folds' comparison (null when the set was not split). Otherwise the seeds ("method":
// "seeds"): the incumbent (`settings.incumbent_id`) and the candidates of its configuration on its budget (its seed
// replicas, exec/search.hpp), with equal weights, kept when they beat the incumbent alone on the whole validation
// set by the same rule. Nothing is chosen there, so there is nothing to hold out: the one choice, the incumbent,
// is the best alone on these samples, which favours it ("held_out" is null). Otherwise the peers ("method":
// "peers"), when another candidate on the incumbent's budget is exactly as accurate on validation: the incumbent
// and the candidates on its budget within one standard error of its validation accuracy (at least one sample),
// the most accurate first (then the lowest log-loss), at most `settings.size`, with equal weights, whatever their
// average scores on validation: where validation cannot tell them apart, exporting the one with the lowest id
// picks one by chance (see below). None, with the reasons in `why`, when none of the three applies or fewer
// than two candidates qualify.
// Why the peers: in nine 120 s tiny_cs searches of bench/tabular (iris, wine, breast_cancer, seeds 0-2) that kept
// every checkpoint, the incumbent tied with 1-11 other trials on the top rung on validation in eight. Exporting, in
// each, the tied trial with the lowest id got 659 of the 678 test samples right over the nine; the one with the
// lowest validation log-loss 664; the equal average of the tied trials 662; that of the trials within one standard
// error (at least one sample) 664 (wine: 132, 134, 134, 134 of 135). In three iris searches before: 109, 109, 111
// and 112 of 114.
std::optional<EnsembleExport> choose_ensemble(study::Storage& storage, const std::vector<study::Trial>& trials,
                                              const data::Dataset& validation, const EnsembleSettings& settings,
                                              std::string& why);

} // namespace automl::commands
