#pragma once
// Anytime rungs: the Hyperband budgets a search can afford, from its time, its workers and the pace measured at
// its start. The preset's rungs are kept when the time allows them; otherwise the largest budget comes down the
// preset's own ladder (max_budget * eta^-j) until one whole Hyperband cycle (every bracket once) fits in the
// search's worker-seconds, then goes back up while the cycle's first bracket alone fits in a share of them
// (k_first_bracket_share), and the smallest budget shrinks (fractions of an epoch: a promoted configuration
// continues on more of the data) so that the first models exist within a small share of the time. When that
// leaves one rung (or not even the bottom of the ladder allows a cycle), the rung is the largest budget whose
// trial takes k_max_trial_share of the time, up to the preset's largest (random search on the budget the time
// allows). Budgets that a flag fixed are kept as they are. Pure functions.

#include <cstddef>
#include <string>

namespace automl::hpo {

// What one trial costs, in seconds: building it (network, preprocessing, checkpoint), training, and its
// validation passes (one after each epoch and one at its end).
struct TrialPace {
  double setup_seconds = 0;  // per trial
  double epoch_seconds = 0;  // one epoch of training of a typical configuration on one worker, > 0
  double eval_seconds = 0;   // one validation pass over the whole validation set
  bool time_budget = false;  // budgets are seconds of training (validation included, as the trainer counts them)
  // Trials below `full_eval_budget` (at most 1 epoch: the largest rung when it is smaller) are validated on a
  // share of the validation set in proportion to their budget, at least `min_eval_fraction` of it (1: always the
  // whole set). See commands/search.cpp, ValidationSubsets.
  double min_eval_fraction = 1;
  double full_eval_budget = 1;
  // Sampled configurations take this many times the measured (the default's) time on average: a cycle is
  // costed with it (k_typical_pace unless the preset says, budget.typical_pace).
  double typical = 4.0;

