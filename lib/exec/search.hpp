#pragma once
// The search loop: N worker threads ask the study for the next job (a RUNNING trial claimed atomically in the
// storage), run the objective, and record the outcome. The optimizer's state is rebuilt from the stored trials
// on every ask, so resuming a study, a second process on the same database and a restarted worker all go
// through the same code. One worker's failure (an exception from the objective) becomes a FAIL trial; the
// others go on. A deadline ends the whole search: running trials are asked to stop and recorded as PRUNED with
// what they reached, and no trial starts that cannot reach its budget (for a new configuration, the smallest
// budget of its bracket) before the deadline at the pace measured on the completed trials; a smaller job that
// fits is run instead (hpo::PlanLimits::affordable).

#include "exec/objective.hpp"
#include "hpo/generator.hpp"
#include "study/storage.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace automl::exec {

// Which new configuration of the study slot `slot` of Hyperband iteration `iteration` holds: the rung-0 sizes
// of the iterations before it, plus the slot.
// More initial configurations than this are refused (SearchTask::initial_configs).
constexpr std::size_t k_max_initial_configs = 10'000;
std::size_t initial_config_index(const hpo::BracketSchedule& schedule, std::size_t iteration, std::size_t slot);

// The configuration of a unit-cube point as JSON (the search space decodes it). Must be deterministic.
using ConfigDescriber = std::function<nlohmann::json(const space::UnitVector&)>;

// What is searched. The space must outlive the search.
struct SearchTask {
  const space::UnitCubeSpace* space = nullptr; // required
  std::string space_fingerprint;               // required: resuming with another fingerprint is refused
  ConfigDescriber describe;                    // default: {dimension_name: unit value} (null when inactive)
  Objective objective;                         // required
  // The study's first new configurations, in order, instead of proposals: the k-th new configuration of the
  // study (counting rung-0 slots of the brackets in iteration order: initial_config_index) is initial_configs[k].
  // The command puts the space's default first (its pace was measured before the search, so the first model
  // comes when it was planned to), then the preset's portfolio. Part of the study's settings: a resume with
  // other initial configurations is refused.
  std::vector<space::UnitVector> initial_configs;
};

// Example: SearchOptions o; o.study_name = "mnist"; o.optimizer = "bohb"; o.workers = 2; o.deadline = deadline_in(600);
struct SearchOptions {
  std::string study_name = "study";
  std::string optimizer = "bohb";          // bohb, hyperband, random
  hpo::OptimizerOptions optimizer_options; // eta, budgets, BOHB settings
  std::uint64_t seed = 0;
  std::size_t workers = 1;            // trials at once (threads of this process)
  std::size_t threads_per_worker = 0; // intra-op threads per trial; 0: max(1, cores / workers)
  bool continue_promoted = true;      // a promoted configuration resumes from its lower-rung checkpoint
  std::optional<std::size_t> max_iterations; // Hyperband iterations (brackets) to start; none: until the deadline
  std::optional<double> max_total_budget;    // stop starting trials once this much budget is spent
  std::optional<Clock::time_point> deadline; // the whole search ends by then
  std::string checkpoint_dir;                // per-trial checkpoint folders go here; empty: none
  bool new_study = false;                    // refuse a study that exists (StudySpec::must_be_new)
  // Checkpoints kept as models. When set, each trial's end drops the checkpoints that no promotion will continue
  // from any more (hpo::jobs_nothing_continues_from), in the storage and their folders under checkpoint_dir,
  // except those of the first `keep_checkpoints` trials of models_by_budget(): the ones an export and an
  // ensemble choose from. A long search's disk then stays bounded. None: every checkpoint is kept.
  std::optional<std::size_t> keep_checkpoints;
  // Store each checkpoint's files in the storage with its reference (exec/checkpoints.hpp), so that a worker on
  // another machine can continue from it or export it. False: the reference alone, for a storage that every
  // process reaches from one machine (study::one_machine_storage): packing and storing the files doubled the
  // disk a search used and, on small data, halved the trials it ran (bench/README.md, checkpoint_store).
  bool pack_checkpoints = true;
  // Seconds a claimed trial stays its worker's without a heartbeat (renewed every quarter of it): a trial whose
  // worker died, froze or lost the database for longer is run again by any worker, as attempt + 1, and the late
  // writes of the lost attempt are refused.
  double lease_s = 60.0;
  double poll_seconds = 0.05;                // how often an idle worker looks again for runnable work
  // Seconds of wall time per budget unit assumed until a trial has completed (a measurement made before the
  // search); 0: none, anything may start until then.
  double prior_seconds_per_unit = 0.0;
  // With a deadline: once min_trials_for_limit trials have completed, a trial may take at most this many times
  // what their median pace gives for its budget (at least min_trial_limit_s); a slower one FAILs with the reason,
  // and the model-based proposals learn to avoid its region. Configurations that train a hundred times slower
  // than the rest would otherwise take a short search's time. 0: no limit.
  double slow_trial_factor = 0.0;
  double min_trial_limit_s = 2.0;
  std::size_t min_trials_for_limit = 5;
  // With a deadline: how many seed replicas of the incumbent to train at its end (replica_source). 0: none.
  std::size_t replicas = 0;
};

