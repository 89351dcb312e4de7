#include "hpo/bracket.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

namespace automl::hpo {
namespace {

// The state of one iteration: what it would run next, or whether it is finished or blocked.
struct IterationScan {
  bool finished = false;
  std::optional<PlannedJob> next;
};

using Rungs = std::vector<std::vector<const JobRecord*>>;

Rungs rungs_of(const BracketShape& shape, const std::vector<const JobRecord*>& jobs) {
  Rungs rungs(shape.sizes.size());
  for (const JobRecord* job : jobs)
    if (job->rung < rungs.size()) rungs[job->rung].push_back(job);
  return rungs;
}

bool ended(const JobRecord* j) { return j->status == JobStatus::finished || j->status == JobStatus::failed; }

const JobRecord* job_of_slot(const std::vector<const JobRecord*>& rung, std::size_t slot) {
  const auto it = std::find_if(rung.begin(), rung.end(), [&](const JobRecord* j) { return j->slot == slot; });
  return it == rung.end() ? nullptr : *it;
}

// A rung's finished jobs, best first by (loss, slot): the order it promotes in.
std::vector<const JobRecord*> ranked(const std::vector<const JobRecord*>& rung) {
  std::vector<const JobRecord*> result;
  for (const JobRecord* j : rung)
    if (j->status == JobStatus::finished) result.push_back(j);
  std::sort(result.begin(), result.end(), [](const JobRecord* a, const JobRecord* b) {
    return a->loss != b->loss ? a->loss < b->loss : a->slot < b->slot;
  });
  return result;
}

// The largest budget that configuration `slot` of iteration 0 goes on to early (HyperbandOptions::early_budget for
// the default, every rung for the portfolio's entries in HyperbandOptions::early_portfolio); 0: none.
double early_limit(const HyperbandOptions& options, std::size_t slot) {
  if (slot == 0) return options.early_budget;
  return slot <= options.early_portfolio ? std::numeric_limits<double>::infinity() : 0.0;
}

// Whether rung `up` of `iteration` may hold configuration `slot` as an early promotion.
bool early_rung(const BracketSchedule& schedule, const BracketShape& shape, std::size_t iteration, std::size_t up,
                std::size_t slot) {
  const double early = early_limit(schedule.options(), slot);
  return iteration == 0 && early > 0 && up > 0 && up < shape.budgets.size() && shape.budgets[up] <= early * (1 + 1e-9);
}

// How many of rung r's promotions rung r + 1 holds (substitutes included): its jobs, less the early jobs of the
// configurations that the finished rung r does not rank among the `promoted` best.
std::size_t promotions_held(const BracketSchedule& schedule, const BracketShape& shape, std::size_t iteration,
                            const Rungs& rungs, std::size_t r, const std::vector<const JobRecord*>& best,
                            std::size_t promoted) {
  const auto top_end = best.begin() + static_cast<std::ptrdiff_t>(std::min(promoted, best.size()));
  std::size_t held = 0;
  for (const JobRecord* job : rungs[r + 1]) {
    const bool ranked_up = std::any_of(best.begin(), top_end, [&](const JobRecord* j) { return j->slot == job->slot; });
    if (ranked_up || !early_rung(schedule, shape, iteration, r + 1, job->slot)) ++held;
  }
  return held;
}

// The early promotions that are due, lowest slot first: a configuration that goes on early finished on its
// highest rung r, which has not finished yet, and the rung above is one it goes on to early.
std::vector<PlannedJob> early_promotions(const BracketSchedule& schedule, const BracketShape& shape,
                                         std::size_t iteration, const Rungs& rungs, bool continue_promoted) {
  std::vector<PlannedJob> due;
  if (iteration != 0) return due;
  const std::size_t last_slot = std::min(schedule.options().early_portfolio, shape.sizes[0] - 1);
  for (std::size_t slot = 0; slot <= last_slot; ++slot) {
    const JobRecord* top = nullptr;
    for (const auto& rung : rungs) {
      const JobRecord* job = job_of_slot(rung, slot);
      if (!job) break;
      top = job;
    }
    if (!top || top->status != JobStatus::finished || !std::isfinite(top->loss)) continue;
    const std::size_t r = top->rung;
    if (!early_rung(schedule, shape, iteration, r + 1, slot)) continue;
    const bool rung_ended = rungs[r].size() >= shape.sizes[r] && std::all_of(rungs[r].begin(), rungs[r].end(), ended);
    if (rung_ended) continue; // the rung's own ranking decides now
    PlannedJob job;
    job.kind = PlannedJob::Kind::promote;
    job.iteration = iteration;
    job.rung = r + 1;
    job.slot = slot;
    job.bracket = shape.s;
    job.parent_id = top->id;
    job.budget = shape.budgets[r + 1];
    job.cost = continue_promoted ? shape.budgets[r + 1] - top->budget : shape.budgets[r + 1];
    due.push_back(job);
  }
  return due;
}

// `affordable` (may be empty): among the configurations a rung promotes, the best one that can still finish is
// offered (a slow configuration at the top of the ranking does not hold back the others); when none can, the
// best-ranked one below them that can (a substitute, until the rung above holds as many as it promotes); when
// none at all can, the best one, for the caller to pass over.
IterationScan scan_iteration(const BracketSchedule& schedule, std::size_t iteration,
                             const std::vector<const JobRecord*>& jobs, bool continue_promoted,
                             const std::function<bool(const PlannedJob&)>& affordable = {}) {
  const BracketShape shape = schedule.bracket(iteration);
  const Rungs rungs = rungs_of(shape, jobs);

  IterationScan scan;
  for (const PlannedJob& early : early_promotions(schedule, shape, iteration, rungs, continue_promoted)) {
    if (!affordable || affordable(early)) {
      scan.next = early;
      return scan;
    }
  }
  if (rungs[0].size() < shape.sizes[0]) {
    PlannedJob job;
    job.kind = PlannedJob::Kind::new_config;
    job.iteration = iteration;
    job.rung = 0;
    job.slot = rungs[0].size();
    job.bracket = shape.s;
    job.budget = shape.budgets[0];
    job.cost = shape.budgets[0];
    scan.next = job;
    return scan;
  }
  for (std::size_t r = 0; r < rungs.size(); ++r) {
    if (!std::all_of(rungs[r].begin(), rungs[r].end(), ended)) return scan; // blocked until the rung finishes
    if (r + 1 == rungs.size()) {
      scan.finished = true;
      return scan;
    }
    std::vector<const JobRecord*> best = ranked(rungs[r]);
    const std::size_t promoted = promoted_count(shape.sizes[r + 1], best.size());
    if (promoted == 0) {
      scan.finished = true;
      return scan;
    }
    // The rung above holds what was promoted (a substitute included): on to it.
    if (promotions_held(schedule, shape, iteration, rungs, r, best, promoted) >= promoted) continue;
    // When none of the configurations the rung promotes can finish in the time left, the best-ranked one below
    // them that can goes instead (a substitute): with a deadline, a slow configuration that cannot reach the top
    // rung would otherwise leave it empty, and the search's best model a rung lower.
    if (!affordable) best.resize(promoted);
    for (std::size_t k = 0; k < best.size(); ++k) {
      const JobRecord* candidate = best[k];
      if (k >= promoted && !std::isfinite(candidate->loss)) break;
      if (job_of_slot(rungs[r + 1], candidate->slot)) continue;
      PlannedJob job;
      job.kind = PlannedJob::Kind::promote;
      job.iteration = iteration;
      job.rung = r + 1;
      job.slot = candidate->slot;
      job.bracket = shape.s;
      job.parent_id = candidate->id;
      job.budget = shape.budgets[r + 1];
      job.cost = continue_promoted ? shape.budgets[r + 1] - candidate->budget : shape.budgets[r + 1];
      if (!scan.next) scan.next = job;
      if (!affordable || affordable(job)) {
        scan.next = job;
        return scan;
      }
    }
    if (scan.next) return scan;
  }
  return scan;
}

std::map<std::size_t, std::vector<const JobRecord*>> by_iteration(const std::vector<JobRecord>& jobs) {
  std::map<std::size_t, std::vector<const JobRecord*>> result;
  for (const JobRecord& job : jobs) result[job.iteration].push_back(&job);
  return result;
}

} // namespace

PlannedJob plan_next_job(const BracketSchedule& schedule, const std::vector<JobRecord>& jobs, const PlanLimits& limits) {
  const JobRecord* interrupted = nullptr;
  bool any_running = false;
  double total_cost = 0.0;
  for (const JobRecord& job : jobs) {
    total_cost += job.cost;
    if (job.status == JobStatus::running) any_running = true;
    if (job.status == JobStatus::interrupted && (!interrupted || job.id < interrupted->id)) interrupted = &job;
  }
  if (interrupted) {
    PlannedJob job;
    job.kind = PlannedJob::Kind::rerun;
    job.rerun_id = interrupted->id;
    job.iteration = interrupted->iteration;
    job.rung = interrupted->rung;
    job.slot = interrupted->slot;
    job.bracket = schedule.bracket(interrupted->iteration).s;
    job.budget = interrupted->budget;
    job.cost = 0.0; // already counted
    return job;
  }
  const auto fits = [&](const PlannedJob& job) {
    return !limits.max_total_cost || total_cost + job.cost <= *limits.max_total_cost + 1e-9;
  };
  bool too_large = false; // some runnable job was passed over for the time left
  const auto affordable = [&](const PlannedJob& job) {
    const bool ok = !limits.affordable || limits.affordable(job);
    too_large = too_large || !ok;
    return ok;
  };
  const auto idle = [&] {
    PlannedJob job;
    job.kind = any_running ? PlannedJob::Kind::wait : too_large ? PlannedJob::Kind::out_of_time : PlannedJob::Kind::done;
    return job;
  };

  const auto iterations = by_iteration(jobs);
  std::size_t next_iteration = 0;
  for (const auto& [iteration, records] : iterations) {
    next_iteration = std::max(next_iteration, iteration + 1);
    IterationScan scan = scan_iteration(schedule, iteration, records, limits.continue_promoted, limits.affordable);
    if (scan.next) {
      if (!fits(*scan.next)) return idle();
      if (affordable(*scan.next)) return *scan.next;
    }
  }
  // A new iteration; when its bracket's first budget is too large for the time left, the next brackets of the
  // cycle are tried (one full cycle at most).
  const std::size_t cycle = schedule.is_hyperband() ? max_sh_iterations(schedule.options()) : 1;
  for (std::size_t k = 0; k < cycle; ++k) {
    const std::size_t iteration = next_iteration + k;
    if (limits.max_iterations && iteration >= *limits.max_iterations) break;
    IterationScan fresh = scan_iteration(schedule, iteration, {}, limits.continue_promoted);
    if (!fresh.next || !fits(*fresh.next)) break;
    if (affordable(*fresh.next)) return *fresh.next;
  }
  return idle();
}

std::size_t finished_iterations(const BracketSchedule& schedule, const std::vector<JobRecord>& jobs) {
  std::size_t count = 0;
  for (const auto& [iteration, records] : by_iteration(jobs))
    if (scan_iteration(schedule, iteration, records, true).finished) ++count;
  return count;
}

std::vector<std::int64_t> jobs_nothing_continues_from(const BracketSchedule& schedule, const std::vector<JobRecord>& jobs) {
  std::set<std::int64_t> settled;
  for (const auto& [iteration, records] : by_iteration(jobs)) {
    const BracketShape shape = schedule.bracket(iteration);
    const Rungs rungs = rungs_of(shape, records);
    for (std::size_t r = 0; r < rungs.size(); ++r) {
      const bool last = r + 1 == rungs.size();
      bool promotions_made = false;
      if (!last && std::all_of(rungs[r].begin(), rungs[r].end(), ended)) {
        const auto best = ranked(rungs[r]);
        const std::size_t promoted = promoted_count(shape.sizes[r + 1], best.size());
        promotions_made = rungs[r].size() >= shape.sizes[r] &&
                          promotions_held(schedule, shape, iteration, rungs, r, best, promoted) >= promoted;
      }
      for (const JobRecord* job : rungs[r]) {
        if (!ended(job)) continue;
        if (last) {
          settled.insert(job->id);
          continue;
        }
        const JobRecord* up = job_of_slot(rungs[r + 1], job->slot);
        if (up ? ended(up) : promotions_made) settled.insert(job->id);
      }
    }
  }
  std::vector<std::int64_t> ids;
  for (const JobRecord& job : jobs)
    if (settled.count(job.id)) ids.push_back(job.id);
  return ids;
}

} // namespace automl::hpo
