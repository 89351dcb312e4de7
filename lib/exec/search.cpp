#include "exec/search.hpp"

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "exec/checkpoints.hpp"
#include "exec/owner.hpp"
#include "hpo/bracket.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace automl::exec {

std::optional<Clock::time_point> StopToken::deadline() const {
  if (!m_has_deadline) return std::nullopt;
  return Clock::time_point(Clock::duration(m_deadline.load()));
}

void StopToken::move_deadline(Clock::time_point t) {
  if (m_has_deadline) m_deadline.store(std::min(t.time_since_epoch().count(), m_latest));
}

double StopToken::seconds_left() const {
  const auto d = deadline();
  if (!d) return std::numeric_limits<double>::infinity();
  return std::chrono::duration<double>(*d - Clock::now()).count();
}

Clock::time_point deadline_in(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

namespace {

// The proposal stream of configuration `slot` of `iteration`: a function of the study seed and the job's place
// only, so that a resumed or parallel search proposes what a single uninterrupted one would.
std::uint64_t proposal_seed(std::uint64_t study_seed, std::size_t iteration, std::size_t slot) {
  return study::mix_seed(study_seed ^ 0xA5A5A5A5A5A5A5A5ULL, iteration * 1000003 + slot);
}

const space::UnitCubeSpace& checked_space(const SearchTask& task) {
  if (!task.space) throw Error("search: no search space given");
  return *task.space;
}

nlohmann::json default_describe(const space::UnitCubeSpace& space, const space::UnitVector& unit) {
  nlohmann::json config = nlohmann::json::object();
  for (std::size_t i = 0; i < unit.size(); ++i)
    config[space.dimension_name(i)] = std::isnan(unit[i]) ? nlohmann::json(nullptr) : nlohmann::json(unit[i]);
  return config;
}

hpo::JobStatus job_status(const study::Trial& t) {
  switch (t.state) {
  case study::TrialState::complete:
    return t.loss && std::isfinite(*t.loss) ? hpo::JobStatus::finished : hpo::JobStatus::failed;
  case study::TrialState::fail: return hpo::JobStatus::failed;
  case study::TrialState::pruned: return hpo::JobStatus::interrupted;
  case study::TrialState::running:
    // Its lease expired (judged on the database's clock: any host), or its process on this host is gone.
    return !t.lease_expired && owner_is_alive(t.worker) ? hpo::JobStatus::running : hpo::JobStatus::interrupted;
  }
  return hpo::JobStatus::failed;
}

// The stored trials as the bracket bookkeeping sees them.
std::vector<hpo::JobRecord> to_jobs(const std::vector<study::Trial>& trials) {
  std::vector<hpo::JobRecord> jobs;
  jobs.reserve(trials.size());
  for (const auto& t : trials) {
    if (is_replica(t)) continue;
    hpo::JobRecord job;
    job.id = t.id;
    job.iteration = t.iteration;
    job.rung = t.rung;
    job.slot = t.slot;
    job.budget = t.budget;
    job.cost = t.cost;
    job.status = job_status(t);
    job.loss = t.loss.value_or(std::numeric_limits<double>::infinity());
    jobs.push_back(job);
  }
  return jobs;
}

} // namespace

// The leases of the trials this process runs: the heartbeat renews them; an attempt whose renewal is refused has
// lost its trial (it ran past its lease, and another worker runs it now) and stops.
class LeaseKeeper {
public:
  struct Held {
    std::int64_t trial_id = 0;
    int attempt = 0;
    std::atomic<bool> lost{false};
    // Set (under `renewal`) before the attempt's end is written: from then on the heartbeat leaves it alone. A
    // renewal after the end would be refused (the trial is no longer RUNNING) and read as a lost lease.
    bool finishing = false;
    std::mutex renewal; // one renewal at a time, never once the end is being written
  };

  std::shared_ptr<Held> hold(std::int64_t trial_id, int attempt) {
    auto held = std::make_shared<Held>();
    held->trial_id = trial_id;
    held->attempt = attempt;
    std::lock_guard lock(m_mutex);
    m_held[trial_id] = held;
    return held;
  }
  void release(std::int64_t trial_id) {
    std::lock_guard lock(m_mutex);
    m_held.erase(trial_id);
  }
  std::vector<std::shared_ptr<Held>> held() {
    std::lock_guard lock(m_mutex);
    std::vector<std::shared_ptr<Held>> all;
    for (const auto& [id, h] : m_held) all.push_back(h);
    return all;
  }

private:
  std::mutex m_mutex;
  std::map<std::int64_t, std::shared_ptr<Held>> m_held;
};

struct Search::Impl {
  study::Storage& storage;
  LeaseKeeper leases;
  SearchTask task;
  SearchOptions options;
  OwnerToken owner;
  StopToken stop;
  std::mutex mutex;
  std::condition_variable trial_finished;
  SearchSummary summary;
  // A trial stopped because what it still had to do could not end before the deadline: no other trial could
  // either (each ends with a validation pass), so none starts any more; running ones go on.
  std::atomic<bool> out_of_time{false};
  std::mutex drop_mutex;              // one pass of drop_unneeded_checkpoints() at a time
  std::set<std::int64_t> dropped;     // checkpoints this process has dropped

  Impl(study::Storage& s, SearchTask t, const SearchOptions& o)
      : storage(s), task(std::move(t)), options(o), stop(o.deadline) {}
};

nlohmann::json study_settings(const SearchOptions& options, const SearchTask& task) {
  const auto& hb = options.optimizer_options.hyperband;
  nlohmann::json settings{{"optimizer", options.optimizer},     {"eta", hb.eta},
                          {"min_budget", hb.min_budget},       {"max_budget", hb.max_budget},
                          {"continue_promoted", options.continue_promoted}, {"early_budget", hb.early_budget}};
  if (hb.early_portfolio > 0) settings["early_portfolio"] = hb.early_portfolio; // absent in studies from before it
  if (!task.initial_configs.empty()) {
    nlohmann::json initial = nlohmann::json::array();
    for (const auto& unit : task.initial_configs) initial.push_back(task.describe(unit));
    settings["initial_configs"] = std::move(initial);
  }
  return settings;
}

std::size_t initial_config_index(const hpo::BracketSchedule& schedule, std::size_t iteration, std::size_t slot) {
  std::size_t before = 0;
  for (std::size_t i = 0; i < iteration && before <= k_max_initial_configs; ++i) before += schedule.bracket(i).sizes.at(0);
  return before + slot;
}

std::string unit_space_fingerprint(const space::UnitCubeSpace& space) {
  std::string text;
  for (std::size_t i = 0; i < space.dimension(); ++i)
    text += space.dimension_name(i) + "/" + std::to_string(space.cardinality(i)) + ";";
  // FNV-1a: stable across platforms and runs (std::hash is not).
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
  return fmt::format("unit-{}d-{:016x}", space.dimension(), h);
}

Search::Search(study::Storage& storage, SearchTask task, const SearchOptions& options)
    : m_optimizer(hpo::make_optimizer(options.optimizer, checked_space(task), options.optimizer_options)) {
  if (!task.objective) throw Error("search: no objective given");
  if (task.initial_configs.size() > k_max_initial_configs)
    throw InputError(fmt::format("search: {} initial configurations, at most {}", task.initial_configs.size(), k_max_initial_configs));
  if (options.workers == 0) throw InputError("workers: must be >= 1, got 0");
  if (!(options.poll_seconds > 0.0)) throw InputError("poll_seconds: must be > 0");
  if (!(options.lease_s > 0.0) || !std::isfinite(options.lease_s)) throw InputError("lease_s: must be a positive number of seconds");
  if (!task.describe) {
    const space::UnitCubeSpace* space = task.space;
    task.describe = [space](const space::UnitVector& unit) { return default_describe(*space, unit); };
  }
  study::StudySpec spec;
  spec.name = options.study_name;
  spec.space_fingerprint = task.space_fingerprint;
  spec.seed = options.seed;
  spec.settings = study_settings(options, task);
  spec.must_be_new = options.new_study;
  m_study = storage.open_study(spec);
  m_impl = std::make_unique<Impl>(storage, std::move(task), options);
  m_impl->summary.resumed = m_study.resumed;
}

Search::~Search() = default;

AskResult Search::ask(const std::string& worker_suffix) {
  Impl& impl = *m_impl;
  AskResult result;
  if (impl.out_of_time) {
    result.outcome = AskOutcome::out_of_time;
    return result;
  }
  hpo::PlanLimits limits;
  limits.max_iterations = impl.options.max_iterations;
  limits.max_total_cost = impl.options.max_total_budget;
  limits.continue_promoted = impl.options.continue_promoted;

  double slow_limit_per_unit = 0; // seconds per budget unit a trial may take; 0: no limit
  std::string replica_note;       // set when the claimed trial is a replica (logged once it is claimed)
  const auto decide = [&](const std::vector<study::Trial>& trials) {
    study::ClaimDecision decision;
    // No trial starts that cannot reach its budget before the deadline, at the pace measured so far: a promoted
    // configuration's own seconds per budget unit on its lower rung, else the median over the completed trials
    // (no estimate before the first one). A new configuration's budget is its bracket's smallest; a promoted
    // one needs only the increment when it continues training. Jobs that do not fit are passed over for
    // smaller ones (PlanLimits::affordable), so the workers stay busy until the deadline.
    if (impl.options.deadline) {
      std::vector<double> paces;
      std::map<std::int64_t, double> pace_of;
      for (const auto& t : trials)
        if (t.state == study::TrialState::complete && t.finished_at && t.cost > 0.0) {
          paces.push_back((*t.finished_at - t.started_at) / t.cost);
          pace_of[t.id] = paces.back();
        }
      double median = impl.options.prior_seconds_per_unit;
      if (!paces.empty()) {
        std::nth_element(paces.begin(), paces.begin() + static_cast<std::ptrdiff_t>(paces.size() / 2), paces.end());
        median = paces[paces.size() / 2];
      }
      if (impl.options.slow_trial_factor > 0 && !paces.empty() && paces.size() >= impl.options.min_trials_for_limit)
        slow_limit_per_unit = impl.options.slow_trial_factor * median;
      limits.affordable = [&impl, median, pace_of](const hpo::PlannedJob& job) {
        const auto own = job.kind == hpo::PlannedJob::Kind::promote ? pace_of.find(job.parent_id) : pace_of.end();
        const double pace = own != pace_of.end() ? own->second : median;
        return impl.stop.seconds_left() > pace * (job.kind == hpo::PlannedJob::Kind::rerun ? job.budget : job.cost);
      };
    }
    // A replica whose worker died, or that a deadline or a signal stopped, runs again first, as the brackets' own
    // interrupted jobs do (from scratch: it continues from nothing), when it fits in the time left.
    for (const auto& p : trials) {
      if (!is_replica(p) || job_status(p) != hpo::JobStatus::interrupted) continue;
      hpo::PlannedJob rerun;
      rerun.kind = hpo::PlannedJob::Kind::rerun;
      rerun.budget = rerun.cost = p.budget;
      if (limits.affordable && !limits.affordable(rerun)) continue;
      result.outcome = AskOutcome::trial;
      decision.kind = study::ClaimDecision::Kind::rerun;
      decision.rerun_id = p.id;
      replica_note = fmt::format("replica: run again after attempt {} was interrupted", p.attempts);
      return decision;
    }
    if (impl.options.deadline && impl.options.replicas > 0) {
      const double top = impl.options.optimizer_options.hyperband.max_budget;
      if (const study::Trial* source = replica_source(trials, top, impl.options.replicas, impl.stop.seconds_left())) {
        std::size_t slot = k_replica_slot;
        for (const auto& p : trials)
          if (is_replica(p) && p.iteration == source->iteration && p.rung == source->rung) slot = std::max(slot, p.slot + 1);
        result.outcome = AskOutcome::trial;
        decision.kind = study::ClaimDecision::Kind::insert;
        study::NewTrial& t = decision.trial;
        t.iteration = source->iteration;
        t.bracket = source->bracket;
        t.rung = source->rung;
        t.slot = slot;
        t.budget = source->budget;
        t.cost = source->budget; // from scratch
        t.unit = source->unit;
        t.config = source->config;
        t.info = nlohmann::json{{"model_based_pick", false}, {"replica_of", source->id}}.dump();
        replica_note = fmt::format("replica: trial {}'s configuration again from scratch with another seed, budget {:g} "
                                   "(its training took {:.1f} s; {:.1f} s left)", source->id, source->budget,
                                   chain_seconds(trials, *source), impl.stop.seconds_left());
        return decision;
      }
    }
    replica_note.clear();
    const hpo::PlannedJob plan = hpo::plan_next_job(m_optimizer.schedule, to_jobs(trials), limits);
    switch (plan.kind) {
    case hpo::PlannedJob::Kind::wait: result.outcome = AskOutcome::wait; return decision;
    case hpo::PlannedJob::Kind::done: result.outcome = AskOutcome::done; return decision;
    case hpo::PlannedJob::Kind::out_of_time: result.outcome = AskOutcome::out_of_time; return decision;
    default: break;
    }
    result.outcome = AskOutcome::trial;
    if (plan.kind == hpo::PlannedJob::Kind::rerun) {
      decision.kind = study::ClaimDecision::Kind::rerun;
      decision.rerun_id = plan.rerun_id;
      return decision;
    }
    decision.kind = study::ClaimDecision::Kind::insert;
    study::NewTrial& t = decision.trial;
    t.iteration = plan.iteration;
    t.bracket = plan.bracket;
    t.rung = plan.rung;
    t.slot = plan.slot;
    t.budget = plan.budget;
    t.cost = plan.cost;
    if (plan.kind == hpo::PlannedJob::Kind::promote) {
      const auto parent = std::find_if(trials.begin(), trials.end(), [&](const auto& p) { return p.id == plan.parent_id; });
      t.unit = parent->unit;
      t.config = parent->config;
      t.info = parent->info;
      t.parent_id = plan.parent_id;
      return decision;
    }
    std::vector<hpo::Observation> history;
    history.reserve(trials.size());
    for (const auto& p : trials) {
      if (is_replica(p)) continue; // its configuration is in the history once, as its source
      if (p.state == study::TrialState::complete && p.loss && std::isfinite(*p.loss))
        history.push_back(hpo::Observation{&p.unit, p.budget, *p.loss});
      else if (p.state == study::TrialState::fail || p.state == study::TrialState::complete)
        history.push_back(hpo::Observation{&p.unit, p.budget, std::numeric_limits<double>::infinity()});
    }
    core::Rng rng(proposal_seed(m_study.seed, plan.iteration, plan.slot));
    hpo::Proposal proposal;
    const auto& initial = impl.task.initial_configs;
    const std::size_t index = initial.empty() ? 0 : initial_config_index(m_optimizer.schedule, plan.iteration, plan.slot);
    const bool is_initial = index < initial.size();
    if (is_initial) proposal.unit = initial[index];
    else proposal = m_optimizer.generator->propose(history, plan.budget, rng);
    t.config = impl.task.describe(proposal.unit).dump();
    t.unit = std::move(proposal.unit);
    nlohmann::json info{{"model_based_pick", proposal.model_based}};
    if (is_initial) info["initial_config"] = index;
    t.info = info.dump();
    return decision;
  };
  result.trial = impl.storage.claim(m_study.id, decide, impl.owner.str() + "#" + worker_suffix, core::unix_now(),
                                    impl.options.lease_s);
  if (result.trial && is_replica(*result.trial)) spdlog::info("trial {}: {}", result.trial->id, replica_note);
  if (result.trial && slow_limit_per_unit > 0)
    result.time_limit_s = std::max(impl.options.min_trial_limit_s, slow_limit_per_unit * std::max(result.trial->cost, 1e-9));
  return result;
}

study::TrialState Search::run_trial(const study::Trial& trial, std::optional<double> time_limit_s) {
  Impl& impl = *m_impl;
  const nlohmann::json config = nlohmann::json::parse(trial.config);
  std::vector<study::Metric> metrics;
  TrialContext ctx;
  ctx.trial_id = trial.id;
  ctx.unit = &trial.unit;
  ctx.config = &config;
  ctx.budget = trial.budget;
  ctx.largest_budget = trial.budget >= impl.options.optimizer_options.hyperband.max_budget * (1 - 1e-9);
  ctx.seed = trial.seed;
  ctx.stop = &impl.stop;
  const auto started = Clock::now();
  if (time_limit_s)
    ctx.time_limit = started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(*time_limit_s));
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  ctx.threads = static_cast<int>(impl.options.threads_per_worker > 0 ? impl.options.threads_per_worker
                                                                      : std::max<std::size_t>(1, cores / impl.options.workers));
  if (impl.options.continue_promoted && trial.parent_id) {
    ctx.resume_from = impl.storage.checkpoint(*trial.parent_id);
    if (ctx.resume_from) ctx.resume_budget = impl.storage.trial(*trial.parent_id).budget;
  }
  // The objective creates the directory when it saves: a failure there (a full disk, a file in the way) fails
  // this trial like any other error of the objective, not the whole search.
  if (!impl.options.checkpoint_dir.empty())
    ctx.checkpoint_dir = (std::filesystem::path(impl.options.checkpoint_dir) / ("trial_" + std::to_string(trial.id))).string();
  // The heartbeat keeps this attempt's lease; when the attempt has lost the trial, the trial stops.
  const auto lease = impl.leases.hold(trial.id, trial.attempts);
  ctx.lease_lost = &lease->lost;
  // A write refused because this attempt lost its trial (this process froze or was cut off past its lease, and
  // another worker runs the trial now): nothing of this attempt is recorded; the other one's result counts.
  const auto lost_trial = [&](const study::FencedError& e) {
    spdlog::warn("{}", e.what());
    impl.leases.release(trial.id);
    impl.trial_finished.notify_all();
    return study::TrialState::running;
  };
  // A trial over its time limit at the pace its reports show stops at the first report that shows it, not when
  // the limit is reached: a 27-epoch trial limited to 853 s had trained for all of them before it FAILed. The
  // pace is taken between reports, so that what comes before the first (building the network, loading the
  // checkpoint it continues from: most of a small trial's time) is not taken for the pace of every step.
  std::optional<std::pair<Clock::time_point, double>> first_report; // when, and at which step
  std::optional<std::pair<double, double>> projected; // (the step, the seconds the whole budget would take)
  const auto seconds_between = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  ctx.report = [&](double step, double metric) {
    metrics.push_back(study::Metric{step, metric});
    impl.storage.set_metrics(trial.id, trial.attempts, metrics);
    const auto now = Clock::now();
    if (time_limit_s && step < trial.budget - 1e-9) {
      if (!first_report) {
        first_report.emplace(now, step);
      } else if (step > first_report->second) {
        const double pace = seconds_between(first_report->first, now) / (step - first_report->second);
        const double seconds = seconds_between(started, now) + pace * (trial.budget - step);
        if (seconds > *time_limit_s) {
          projected.emplace(step, seconds);
          return false;
        }
      }
    }
    return !ctx.stop_requested();
  };

  study::TrialState state = study::TrialState::complete;
  std::optional<double> loss;
  std::string error;
  std::optional<std::string> checkpoint;
  std::optional<double> checkpoint_budget;
  std::optional<std::string> archive; // the checkpoint's files, stored with it for workers on other machines
  try {
    // The parent's checkpoint where this machine has it, else fetched from the storage (removed after the trial).
    const auto parent_checkpoint =
        ctx.resume_from ? local_checkpoint(impl.storage, *trial.parent_id, impl.options.checkpoint_dir) : std::nullopt;
    if (parent_checkpoint) ctx.resume_from = parent_checkpoint->dir();
    TrialResult r = impl.task.objective(ctx);
    checkpoint = r.checkpoint;
    checkpoint_budget = r.checkpoint_budget;
    if (checkpoint && impl.options.pack_checkpoints) archive = checkpoint_archive_for(*checkpoint);
    if (r.stopped && (impl.stop.stop_requested() || (r.out_of_time && impl.stop.deadline()))) {
      state = study::TrialState::pruned;
      if (r.out_of_time) impl.out_of_time = true;
      if (std::isfinite(r.loss)) loss = r.loss;
    } else if (r.stopped && (ctx.time_limit_reached() || projected)) {
      state = study::TrialState::fail;
      const std::string pace = projected ? fmt::format(" at {:g} of its budget of {:g}, a pace at which it would take {:.1f} s",
                                                       projected->first, trial.budget, projected->second)
                                         : std::string();
      error = fmt::format("stopped after {:.1f} s{}: a trial may take {:g} times the median pace of the completed trials, "
                          "{:.1f} s for its budget", std::chrono::duration<double>(Clock::now() - started).count(), pace,
                          impl.options.slow_trial_factor, *time_limit_s);
    } else if (r.stopped) {
      // PRUNED trials are run again; one that stops on its own would be run again and again.
      state = study::TrialState::fail;
      error = "the objective stopped before its budget without a stop request";
    } else if (!std::isfinite(r.loss)) {
      state = study::TrialState::fail;
      error = fmt::format("the objective returned a non-finite loss ({})", r.loss);
    } else {
      loss = r.loss;
    }
  } catch (const study::FencedError& e) { // a report of an attempt that lost its trial
    return lost_trial(e);
  } catch (const std::exception& e) {
    state = study::TrialState::fail;
    error = e.what();
  } catch (...) {
    state = study::TrialState::fail;
    error = "unknown exception";
  }
  {
    const std::lock_guard no_renewal(lease->renewal);
    lease->finishing = true;
  }
  try {
    if (checkpoint)
      impl.storage.set_checkpoint(trial.id, trial.attempts, checkpoint_budget.value_or(trial.budget), *checkpoint, archive);
    impl.storage.finish(trial.id, trial.attempts, state, loss, metrics, error, core::unix_now());
  } catch (const study::FencedError& e) {
    return lost_trial(e);
  }
  impl.leases.release(trial.id);
  if (state == study::TrialState::fail)
    spdlog::warn("trial {} (config {}, budget {}) failed: {}", trial.id, trial.config_id(), trial.budget, error);
  {
    std::lock_guard lock(impl.mutex);
    ++impl.summary.trials_run;
    if (state == study::TrialState::complete) ++impl.summary.complete;
    if (state == study::TrialState::pruned) ++impl.summary.pruned;
    if (state == study::TrialState::fail) ++impl.summary.failed;
  }
  impl.trial_finished.notify_all();
  return state;
}

