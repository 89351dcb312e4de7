#include "commands/search_steps.hpp"

#include "commands/search_ensemble.hpp"
#include "core/error.hpp"
#include "data/source.hpp"
#include "export/inference.hpp"
#include "hpo/generator.hpp"
#include "train/preflight.hpp"
#include "train/runtime.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace automl::commands::steps {

namespace fs = std::filesystem;

void check_flags(const SearchOptions& o) {
  if (o.preset.empty() && o.space_file.empty())
    throw InputError("search: give a preset (--preset NAME|FILE) or a search-space file (--space FILE)");
  if (!o.budget) throw InputError("search: --budget SECONDS is required (wall-clock time for the whole command)");
  if (!(*o.budget > 0 && *o.budget <= k_max_budget_s))
    throw InputError(fmt::format("--budget: must be > 0 and at most {:.0f} seconds (a year), got {:g}", k_max_budget_s, *o.budget));
  if (o.budget_type && *o.budget_type != "epochs" && *o.budget_type != "time")
    throw InputError(fmt::format("--budget-type: expected epochs or time, got '{}'", *o.budget_type));
  if (o.min_budget && !(*o.min_budget > 0 && std::isfinite(*o.min_budget)))
    throw InputError(fmt::format("--min-budget: must be a finite number > 0, got {}", *o.min_budget));
  if (o.max_budget && !(*o.max_budget > 0 && std::isfinite(*o.max_budget)))
    throw InputError(fmt::format("--max-budget: must be a finite number > 0, got {}", *o.max_budget));
  if (o.eta && !(*o.eta > 1 && std::isfinite(*o.eta)))
    throw InputError(fmt::format("--eta: must be a finite number > 1, got {}", *o.eta));
  if (o.validation_split && !(*o.validation_split > 0 && *o.validation_split < 1))
    throw InputError(fmt::format("--validation-split: must be in (0, 1), got {}", *o.validation_split));
  if (o.workers && !(*o.workers >= 1 && *o.workers <= k_max_workers))
    throw InputError(fmt::format("--workers: must be between 1 and {}, got {}", k_max_workers, *o.workers));
  if (!(o.threads >= 0 && o.threads <= train::k_max_threads))
    throw InputError(fmt::format("--threads: must be between 0 and {}, got {}", train::k_max_threads, o.threads));
  if (o.iterations && *o.iterations < 1) throw InputError("--iterations: must be >= 1, got 0");
  if (!(o.ensemble_size >= 0 && o.ensemble_size <= k_max_ensemble_size))
    throw InputError(fmt::format("--ensemble-size: must be between 0 and {}, got {}", k_max_ensemble_size, o.ensemble_size));
  if (!(o.replicas >= 0 && o.replicas <= k_max_replicas))
    throw InputError(fmt::format("--replicas: must be between 0 and {}, got {}", k_max_replicas, o.replicas));
  if (!(o.lease_s >= 1 && o.lease_s <= 86400))
    throw InputError(fmt::format("--lease: must be between 1 and 86400 seconds, got {}", o.lease_s));
  if (o.trace_test && o.test.empty()) throw InputError("--trace-test needs --test SOURCE");
  if (o.fail_under && !(*o.fail_under >= 0 && *o.fail_under <= 1))
    throw InputError(fmt::format("--fail-under: must be in [0, 1], got {}", *o.fail_under));
  const auto names = hpo::optimizer_names();
  if (std::find(names.begin(), names.end(), o.optimizer) == names.end())
    throw InputError(fmt::format("--optimizer: unknown '{}'; valid: {}", o.optimizer, fmt::join(names, ", ")));
}

std::string default_study_name(const SearchOptions& o) {
  return fs::path(o.preset.empty() ? o.space_file : o.preset).stem().string();
}

