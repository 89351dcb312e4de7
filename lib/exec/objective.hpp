#pragma once
// The contract between the search loop and whatever is being tuned (a network trainer, a synthetic function).
// The objective is called on a worker thread, once per trial; several calls run at once with --workers N, so it
// must not share mutable state between calls without its own locking.

#include "space/unit_cube.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace automl::exec {

using Clock = std::chrono::steady_clock;

// Tells a running trial to stop: the search's deadline has passed or the search is being aborted. The
// deadline can be brought forward while the search runs (when the time needed after it turns out larger).
// Thread safety: every member may be called from any thread.
class StopToken {
public:
  explicit StopToken(std::optional<Clock::time_point> deadline = std::nullopt)
      : m_has_deadline(deadline.has_value()), m_deadline(deadline ? deadline->time_since_epoch().count() : 0),
        m_latest(m_deadline.load()) {}
  bool stop_requested() const {
    return m_stopped.load() || (m_has_deadline && Clock::now().time_since_epoch().count() >= m_deadline.load());
  }
  void request_stop() { m_stopped.store(true); }
  std::optional<Clock::time_point> deadline() const;
  // Moves the deadline to `t`, earlier or later, but never past the deadline the token was made with. No effect
  // without a deadline.
  void move_deadline(Clock::time_point t);
  // Seconds until the deadline (negative once passed); +inf without one.
  double seconds_left() const;

private:
  bool m_has_deadline;
  std::atomic<Clock::rep> m_deadline; // Clock ticks since the clock's epoch
  Clock::rep m_latest;                // the deadline the token was made with
  std::atomic<bool> m_stopped{false};
};

// What the objective gets for one trial. References stay valid for the duration of the call.
struct TrialContext {
  std::int64_t trial_id = 0;
  const space::UnitVector* unit = nullptr; // the configuration as a unit-cube point
  const nlohmann::json* config = nullptr;  // the configuration as the search space describes it
  double budget = 0.0;                     // train up to this budget (epochs by default; the search's unit)
  // Set when this configuration was promoted and continue_promoted is on: the lower rung's checkpoint and the
  // budget it was taken at. Train from there up to `budget`. The checkpoint is as the objective returned it,
  // except that a directory this machine does not have as stored (exec/checkpoints.hpp) is a copy unpacked
  // from the storage, removed when the trial ends.
  std::optional<std::string> resume_from;
  double resume_budget = 0.0;
  std::string checkpoint_dir; // where this trial may write its checkpoint (created by whoever writes it); empty: none kept
  // On the schedule's largest budget: no trial will continue from this one, so its checkpoint serves as a model
  // only and needs no optimizer state (half the bytes to write, pack and store for Adam or SGD with momentum).
  bool largest_budget = false;
  std::uint64_t seed = 0;     // derived from (study seed, trial id)
  int threads = 1;            // intra-op threads this trial may use (workers x threads <= cores)
  const StopToken* stop = nullptr;
  // When this trial must end at the latest (the search's limit for slow trials, SearchOptions::
  // slow_trial_factor); none: no limit. An objective that stops for it returns TrialResult::stopped, and the
  // trial FAILs with the reason (as legacy Auto-PyTorch's and auto-sklearn's per-run time limits do).
  std::optional<Clock::time_point> time_limit;
  // Call after each epoch/step with the validation metric (loss: lower is better). Returns false when the trial
  // must stop now (deadline): return what was reached with TrialResult::stopped set.
  std::function<bool(double step, double metric)> report;

  // Set while the trial runs: true once this attempt has lost the trial (its lease expired and another worker
  // runs it now); the trial should stop, and what it writes is refused.
  const std::atomic<bool>* lease_lost = nullptr;
  bool stop_requested() const { return (stop && stop->stop_requested()) || (lease_lost && lease_lost->load()); }
  bool time_limit_reached() const { return time_limit && Clock::now() >= *time_limit; }
};

struct TrialResult {
  double loss = 0.0;    // at the end of the trial: 1 - validation accuracy; non-finite makes the trial FAIL
  bool stopped = false; // ended before its budget because a stop was requested (the trial becomes PRUNED and
                        // is run again when the study resumes); set without a stop request, the trial FAILs
  // A reference to resume from, stored with the trial and budget; a directory is also stored packed (its
  // files, flat: no subdirectories), so that workers on other machines can resume from it.
  std::optional<std::string> checkpoint;
  nlohmann::json info = nlohmann::json::object(); // extra facts for the logs (results.json "info")
  bool out_of_time = false; // with `stopped`: stopped before the deadline because what it still had to do (a
                            // validation pass) could not end by then; PRUNED as for a stop request
  // The budget the checkpoint was taken at when below the trial's (a trial cut at the deadline and evaluated
  // there); none: the trial's budget.
  std::optional<double> checkpoint_budget = std::nullopt;
};

// Throwing an exception makes the trial FAIL with the exception's message; the search goes on.
using Objective = std::function<TrialResult(const TrialContext&)>;

} // namespace automl::exec