SearchSummary Search::run() {
  Impl& impl = *m_impl;
  std::exception_ptr failure;
  std::mutex failure_mutex;
  const auto worker = [&](std::size_t index) {
    try {
      const std::string suffix = "w" + std::to_string(index);
      while (!impl.stop.stop_requested()) {
        AskResult next = ask(suffix);
        if (next.outcome == AskOutcome::trial) {
          run_trial(*next.trial, next.time_limit_s);
          drop_unneeded_checkpoints();
          continue;
        }
        if (next.outcome == AskOutcome::out_of_time) {
          std::lock_guard lock(impl.mutex);
          impl.summary.deadline_reached = true;
        }
        if (next.outcome != AskOutcome::wait) break;
        std::unique_lock lock(impl.mutex);
        impl.trial_finished.wait_for(lock, std::chrono::duration<double>(impl.options.poll_seconds));
      }
    } catch (...) {
      std::lock_guard lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      impl.stop.request_stop();
      impl.trial_finished.notify_all();
    }
  };
  // The heartbeat: renews the leases of the running trials every quarter of the lease, on its own thread so that a
  // long batch or validation pass does not delay it.
  std::mutex heartbeat_mutex;
  std::condition_variable heartbeat_wake;
  bool workers_done = false;
  std::thread heartbeat([&] {
    const auto period = std::chrono::duration<double>(std::max(0.01, impl.options.lease_s / 4));
    std::unique_lock lock(heartbeat_mutex);
    while (!heartbeat_wake.wait_for(lock, period, [&] { return workers_done; })) {
      lock.unlock();
      for (const auto& held : impl.leases.held()) {
        try {
          const std::lock_guard renewal(held->renewal);
          if (!held->lost && !held->finishing && !impl.storage.renew_lease(held->trial_id, held->attempt, impl.options.lease_s)) {
            held->lost = true;
            spdlog::warn("trial {} attempt {} lost its lease (another worker runs it now): stopping it", held->trial_id,
                         held->attempt);
          }
        } catch (const std::exception& e) {
          spdlog::warn("trial {}: the lease could not be renewed: {}", held->trial_id, e.what());
        }
      }
      lock.lock();
    }
  });
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < impl.options.workers; ++i) threads.emplace_back(worker, i);
  worker(0);
  for (auto& t : threads) t.join();
  {
    std::lock_guard lock(heartbeat_mutex);
    workers_done = true;
  }
  heartbeat_wake.notify_all();
  heartbeat.join();
  if (failure) std::rethrow_exception(failure);

  const std::vector<study::Trial> trials = impl.storage.trials(m_study.id);
  SearchSummary summary = impl.summary;
  summary.finished_iterations = hpo::finished_iterations(m_optimizer.schedule, to_jobs(trials));
  const auto deadline = impl.stop.deadline();
  summary.deadline_reached = summary.deadline_reached || (deadline && Clock::now() >= *deadline);
  summary.best = best_trial(trials);
  return summary;
}