void apply_flags(config::RunConfig& run, const SearchOptions& o) {
  if (o.validation_split) run.data.validation_split = *o.validation_split;
  if (o.budget_type) run.budget.budget_type = *o.budget_type == "time" ? config::BudgetType::time : config::BudgetType::epochs;
  if (o.min_budget) run.budget.min_budget = *o.min_budget;
  if (o.max_budget) run.budget.max_budget = *o.max_budget;
  if (o.eta) run.budget.eta = *o.eta;
  if (run.budget.min_budget > run.budget.max_budget)
    throw InputError(fmt::format("--min-budget {} > --max-budget {} (after the preset's values)", run.budget.min_budget,
                                 run.budget.max_budget));
}

nlohmann::json options_json(const SearchOptions& o) {
  const auto opt = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  return {{"preset", o.preset},       {"budget", opt(o.budget)},
          {"data", o.data},           {"target", o.target},
          {"test", o.test},           {"flatten", o.flatten},
          {"space", o.space_file},    {"space_update", o.space_updates},
          {"budget_type", opt(o.budget_type)}, {"min_budget", opt(o.min_budget)},
          {"max_budget", opt(o.max_budget)},   {"eta", opt(o.eta)},
          {"validation_split", opt(o.validation_split)}, {"optimizer", o.optimizer},
          {"iterations", opt(o.iterations)},   {"workers", opt(o.workers)},
          {"threads", o.threads},     {"device", o.device}, {"precision", o.precision},
          {"seed", o.seed},           {"storage", o.storage},
          {"study", o.study},         {"resume", o.resume},
          {"refit", o.refit},         {"portfolio", o.portfolio}, {"out", o.out},
          {"ensemble_size", o.ensemble_size}, {"replicas", o.replicas},
          {"fail_under", opt(o.fail_under)}, {"trace_test", o.trace_test}, {"lease_s", o.lease_s}};
}

void EvalPace::observe(double seconds, std::int64_t samples, std::optional<std::int64_t> trial) {
  if (!(seconds > 0) || samples <= 0) return;
  const double per_sample = seconds / static_cast<double>(samples);
  std::lock_guard lock(m_mutex);
  m_per_sample = std::max(m_per_sample, per_sample);
  if (trial) m_trial_per_sample[*trial] = std::max(m_trial_per_sample[*trial], per_sample);
}

void EvalPace::model(std::int64_t trial, double budget, double loss) {
  if (!std::isfinite(loss)) return;
  std::lock_guard lock(m_mutex);
  const Model m{trial, budget, loss};
  const auto better = [](const Model& a, const Model& b) {
    if (a.budget != b.budget) return a.budget > b.budget;
    return a.loss != b.loss ? a.loss < b.loss : a.trial < b.trial;
  };
  m_models.insert(std::upper_bound(m_models.begin(), m_models.end(), m, better), m);
}

double EvalPace::seconds_for(std::int64_t samples) const {
  std::lock_guard lock(m_mutex);
  return m_per_sample * static_cast<double>(samples);
}

double EvalPace::model_seconds_for(std::int64_t samples) const {
  std::lock_guard lock(m_mutex);
  double per_sample = 0;
  std::size_t counted = 0;
  for (const auto& m : m_models) {
    const auto pace = m_trial_per_sample.find(m.trial);
    if (pace == m_trial_per_sample.end()) continue;
    per_sample = std::max(per_sample, pace->second);
    if (++counted == k_export_pace_models) break;
  }
  return (counted > 0 ? per_sample : m_per_sample) * static_cast<double>(samples);
}