// Seed replicas. A search's last minutes go to brackets that seldom reach the top rung before the deadline; an
// ensemble of the best network with copies of it trained from other seeds generalises better than the network alone
// (averaging removes the part of each one's errors that comes from its seed). So once the time left is about what
// training the incumbent took, a worker that frees trains its configuration again from scratch on its budget, with
// another seed, as a trial of its own: a replica. Replicas are candidates of the export's ensemble selection like
// any trial; the export keeps the ensemble only when it also wins on held-out validation samples
// (commands/search_ensemble.hpp). A replica is stored in its source's iteration and rung at slot
// k_replica_slot + k (its own seed: study::trial_seed), outside the brackets' bookkeeping and the proposals' history.
// A replica interrupted by its worker's death, a deadline or a signal runs again (first, when it fits in the time
// left), as the brackets' interrupted jobs do.
constexpr std::size_t k_replica_slot = 1'000'000;
// A replica starts only when the seconds left are at least k_replica_safety and at most k_replica_window times the
// seconds its source's training took (its chain's, from the first rung): later it could not finish; earlier, the
// search's own brackets may still find a better configuration. The chain is an upper bound of the replica's time
// at the same load: it paid a trial's setup and a validation pass on each rung, the replica pays them once. The
// margin was 1.25 until a 2000 s search of the Optuna chapter's ConvNets (bench/README.md, (b)) had about 660 s
// left when its incumbent's chain of 551 s (1.20x) ended, and trained no replica; one that overruns is cut at the
// deadline and evaluated there, like any trial, so the margin costs nothing but the worker's last minutes.
constexpr double k_replica_safety = 1.1;
constexpr double k_replica_window = 2.5;

bool is_replica(const study::Trial& t);

// Seconds `t`'s training took, its ancestors' included when it continued from their checkpoints (finished trials).
double chain_seconds(const std::vector<study::Trial>& trials, const study::Trial& t);

// The trial whose configuration a worker that frees now should replicate, or nothing: the first trial of the
// incumbent's configuration (best_trial(), replicas included) on its budget, when that budget is `top_budget`,
// fewer than `replicas` replicas of it exist, and `seconds_left` is in the window above.
const study::Trial* replica_source(const std::vector<study::Trial>& trials, double top_budget, std::size_t replicas,
                                   double seconds_left);

// A deadline `seconds` from now.
Clock::time_point deadline_in(double seconds);

struct SearchSummary {
  std::size_t trials_run = 0; // by this call (reruns included)
  std::size_t complete = 0;
  std::size_t pruned = 0;
  std::size_t failed = 0;
  std::size_t finished_iterations = 0; // of the whole study
  bool deadline_reached = false; // the deadline stopped trials or kept work from starting
  bool resumed = false;
  std::optional<study::Trial> best; // lowest loss among COMPLETE trials on the largest budget that has one
};

enum class AskOutcome {
  trial,       // a trial was claimed
  wait,        // nothing runnable until a running trial (here or in another process) finishes
  done,        // the study has nothing left to run
  out_of_time, // runnable work exists but cannot reach its budget before the deadline
};