std::vector<std::int64_t> Search::drop_unneeded_checkpoints() {
  Impl& impl = *m_impl;
  if (!impl.options.keep_checkpoints) return {};
  const std::lock_guard lock(impl.drop_mutex);
  try {
    return drop_unneeded_checkpoints_locked();
  } catch (const std::exception& e) { // the checkpoints stay, for a later pass: not a reason to stop the search
    spdlog::warn("the checkpoints that nothing continues from could not be dropped: {}", e.what());
    return {};
  }
}

std::vector<std::int64_t> Search::drop_unneeded_checkpoints_locked() {
  Impl& impl = *m_impl;
  const std::vector<study::Trial> trials = impl.storage.trials(m_study.id);
  std::set<std::int64_t> keep;
  for (const study::Trial* t : models_by_budget(trials)) {
    if (keep.size() >= *impl.options.keep_checkpoints) break;
    keep.insert(t->id);
  }
  std::vector<std::int64_t> drop;
  for (const std::int64_t id : hpo::jobs_nothing_continues_from(m_optimizer.schedule, to_jobs(trials)))
    if (!keep.count(id) && !impl.dropped.count(id)) drop.push_back(id);
  if (drop.empty()) return drop;
  // The records first: nothing looks for a folder after its record is gone. Trials that another worker ran
  // keep their folders on that worker's machine: its own passes remove them, by the same rule.
  impl.storage.drop_checkpoints(drop);
  for (const std::int64_t id : drop) {
    impl.dropped.insert(id);
    if (impl.options.checkpoint_dir.empty()) continue;
    std::error_code ignored;
    core::remove_tree(std::filesystem::path(impl.options.checkpoint_dir) / ("trial_" + std::to_string(id)), ignored);
  }
  spdlog::debug("dropped the checkpoints of {} trial(s) that nothing continues from", drop.size());
  return drop;
}