SearchOptions options_from_json(const nlohmann::json& j) {
  SearchOptions o;
  try {
    const auto opt_double = [&](const char* key) {
      return j.contains(key) && !j.at(key).is_null() ? std::optional<double>(j.at(key).get<double>()) : std::nullopt;
    };
    o.preset = j.at("preset").get<std::string>();
    o.budget = opt_double("budget");
    o.data = j.at("data").get<std::string>();
    o.target = j.at("target").get<std::string>();
    o.test = j.at("test").get<std::string>();
    o.flatten = j.at("flatten").get<bool>();
    o.space_file = j.at("space").get<std::string>();
    o.space_updates = j.at("space_update").get<std::vector<std::string>>();
    if (j.contains("budget_type") && !j.at("budget_type").is_null()) o.budget_type = j.at("budget_type").get<std::string>();
    o.min_budget = opt_double("min_budget");
    o.max_budget = opt_double("max_budget");
    o.eta = opt_double("eta");
    o.validation_split = opt_double("validation_split");
    o.optimizer = j.at("optimizer").get<std::string>();
    if (j.contains("iterations") && !j.at("iterations").is_null()) o.iterations = j.at("iterations").get<std::size_t>();
    o.seed = j.at("seed").get<std::uint64_t>();
    o.study = j.at("study").get<std::string>();
    o.portfolio = j.at("portfolio").get<bool>();
    if (j.contains("ensemble_size")) o.ensemble_size = j.at("ensemble_size").get<int>(); // recorded since ensembles
    if (j.contains("replicas")) o.replicas = j.at("replicas").get<int>();                // recorded since replicas
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("the study's recorded search options are malformed: {}", e.what()));
  }
  return o;
}

SearchInputs load_inputs(const SearchOptions& o) {
  SearchInputs in;
  const data::SourceOptions source_options{o.target, o.data_dir};
  in.dataset = data::load_source(o.data, source_options);
  data::check_training_data(in.dataset, o.data);
  if (!o.test.empty()) {
    in.test = data::load_source(o.test, source_options);
    data::check_test_data(*in.test, o.test, "--test");
    export_::check_input(in.dataset.schema, *in.test);
    export_::labels_for_model(in.dataset.schema, *in.test);
  }
  config::LoadOptions load;
  load.preset = o.preset;
  load.space_file = o.space_file;
  load.space_updates = o.space_updates;
  load.data_kind = in.dataset.schema.kind == data::DataKind::image && !o.flatten ? config::DataKind::image : config::DataKind::feature;
  in.setup = config::load_setup(load);
  apply_flags(in.setup.run, o);
  train::check_space_trainable(in.setup.space, in.dataset.schema);
  in.time_budget = in.setup.run.budget.budget_type == config::BudgetType::time;
  in.unit = in.time_budget ? "s" : "epochs";
  in.devices = train::parse_devices(o.device);
  in.precision = train::parse_precision(o.precision);
  train::check_precision(in.precision, in.device());
  in.split = data::split_train_validation(in.dataset, in.setup.run.data.validation_split, o.seed);
  if (in.split.validation.size() == 0)
    throw InputError(fmt::format("{}: a stratified validation split of {} ({}) leaves no validation sample: {} samples "
                                 "in {} classes (a class needs at least 2 samples to give one to validation)",
                                 o.data, in.setup.run.data.validation_split,
                                 o.validation_split ? "--validation-split" : "the preset's data.validation_split",
                                 in.dataset.size(), in.dataset.schema.num_classes()));
  return in;
}

void log_devices(const SearchInputs& in) {
  spdlog::info("device{}: {}; precision {}", in.devices.size() > 1 ? "s" : "", fmt::join(train::device_names(in.devices), ", "),
               train::precision_name(in.precision));
}

void log_cores(const core::Parallelism& parallel) {
  spdlog::info("cores: {}", parallel.reason);
  if (!parallel.warning.empty()) spdlog::warn("cores: {}", parallel.warning);
}

std::optional<study::StudyRecord> stored_study(study::Storage& storage, const std::string& name) {
  for (auto& s : storage.studies())
    if (s.name == name) return s;
  return std::nullopt;
}

nlohmann::json recorded_inputs(const SearchInputs& in, const std::string& data_fingerprint) {
  return {{"data_fingerprint", data_fingerprint},
          {"data_samples", in.dataset.size()},
          {"validation_split", in.setup.run.data.validation_split},
          {"budget_type", config::to_string(in.setup.run.budget.budget_type)}};
}