struct AskResult {
  AskOutcome outcome = AskOutcome::done;
  std::optional<study::Trial> trial;
  std::optional<double> time_limit_s; // for run_trial: the trial's limit (SearchOptions::slow_trial_factor)
};

// One search of one study. Thread safety: ask() and run_trial() may be called from several threads.
class Search {
public:
  // Opens (creates or resumes) the study; throws InputError when it cannot be resumed (space or settings
  // changed) or an option is invalid.
  Search(study::Storage& storage, SearchTask task, const SearchOptions& options);
  ~Search();
  Search(const Search&) = delete;
  Search& operator=(const Search&) = delete;

  // Runs workers until the study is done, a limit is reached or the deadline passes. Rethrows a storage
  // failure (after stopping the other workers); objective failures are FAIL trials, not errors.
  SearchSummary run();

  // Drops the checkpoints that SearchOptions::keep_checkpoints says are no longer needed (run() does after each
  // trial; nothing when it is unset). Returns the ids dropped by this call. Any thread.
  std::vector<std::int64_t> drop_unneeded_checkpoints();

  // The next job for `worker_suffix` of this run, claimed in the storage (one atomic step).
  AskResult ask(const std::string& worker_suffix);
  // Runs the objective on a claimed trial and records its end. Returns the recorded state.
  // `time_limit_s`: the longest the trial may take (AskResult::time_limit_s); none: no limit.
  study::TrialState run_trial(const study::Trial& trial, std::optional<double> time_limit_s = std::nullopt);

  // Stops the search as the deadline would: no new trials, running ones see it at once (their trials become
  // PRUNED and run again on resume). Any thread.
  void request_stop();
  // Moves the search's deadline to `t`, never past the one it was made with (SearchOptions::deadline); running
  // trials see it at once. For a caller that learns while the search runs how much time it needs after it (more,
  // or less than it thought). A trial stopped by an earlier deadline stays stopped. Any thread.
  void move_deadline(Clock::time_point t);
  // The deadline now; nothing without one.
  std::optional<Clock::time_point> deadline() const;

  const study::StudyRecord& study() const { return m_study; }
  const hpo::Optimizer& optimizer() const { return m_optimizer; }

private:
  std::vector<std::int64_t> drop_unneeded_checkpoints_locked();
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  study::StudyRecord m_study;
  hpo::Optimizer m_optimizer;
};

// The stored settings that a resume must match: optimizer, eta, budgets, continue_promoted, and the initial
// configurations (as the task describes them) when there are any.
nlohmann::json study_settings(const SearchOptions& options, const SearchTask& task);

// A fingerprint of a unit-cube space from its dimension names and cardinalities (for spaces that have no
// better one; a real search space should also fingerprint ranges and conditions).
std::string unit_space_fingerprint(const space::UnitCubeSpace& space);

// The best trial of a study as a search reports it (HpBandSter's incumbent): the lowest loss among the COMPLETE
// trials with a finite loss on the largest budget that has one; ties go to the lower id. Nothing when none.
std::optional<study::Trial> best_trial(const std::vector<study::Trial>& trials);

// The trials that can serve as models, best first: COMPLETE or PRUNED (evaluated where the deadline cut them) with
// a finite loss, by budget (largest first), then loss, then id.
std::vector<const study::Trial*> models_by_budget(const std::vector<study::Trial>& trials);

// The largest budget of a COMPLETE trial (0 when none).
double largest_complete_budget(const std::vector<study::Trial>& trials);

// The trial whose weights a search exports: best_trial(), unless a trial on a larger budget was cut at the
// deadline and evaluated there (PRUNED with a finite loss and a checkpoint, as `has_checkpoint` tells) and scored
// a lower loss (on its budget's validation set, at least as large as the smaller budgets'). Of several such,
// the lowest loss. Nothing when neither exists.
std::optional<study::Trial> model_to_export(const std::vector<study::Trial>& trials,
                                            const std::function<bool(const study::Trial&)>& has_checkpoint);

// Convenience: Search(storage, task, options).run().
SearchSummary run_search(study::Storage& storage, const SearchTask& task, const SearchOptions& options);

} // namespace automl::exec