  // Seconds a trial of `budget` takes from scratch; `from` > 0: the increment of a promoted trial that continues
  // from a checkpoint at budget `from`.
  double seconds(double budget, double from = 0) const;
  // This pace in a search whose largest rung is `max_budget` (validated on the whole set).
  TrialPace with_largest_rung(double max_budget) const;
};

// Example: FidelityInputs in; in.search_seconds = 540; in.workers = 2; in.pace = {1.0, 4.0, 0.5};
//          in.min_budget = 1; in.max_budget = 27; in.eta = 3; in.smallest_budget = 0.05;
struct FidelityInputs {
  double search_seconds = 0;      // time for the trials
  std::size_t workers = 1;
  TrialPace pace;                 // measured on the study's first configuration (the space's default)
  double min_budget = 1, max_budget = 27, eta = 3; // the preset's (or the flags') budgets
  bool min_fixed = false, max_fixed = false;        // set by a flag: kept as given
  double smallest_budget = 0;     // below this a trial learns too little to rank configurations (> 0)
  bool hyperband = true;          // false: every trial runs at max_budget (random search)
  double train_samples = 0;       // samples in an epoch (0: unknown; the rungs then never grow)
};

struct FidelityPlan {
  bool fits = true;             // the smallest trial fits in the search's time
  double min_budget = 0, max_budget = 0;
  double first_trial_seconds = 0; // estimate for the first trial (on the smallest rung)
  double cycle_seconds = 0;       // estimate for one Hyperband cycle, in worker-seconds
  std::string reason;             // for the log; when !fits, what would fit
};

// The first model should exist within this share of the search's time...
constexpr double k_first_model_share = 0.15;
// ...at this many times its measured pace (measurements on a few batches are noisy, and other processes come
// and go).
constexpr double k_pace_safety = 2.0;
// A Hyperband cycle is costed at this many times the first configuration's pace: the space's default is a
// middling configuration, and the sampled ones vary a hundredfold (tiny_cs: 10-1024 units, 1-9 groups of 1-4
// blocks). Measured here on flattened MNIST: the 27 configurations of a first bracket took on average 5 to 10
// times the default's time on the same budget; a handful of sampled configurations measured at the start said
// less than that (one giant among them, or none).
constexpr double k_typical_pace = 4.0;
static_assert(k_typical_pace == TrialPace{}.typical);
// A trial on the largest rung takes at most this share of the search's time (the rest is slack for a pace that
// turns out slower than measured: a trial cut at the deadline gives no model).
constexpr double k_max_trial_share = 0.85;

// A search too short for a whole cycle at a rung still gets that rung (one step up the ladder at a time, to the
// preset's largest at most) when the cycle's first bracket (the one that starts on the smallest rung and promotes
// one configuration to the top) fits in this share of its worker-seconds; the rest of the time runs the next
// brackets as far as they get. A trial that the deadline cuts on the top rung is evaluated there. The larger top
// rung gives the better model: on flattened MNIST, 90 s with a core busy, 92-93% at 1/3 epoch, 95-96% at one
// epoch; in the Optuna chapter's ConvNet space (bench/seed_exercises (b), 2000 s on 2 cores), the same
// configuration scored 99.05-99.07% test trained 3 epochs (a whole cycle of 1/9-3 epochs fits) and 99.29% trained
// 9 (the first bracket of 1/3-9 epochs, about half of the worker-seconds).
constexpr double k_first_bracket_share = 0.6;

// Small data: an epoch is a few optimizer steps (78 training rows of iris, batch 125: one), and the preset's
// largest rung (27 epochs) stops training long before the network has learned. When the time allows
// k_growth_cycles whole Hyperband cycles at the larger rungs, both budgets grow by eta (the preset's ratio kept)
// until the largest rung trains on at least k_top_rung_samples samples. Epoch budgets only, none fixed by a flag.
// Measured on iris (bench/tabular seed 0, 30 s): rungs 1-27 epochs gave 92.1% test accuracy, 27-729 (as flags) 97.4%.
constexpr double k_top_rung_samples = 100000;
constexpr double k_growth_cycles = 5;

// Worker-seconds of the first (most aggressive) Hyperband bracket, costed as cycle_seconds() costs a cycle.
double first_bracket_seconds(const TrialPace& measured, double eta, double min_budget, double max_budget);

FidelityPlan plan_fidelity(const FidelityInputs& in);

// A portfolio configuration (config/preset.hpp) goes into a search only when training it from scratch to the
// largest rung, at its own measured pace, takes at most this share of the search's worker-seconds: a
// configuration that alone would take more cannot be one of the several that a Hyperband cycle carries to the
// top, and in a short search it would hold the only worker while smaller configurations could have finished. A
// third, not a quarter: convnet_optuna's entry takes about 1100 of the 3940 worker-seconds of a 2000 s search on
// 2 cores to reach 9 epochs (28%), as any of its deeper sampled networks does; in a 90 s search the entries that
// the rule is for need several times the search.
constexpr double k_portfolio_share = 1.0 / 3.0;
bool portfolio_entry_fits(double seconds_to_largest_rung, double search_seconds, std::size_t workers);

// Anytime, for budgets in epochs: the space's default (the study's first configuration, measured before the search)
// goes on from its first rung, as soon as it has finished and without waiting for the rest of its rung, to the rung
// above the smallest rung of at least one epoch (that rung itself when it is the top; the top rung when all are
// below one) (HyperbandOptions::early_budget). The first bracket's smallest rung holds 27 configurations on a
// preset's ladder of four rungs, and the search would otherwise have no model trained on all of the data until all
// of them had run: in the Optuna chapter's ConvNet space on MNIST (2 workers), the first one-epoch trial ended
// after 267 s, when the default trains an epoch in about 75 s and reaches 98.1% test accuracy (`automl train`,
// 1 thread). One epoch is not always enough: in two 2000 s searches of that space its one-epoch model scored
// 97.99%, one test image short of 98%, and the next model came after 628 s; trained 3 epochs early (a lower rung
// of the 9-epoch ladder) it scored 98.74% test after 98.7 s. 0 (none) when the first rung is one epoch or more.
double early_budget_in_epochs(double eta, double min_budget, double max_budget);

// Worker-seconds of one Hyperband cycle (each bracket once, promotions continuing from their checkpoints), for
// configurations `pace.typical` times slower than `pace`.
double cycle_seconds(const TrialPace& pace, double eta, double min_budget, double max_budget, bool hyperband);

} // namespace automl::hpo