void check_same_inputs(const study::StudyRecord& stored, const SearchInputs& in, const std::string& data_fingerprint,
                       const std::string& where) {
  const auto record = stored.settings.find("worker");
  if (record == stored.settings.end() || !record->is_object()) return;
  const nlohmann::json now = recorded_inputs(in, data_fingerprint);
  const auto refuse = [&](const std::string& what) {
    throw InputError(fmt::format("study '{}' in {} cannot be resumed: {}; resume it with what it was made with, or "
                                 "start a new study in another --out DIR",
                                 stored.name, where, what));
  };
  if (const auto was = record->find("data_fingerprint"); was != record->end() && *was != now["data_fingerprint"]) {
    const auto samples = record->find("data_samples");
    refuse(fmt::format("its data changed: {} samples with fingerprint {} now, {} with {} when it was made",
                       in.dataset.size(), data_fingerprint,
                       samples != record->end() ? samples->dump() : std::string("an unrecorded number"),
                       was->is_string() ? was->get<std::string>() : was->dump()));
  }
  for (const char* key : {"validation_split", "budget_type"})
    if (const auto was = record->find(key); was != record->end() && *was != now[key])
      refuse(fmt::format("its {} was {}, now {}", key, was->dump(), now[key].dump()));
}

hpo::TrialPace trial_pace(const train::MeasuredPace& m, const data::TrainValidation& split, bool time_budget) {
  hpo::TrialPace pace;
  pace.time_budget = time_budget;
  pace.setup_seconds = m.setup_seconds;
  pace.epoch_seconds = m.train_seconds_per_sample * static_cast<double>(split.train.size());
  pace.eval_seconds = m.eval_seconds_per_sample * static_cast<double>(split.validation.size());
  pace.min_eval_fraction = std::min(1.0, static_cast<double>(k_min_validation_samples) /
                                             static_cast<double>(std::max<std::int64_t>(1, split.validation.size())));
  return pace;
}

nlohmann::json pace_json(const hpo::TrialPace& pace) {
  return {{"setup_s", pace.setup_seconds}, {"epoch_s", pace.epoch_seconds}, {"validation_pass_s", pace.eval_seconds}};
}

BudgetPlan plan_budgets(const SearchOptions& o, const config::LoadedSetup& setup, const data::TrainValidation& split,
                        std::size_t workers, double search_seconds, const train::MeasuredPace& first) {
  const auto& budget = setup.run.budget;
  const bool time_budget = budget.budget_type == config::BudgetType::time;
  hpo::FidelityInputs in;
  in.search_seconds = search_seconds;
  in.workers = workers;
  in.pace = trial_pace(first, split, time_budget);
  in.pace.typical = budget.typical_pace;
  in.min_budget = budget.min_budget;
  in.max_budget = budget.max_budget;
  in.eta = budget.eta;
  in.min_fixed = o.min_budget.has_value();
  in.max_fixed = o.max_budget.has_value();
  const double smallest_samples = std::min(k_smallest_rung_samples, static_cast<double>(split.train.size()));
  in.smallest_budget = time_budget ? in.pace.eval_seconds + smallest_samples * first.train_seconds_per_sample
                                   : smallest_samples / static_cast<double>(split.train.size());
  in.hyperband = o.optimizer != "random";
  in.train_samples = static_cast<double>(split.train.size());
  BudgetPlan result;
  result.plan = hpo::plan_fidelity(in);
  result.json = {{"measured",
                  {{"first_setup_s", first.first_setup_seconds},
                   {"default", pace_json(in.pace)},
                   {"samples_trained", first.samples_trained},
                   {"samples_evaluated", first.samples_evaluated}}},
                 {"search_s", search_seconds},
                 {"workers", workers},
                 {"preset", {{"min_budget", budget.min_budget}, {"max_budget", budget.max_budget}}},
                 {"min_budget", result.plan.min_budget},
                 {"max_budget", result.plan.max_budget},
                 {"first_trial_s", result.plan.first_trial_seconds},
                 {"cycle_s", result.plan.cycle_seconds},
                 {"reason", result.plan.reason}};
  return result;
}