void Search::move_deadline(Clock::time_point t) { m_impl->stop.move_deadline(t); }

void Search::request_stop() {
  m_impl->stop.request_stop();
  m_impl->trial_finished.notify_all();
}

std::optional<Clock::time_point> Search::deadline() const { return m_impl->stop.deadline(); }

std::optional<study::Trial> best_trial(const std::vector<study::Trial>& trials) {
  std::optional<study::Trial> best;
  for (const auto& t : trials) {
    if (t.state != study::TrialState::complete || !t.loss || !std::isfinite(*t.loss)) continue;
    if (!best || t.budget > best->budget || (t.budget == best->budget && *t.loss < *best->loss)) best = t;
  }
  return best;
}

bool is_replica(const study::Trial& t) { return t.slot >= k_replica_slot; }

double chain_seconds(const std::vector<study::Trial>& trials, const study::Trial& t) {
  double seconds = 0;
  const study::Trial* link = &t;
  // At most one step per trial: a cycle in corrupt parent links cannot loop.
  for (std::size_t steps = 0; link && steps <= trials.size(); ++steps) {
    if (link->finished_at) seconds += std::max(0.0, *link->finished_at - link->started_at);
    if (!link->parent_id) break;
    const auto parent = std::find_if(trials.begin(), trials.end(), [&](const study::Trial& p) { return p.id == *link->parent_id; });
    link = parent == trials.end() ? nullptr : &*parent;
  }
  return seconds;
}

