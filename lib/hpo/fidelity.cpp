#include "hpo/fidelity.hpp"

#include "hpo/hyperband.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>

namespace automl::hpo {
namespace {

constexpr double k_slack = 1e-9;

std::string budget_text(double b, bool time_budget) {
  return time_budget ? fmt::format("{:.3g} s", b) : fmt::format("{:.3g} epochs", b);
}

// The smallest rung: the budget on the ladder max * eta^-k (Hyperband anchors its rungs at max_budget) nearest
// to `target` from above, but not below `floor`.
double ladder_min(double max_budget, double eta, double target, double floor) {
  target = std::max(target, floor);
  if (target >= max_budget) return max_budget;
  const double steps_to_target = std::ceil(std::log(max_budget / target) / std::log(eta) - k_slack);
  const double steps_to_floor = std::floor(std::log(max_budget / floor) / std::log(eta) + k_slack);
  return max_budget * std::pow(eta, -std::max(0.0, std::min(steps_to_target, steps_to_floor)));
}

// The largest budget whose trial (at `safety` times the measured pace) ends within `seconds`; 0 when none.
double budget_within(const TrialPace& pace, double seconds, double safety) {
  // The whole validation pass: the one rung that takes what the time allows is validated on the whole set.
  const double usable = seconds / safety - pace.setup_seconds - (pace.time_budget ? 0.0 : pace.eval_seconds);
  if (usable <= 0) return 0;
  return pace.time_budget ? usable : usable / pace.epoch_seconds;
}

} // namespace

double TrialPace::seconds(double budget, double from) const {
  if (time_budget) return setup_seconds + std::max(0.0, budget - from);
  const double evals = std::max(1.0, std::ceil(budget - k_slack) - std::ceil(from - k_slack));
  const double share = budget >= std::min(full_eval_budget, 1.0) * (1 - k_slack)
                           ? 1.0
                           : std::clamp(budget, std::min(min_eval_fraction, 1.0), 1.0);
  return setup_seconds + std::max(0.0, budget - from) * epoch_seconds + evals * eval_seconds * share;
}

TrialPace TrialPace::with_largest_rung(double max_budget) const {
  TrialPace p = *this;
  p.full_eval_budget = std::min(p.full_eval_budget, max_budget);
  return p;
}

namespace {

// Sampled configurations are slower than the default on average (TrialPace::typical): training and validation.
TrialPace typical(const TrialPace& measured, double max_budget) {
  TrialPace pace = measured.with_largest_rung(max_budget);
  pace.epoch_seconds *= measured.typical;
  pace.eval_seconds *= measured.typical;
  return pace;
}

double bracket_seconds(const TrialPace& pace, const BracketShape& shape) {
  double total = 0;
  for (std::size_t r = 0; r < shape.sizes.size(); ++r)
    total += static_cast<double>(shape.sizes[r]) * pace.seconds(shape.budgets[r], r ? shape.budgets[r - 1] : 0.0);
  return total;
}

HyperbandOptions rungs(double eta, double min_budget, double max_budget) {
  HyperbandOptions options;
  options.eta = eta;
  options.min_budget = min_budget;
  options.max_budget = max_budget;
  return options;
}

} // namespace

double cycle_seconds(const TrialPace& measured, double eta, double min_budget, double max_budget, bool hyperband) {
  const TrialPace pace = typical(measured, max_budget);
  if (!hyperband) return pace.seconds(max_budget);
  const auto options = rungs(eta, min_budget, max_budget);
  double total = 0;
  for (std::size_t it = 0; it < max_sh_iterations(options); ++it) total += bracket_seconds(pace, hyperband_bracket(options, it));
  return total;
}

double first_bracket_seconds(const TrialPace& measured, double eta, double min_budget, double max_budget) {
  return bracket_seconds(typical(measured, max_budget), hyperband_bracket(rungs(eta, min_budget, max_budget), 0));
}

FidelityPlan plan_fidelity(const FidelityInputs& in) {
  const TrialPace& pace = in.pace;
  const bool t = pace.time_budget;
  const double capacity = in.search_seconds * static_cast<double>(std::max<std::size_t>(1, in.workers));
  const double floor = in.min_fixed ? in.min_budget : std::min(in.smallest_budget, in.min_budget);
  FidelityPlan plan;

  // Not even the smallest step of the first configuration fits: say what would.
  const double smallest_seconds = pace.seconds(floor);
  if (smallest_seconds > in.search_seconds) {
    plan.fits = false;
    plan.min_budget = floor;
    plan.first_trial_seconds = smallest_seconds;
    const double within = budget_within(pace, in.search_seconds, 1.0);
    plan.reason = fmt::format(
        "the smallest trial ({}) takes about {:.1f} s at the measured pace, and {}; it needs about {:.0f} s more of "
        "--budget{}",
        budget_text(floor, t), smallest_seconds,
        in.search_seconds > 0 ? fmt::format("the search has {:.1f} s", in.search_seconds)
                              : std::string("setting up and measuring the pace used all of the search's time"),
        std::ceil(smallest_seconds - in.search_seconds),
        in.min_fixed && within > 0 ? fmt::format(", or --min-budget {:.3g} or less", within) : "");
    return plan;
  }

  // The smallest budget for a given largest one: the preset's ratio, or less so that the first model comes early.
  const double first_target = budget_within(pace, k_first_model_share * in.search_seconds, k_pace_safety);
  const auto min_for = [&](double max_budget) {
    if (in.min_fixed) return std::min(in.min_budget, max_budget);
    const double kept_ratio = in.min_budget * max_budget / in.max_budget;
    return ladder_min(max_budget, in.eta, std::min(kept_ratio, first_target), std::min(floor, max_budget));
  };

  double max_budget = in.max_budget;
  double min_budget = min_for(max_budget);
  double cycle = cycle_seconds(pace, in.eta, min_budget, max_budget, in.hyperband);
  bool first_bracket_only = false; // a largest rung whose first bracket fits, not a whole cycle (k_first_bracket_share)
  if (!in.max_fixed) {
    const double lowest = in.min_fixed ? in.min_budget : floor;
    const auto top_trial_too_long = [&](double top) {
      return pace.with_largest_rung(top).seconds(top) > k_max_trial_share * in.search_seconds;
    };
    const auto too_large = [&] { return cycle > capacity || top_trial_too_long(max_budget); };
    while (too_large() && max_budget / in.eta >= lowest * (1 - k_slack)) {
      max_budget /= in.eta;
      min_budget = min_for(max_budget);
      cycle = cycle_seconds(pace, in.eta, min_budget, max_budget, in.hyperband);
    }
    // Up the ladder again, to the preset's largest at most, while the first bracket fits (k_first_bracket_share).
    if (!t && in.hyperband && !in.min_fixed && in.eta > 1) {
      for (double up = max_budget * in.eta; up <= in.max_budget * (1 + k_slack); up *= in.eta) {
        const double min_up = min_for(up);
        if (min_up >= up * (1 - k_slack) || first_bracket_seconds(pace, in.eta, min_up, up) > k_first_bracket_share * capacity ||
            top_trial_too_long(up))
          break;
        max_budget = up;
        min_budget = min_up;
        first_bracket_only = true;
      }
      if (first_bracket_only) cycle = cycle_seconds(pace, in.eta, min_budget, max_budget, in.hyperband);
    }
    if (!in.min_fixed && !first_bracket_only && (too_large() || min_budget >= max_budget * (1 - k_slack))) {
      // One rung (the bottom of the ladder, or below it): as large as the time allows, up to the preset's.
      max_budget = min_budget = std::min(
          in.max_budget, std::max(floor, budget_within(pace, k_max_trial_share * in.search_seconds, 1.0)));
      cycle = cycle_seconds(pace, in.eta, min_budget, max_budget, in.hyperband);
    }
  }
  bool grown = false; // k_top_rung_samples
  if (!in.max_fixed && !in.min_fixed && !t && in.train_samples > 0 && in.eta > 1 &&
      max_budget >= in.max_budget * (1 - k_slack)) {
    while (max_budget * in.train_samples < k_top_rung_samples) {
      const double larger_cycle = cycle_seconds(pace, in.eta, min_budget * in.eta, max_budget * in.eta, in.hyperband);
      if (larger_cycle * k_growth_cycles > capacity) break;
      max_budget *= in.eta;
      min_budget *= in.eta;
      cycle = larger_cycle;
      grown = true;
    }
  }
  plan.min_budget = min_budget;
  plan.max_budget = max_budget;
  plan.first_trial_seconds = pace.with_largest_rung(max_budget).seconds(min_budget);
  plan.cycle_seconds = cycle;
  const bool changed = std::abs(min_budget - in.min_budget) > k_slack * in.min_budget ||
                       std::abs(max_budget - in.max_budget) > k_slack * in.max_budget;
  plan.reason = fmt::format("trial budgets {}-{}{}: the first trial takes about {:.1f} s, one Hyperband cycle about "
                            "{:.0f} of the {:.0f} worker-seconds{} (at {:g}x the first configuration's pace)",
                            budget_text(min_budget, t), budget_text(max_budget, t),
                            changed ? fmt::format(" (the preset's {}-{} {})", budget_text(in.min_budget, t),
                                                  budget_text(in.max_budget, t),
                                                  grown ? fmt::format("grown: an epoch is {:g} samples", in.train_samples)
                                                        : "scaled to the time")
                                    : "",
                            plan.first_trial_seconds, cycle, capacity,
                            first_bracket_only ? fmt::format(", its first bracket about {:.0f}: a larger top rung than a whole cycle allows",
                                                             first_bracket_seconds(pace, in.eta, min_budget, max_budget))
                                               : "",
                            pace.typical);
  return plan;
}

double early_budget_in_epochs(double eta, double min_budget, double max_budget) {
  HyperbandOptions options;
  options.eta = eta;
  options.min_budget = min_budget;
  options.max_budget = max_budget;
  const auto budgets = hyperband_budgets(options);
  if (budgets.size() < 2 || budgets.front() >= 1 - k_slack) return 0.0;
  const auto one = std::find_if(budgets.begin(), budgets.end(), [](double b) { return b >= 1 - k_slack; });
  if (one == budgets.end()) return budgets.back();
  return std::next(one) == budgets.end() ? *one : *std::next(one);
}

bool portfolio_entry_fits(double seconds_to_largest_rung, double search_seconds, std::size_t workers) {
  return seconds_to_largest_rung <= k_portfolio_share * search_seconds * static_cast<double>(workers);
}

} // namespace automl::hpo