std::vector<space::Config> portfolio_that_fits(const config::LoadedSetup& setup, const data::TrainValidation& split,
                                               const SearchOptions& o, torch::Device device, std::size_t workers,
                                               double search_seconds, nlohmann::json& fidelity) {
  const auto& budget = setup.run.budget;
  const bool time_budget = budget.budget_type == config::BudgetType::time;
  std::vector<space::Config> kept;
  nlohmann::json measured = nlohmann::json::array();
  train::PaceOptions probe;
  probe.eval_batch_size = setup.run.training.eval_batch_size;
  probe.precision = train::parse_precision(o.precision);
  // Cheaper than the default's probe (whose first batch also pays the preprocessing fit): two batches and a few
  // validation samples tell whether an entry is 4x or 20x the default's pace, which is all the choice needs,
  // and in a 90 s search every second of probing is a second less for the trials.
  probe.batches = 2;
  probe.eval_samples = 32;
  probe.max_seconds = 1;
  // Entries that go on to the largest rung early (budget.portfolio_to_largest_rung) all train to it: together
  // they get the share that each gets otherwise.
  const bool together = budget.portfolio_to_largest_rung;
  double kept_seconds = 0.0;
  for (std::size_t i = 0; i < setup.portfolio.size(); ++i) {
    const auto& entry = setup.portfolio[i];
    const auto m = train::measure_pace(core::Hyperparameters(space::to_json(entry)), split.train, split.validation, o.seed,
                                       device, probe);
    const double seconds = trial_pace(m, split, time_budget).with_largest_rung(budget.max_budget).seconds(budget.max_budget);
    const bool fits = hpo::portfolio_entry_fits(seconds + (together ? kept_seconds : 0.0), search_seconds, workers);
    measured.push_back({{"entry", i}, {"largest_rung_s", seconds}, {"kept", fits}});
    if (fits) {
      kept.push_back(entry);
      kept_seconds += seconds;
    } else {
      spdlog::info("portfolio: entry {} left out: it would take about {:.0f} s to reach {:g} {}{}, more than {:.0f}% of "
                   "the {:.0f} worker-seconds of the search",
                   i + 1, seconds, budget.max_budget, time_budget ? "s" : "epochs",
                   together && kept_seconds > 0 ? fmt::format(" (with the entries before it, {:.0f} s)", seconds + kept_seconds) : "",
                   100 * hpo::k_portfolio_share, search_seconds * static_cast<double>(workers));
    }
  }
  fidelity["portfolio"] = measured;
  return kept;
}

RungPlan plan_rungs(const SearchOptions& o, config::LoadedSetup& setup, const data::TrainValidation& split,
                    const std::optional<nlohmann::json>& stored, torch::Device device, std::size_t workers,
                    EvalPace& eval_pace, const std::function<double()>& search_seconds) {
  auto& budget = setup.run.budget;
  const double preset_max_budget = budget.max_budget;
  RungPlan plan;
  if (stored && stored->contains("min_budget") && stored->contains("max_budget")) {
    if (!o.min_budget) budget.min_budget = stored->at("min_budget").get<double>();
    if (!o.max_budget) budget.max_budget = stored->at("max_budget").get<double>();
    plan.fidelity = {{"resumed", true}, {"min_budget", budget.min_budget}, {"max_budget", budget.max_budget}};
  } else {
    // The default configuration: the study's first trial. (Sampled configurations were tried too: a handful of
    // them says too little about a space whose sizes vary a hundredfold, and the search's deadline checks use
    // the pace of the trials themselves once they run.)
    train::PaceOptions probe;
    probe.eval_batch_size = setup.run.training.eval_batch_size;
    probe.precision = train::parse_precision(o.precision);
    const auto first = train::measure_pace(core::Hyperparameters(space::to_json(setup.space.default_config())),
                                           split.train, split.validation, o.seed, device, probe);
    eval_pace.observe(first.eval_seconds_per_sample * static_cast<double>(first.samples_evaluated),
                      first.samples_evaluated);
    const double seconds_for_search = search_seconds();
    const auto planned = plan_budgets(o, setup, split, workers, seconds_for_search, first);
    if (!planned.plan.fits)
      throw Error(fmt::format("search: no trial can finish within --budget {:g}: {}", *o.budget, planned.plan.reason));
    spdlog::info("rungs: {}", planned.plan.reason);
    budget.min_budget = planned.plan.min_budget;
    budget.max_budget = planned.plan.max_budget;
    plan.prior_seconds_per_unit = planned.plan.first_trial_seconds / planned.plan.min_budget; // the default goes first
    plan.fidelity = planned.json;
    if (o.portfolio && !setup.portfolio.empty())
      plan.portfolio = portfolio_that_fits(setup, split, o, device, workers, seconds_for_search, plan.fidelity);
  }
  if (budget.budget_type == config::BudgetType::epochs) plan.schedule_scale = budget.max_budget / preset_max_budget;
  plan.fidelity["schedule_scale"] = plan.schedule_scale;
  if (plan.schedule_scale != 1.0)
    spdlog::info("learning-rate schedules run {:.3g}x faster, as the rungs do (an epoch of the schedule is {:.3g} epochs; "
                 "a cosine annealing shorter than the preset's largest budget anneals over the top rung instead)",
                 1.0 / plan.schedule_scale, plan.schedule_scale);
  return plan;
}