const study::Trial* replica_source(const std::vector<study::Trial>& trials, double top_budget, std::size_t replicas,
                                   double seconds_left) {
  if (replicas == 0) return nullptr;
  const auto best = best_trial(trials);
  const auto same_budget = [](double a, double b) { return std::abs(a - b) <= 1e-9 * std::max(1.0, std::abs(b)); };
  if (!best || !(best->budget >= top_budget || same_budget(best->budget, top_budget))) return nullptr;
  const study::Trial* source = nullptr;
  std::size_t made = 0;
  for (const auto& t : trials) {
    if (t.config != best->config || !same_budget(t.budget, best->budget)) continue;
    if (is_replica(t)) ++made;
    else if (!source && t.state == study::TrialState::complete) source = &t;
  }
  if (!source || made >= replicas) return nullptr;
  const double needs = chain_seconds(trials, *source);
  if (!(needs > 0) || seconds_left < k_replica_safety * needs || seconds_left > k_replica_window * needs) return nullptr;
  return source;
}

std::vector<const study::Trial*> models_by_budget(const std::vector<study::Trial>& trials) {
  std::vector<const study::Trial*> models;
  for (const auto& t : trials) {
    const bool usable = t.state == study::TrialState::complete || t.state == study::TrialState::pruned;
    if (usable && t.loss && std::isfinite(*t.loss)) models.push_back(&t);
  }
  std::sort(models.begin(), models.end(), [](const study::Trial* a, const study::Trial* b) {
    if (a->budget != b->budget) return a->budget > b->budget;
    return *a->loss != *b->loss ? *a->loss < *b->loss : a->id < b->id;
  });
  return models;
}

double largest_complete_budget(const std::vector<study::Trial>& trials) {
  double largest = 0;
  for (const auto& t : trials)
    if (t.state == study::TrialState::complete) largest = std::max(largest, t.budget);
  return largest;
}

std::optional<study::Trial> model_to_export(const std::vector<study::Trial>& trials,
                                            const std::function<bool(const study::Trial&)>& has_checkpoint) {
  auto chosen = best_trial(trials);
  const double above = chosen ? chosen->budget : 0.0;
  for (const auto& t : trials) {
    if (t.state != study::TrialState::pruned || !t.loss || !std::isfinite(*t.loss) || t.budget <= above) continue;
    if (chosen && *t.loss >= *chosen->loss) continue;
    if (has_checkpoint(t)) chosen = t;
  }
  return chosen;
}

SearchSummary run_search(study::Storage& storage, const SearchTask& task, const SearchOptions& options) {
  return Search(storage, task, options).run();
}

} // namespace automl::exec
