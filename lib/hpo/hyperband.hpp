#pragma once
// The Hyperband schedule as pure functions (Li et al. 2018, as implemented by HpBandSter): budgets anchored at
// max_budget, bracket sizes, successive halving, brackets cycling from the most to the least aggressive.
// Budgets are in the caller's unit (epochs, seconds, draws); nothing here knows what a budget means.

#include <cstddef>
#include <vector>

namespace automl::hpo {

// Example: HyperbandOptions hb; hb.eta = 3; hb.min_budget = 1; hb.max_budget = 9;
struct HyperbandOptions {
  double eta = 3.0;        // keep the best 1/eta of each rung, multiply the budget by eta
  double min_budget = 1.0; // smallest budget a configuration is evaluated on; > 0
  double max_budget = 9.0; // largest budget; >= min_budget
  // Anytime: the study's first configuration (iteration 0, slot 0: the space's default, which a search measures
  // before it starts) goes on up the rungs whose budget is at most this as soon as it has finished each, without
  // waiting for the rest of its rung (hpo/bracket.hpp). 0: never; it then waits like the others.
  double early_budget = 0.0;
  // Portfolio entries (iteration 0, slots 1 to early_portfolio: the configurations a study tries first, after the
  // default) go on the same way up to every rung, the largest included: for a space whose entries are known to do
  // well when trained fully (config::BudgetConfig::portfolio_to_largest_rung). 0: none.
  std::size_t early_portfolio = 0;
};

// Throws InputError naming the field when eta <= 1, min_budget <= 0 or max_budget < min_budget.
void validate(const HyperbandOptions& options);

// Number of successive-halving rungs of the most aggressive bracket:
// floor(-log(min/max) / log(eta)) + 1.
std::size_t max_sh_iterations(const HyperbandOptions& options);

// All budgets, ascending: max_budget * eta^-k for k = max_sh_iterations-1 .. 0. The smallest one may be above
// min_budget (the ladder is anchored at max_budget, as in HpBandSter).
std::vector<double> hyperband_budgets(const HyperbandOptions& options);

// One bracket (one Hyperband iteration): how many configurations each rung holds and their budget.
struct BracketShape {
  std::size_t s = 0;               // aggressiveness: s + 1 rungs
  std::vector<std::size_t> sizes;  // rung sizes, n0 first
  std::vector<double> budgets;     // rung budgets, ascending, the last is max_budget
};

// The bracket of Hyperband iteration `iteration` (0, 1, 2, ...): s = s_max - (iteration mod (s_max + 1)),
// n0 = floor((s_max + 1) / (s + 1)) * eta^s, n_i = max(floor(n0 * eta^-i), 1).
BracketShape hyperband_bracket(const HyperbandOptions& options, std::size_t iteration);

// Successive halving: how many of `ranked` configurations (best first) go on to the next rung of size
// `next_size`. Configurations that failed are never promoted, so fewer may go on than the rung holds.
std::size_t promoted_count(std::size_t next_size, std::size_t finished_without_failure);

// Which schedule an optimizer runs on: Hyperband brackets, or every trial once at max_budget (random search).
class BracketSchedule {
public:
  static BracketSchedule hyperband(const HyperbandOptions& options);
  static BracketSchedule full_budget(const HyperbandOptions& options);

  BracketShape bracket(std::size_t iteration) const;
  const HyperbandOptions& options() const { return m_options; }
  bool is_hyperband() const { return m_hyperband; }

private:
  BracketSchedule(const HyperbandOptions& options, bool hyperband);
  HyperbandOptions m_options;
  bool m_hyperband;
};

} // namespace automl::hpo