std::vector<space::UnitVector> initial_configs(const config::LoadedSetup& setup, const std::vector<space::Config>& portfolio,
                                               const std::optional<nlohmann::json>& stored_settings) {
  std::vector<space::Config> configs;
  if (stored_settings && stored_settings->contains("initial_configs")) {
    for (const auto& c : stored_settings->at("initial_configs")) configs.push_back(space::config_from_json(c));
  } else {
    configs.push_back(setup.space.default_config());
    for (const auto& dropped : setup.portfolio_dropped) spdlog::warn("portfolio: {}", dropped);
    for (const auto& entry : portfolio)
      if (std::find(configs.begin(), configs.end(), entry) == configs.end()) configs.push_back(entry);
    if (configs.size() > 1) spdlog::info("portfolio: {} configurations go first, after the default", configs.size() - 1);
  }
  std::vector<space::UnitVector> units;
  for (const auto& c : configs) units.push_back(setup.space.encode(c));
  return units;
}

exec::SearchOptions exec_options(const SearchOptions& o, const config::RunConfig& run, const std::string& study,
                                 const core::Parallelism& parallel, const std::optional<nlohmann::json>& stored,
                                 std::size_t portfolio_entries) {
  exec::SearchOptions e;
  e.study_name = study;
  e.optimizer = o.optimizer;
  e.optimizer_options.hyperband.eta = run.budget.eta;
  e.optimizer_options.hyperband.min_budget = run.budget.min_budget;
  e.optimizer_options.hyperband.max_budget = run.budget.max_budget;
  if (run.budget.budget_type == config::BudgetType::epochs && o.optimizer != "random")
    e.optimizer_options.hyperband.early_budget =
        hpo::early_budget_in_epochs(run.budget.eta, run.budget.min_budget, run.budget.max_budget);
  if (stored && stored->contains("early_budget") && stored->at("early_budget").is_number())
    e.optimizer_options.hyperband.early_budget = stored->at("early_budget").get<double>();
  if (run.budget.portfolio_to_largest_rung && o.optimizer != "random")
    e.optimizer_options.hyperband.early_portfolio = portfolio_entries;
  if (stored) {
    const auto it = stored->find("early_portfolio");
    e.optimizer_options.hyperband.early_portfolio = it != stored->end() && it->is_number_integer() && it->get<std::int64_t>() > 0 ? it->get<std::size_t>() : 0;
  }
  e.seed = o.seed;
  e.workers = parallel.workers;
  e.threads_per_worker = static_cast<std::size_t>(parallel.threads);
  e.max_iterations = o.iterations;
  e.slow_trial_factor = k_slow_trial_factor;
  e.lease_s = o.lease_s;
  e.replicas = static_cast<std::size_t>(std::max(0, o.replicas));
  // The models an export and its ensemble choose from (search_ensemble.hpp); the other checkpoints go once no
  // promotion can continue from them: a search of hundreds of trials kept every one (gigabytes, twice: in
  // checkpoints/ and packed in the database).
  e.keep_checkpoints = k_max_ensemble_candidates;
  return e;
}

} // namespace automl::commands::steps
