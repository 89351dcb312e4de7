#pragma once
// Successive-halving bookkeeping rebuilt from the job records alone (the store is the truth): given every job
// of a study, which one runs next. Asynchronous as in HpBandSter: iterations are scanned oldest first and the
// first runnable job wins; a new iteration starts only when no started one has anything runnable.
// Pure functions; no I/O, no clock.

#include "hpo/hyperband.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace automl::hpo {

enum class JobStatus {
  running,     // being evaluated by a live worker
  finished,    // evaluated, has a loss
  failed,      // evaluation failed; counts as +inf, never promoted
  interrupted, // its worker died or the search stopped it before its budget: to be run again
};

// One job: configuration `slot` of Hyperband iteration `iteration`, on rung `rung`.
struct JobRecord {
  std::int64_t id = 0;
  std::size_t iteration = 0;
  std::size_t rung = 0;
  std::size_t slot = 0;
  double budget = 0.0;
  double cost = 0.0; // budget units this job spends (the increment over its parent when it continues training)
  double loss = 0.0; // meaningful when finished
  JobStatus status = JobStatus::running;
};

struct PlannedJob;

struct PlanLimits {
  std::optional<std::size_t> max_iterations; // no new iteration once this many have started
  std::optional<double> max_total_cost;      // no new job once the costs of all jobs would exceed this
  bool continue_promoted = true;             // a promoted job costs budget - parent budget, else budget
  // Whether a job can still finish in the time left (the caller's estimate); empty: every job can. A job that
  // cannot is passed over: the oldest iteration with an affordable job wins, else a new iteration whose bracket
  // starts on a budget that fits (iterations whose brackets start too high are skipped for good). HpBandSter
  // would stop instead and leave the rest of the time unused.
  std::function<bool(const PlannedJob&)> affordable;
};

struct PlannedJob {
  enum class Kind {
    rerun,      // run job `rerun_id` again (interrupted)
    new_config, // a new configuration: rung 0 of `iteration`, in `slot` (ask the generator)
    promote,    // configuration `slot` of `iteration` goes on to `rung`, continuing from job `parent_id`
    wait,       // nothing runnable until a running job finishes
    done,       // nothing left: the limits are reached and nothing is running
    out_of_time, // nothing running, and every runnable job is too large for the time left (PlanLimits::affordable)
  };
  Kind kind = Kind::done;
  std::int64_t rerun_id = 0;
  std::int64_t parent_id = 0;
  std::size_t iteration = 0;
  std::size_t rung = 0;
  std::size_t slot = 0;
  std::size_t bracket = 0; // s of the iteration's bracket
  double budget = 0.0;
  double cost = 0.0;
};

// The next job. Interrupted jobs come first (lowest id), then the oldest iteration with a runnable job: a missing
// rung-0 configuration, or, once a rung has finished, the best not-yet-promoted configurations by (loss, slot).
// Anytime (HyperbandOptions::early_budget): in iteration 0, slot 0 goes on to the next rung as soon as it has
// finished, while its rung is still running, up to the rungs of at most early_budget; that job comes before the
// iteration's other jobs. When its rung has finished and does not rank it among the configurations it promotes,
// that early job is one more on the rung above, not one of its promotions (with a deadline, a substitute
// promotion of slot 0 on those rungs counts as such an extra job too). Slots 1 to early_portfolio (the portfolio's
// entries) go on in the same way up to every rung, the largest included; due early jobs go lowest slot first.
PlannedJob plan_next_job(const BracketSchedule& schedule, const std::vector<JobRecord>& jobs, const PlanLimits& limits);

// How many iterations (brackets) have every job of every rung finished or failed, with nothing left to promote.
std::size_t finished_iterations(const BracketSchedule& schedule, const std::vector<JobRecord>& jobs);

// The finished (or failed) jobs that no job of their iteration will continue from, so that their checkpoints
// serve only as models: those on their bracket's last rung; those whose promotion (the same slot one rung up)
// has finished or failed; and those their rung did not promote, once it has finished and the rung above holds
// every promotion it makes. Ids in the order of `jobs`.
std::vector<std::int64_t> jobs_nothing_continues_from(const BracketSchedule& schedule, const std::vector<JobRecord>& jobs);

} // namespace automl::hpo
