// automl: CLI wiring only. Each subcommand fills an options struct and calls a function in lib/commands;
// errors are caught once here and turned into `automl: error: ...` and an exit code (README "Exit codes").

#include "commands/data_inspect.hpp"
#include "commands/model.hpp"
#include "commands/predict.hpp"
#include "commands/report.hpp"
#include "commands/search.hpp"
#include "commands/show.hpp"
#include "commands/space.hpp"
#include "commands/train.hpp"
#include "commands/worker.hpp"
#include "core/blas.hpp"
#include "core/error.hpp"
#include "core/log.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdint>
#include <iostream>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

void print_json_error(const std::string& message, automl::ExitCode code) {
  std::cout << nlohmann::json{{"error", message}, {"exit_code", static_cast<int>(code)}}.dump(2) << std::endl;
}

// Unsigned options: CLI11 would read "-1" as 2^64 - 1, and clamp what is above 2^64 - 1 to it.
const CLI::Validator k_not_negative(
    [](std::string& value) {
      if (!value.empty() && value[0] == '-') return "must be >= 0, got " + value;
      try {
        std::stoull(value, nullptr, 10);
      } catch (const std::out_of_range&) {
        return "must be at most " + std::to_string(std::numeric_limits<std::uint64_t>::max()) + ", got " + value;
      } catch (const std::exception&) { // not a number: the option's own parsing says so
      }
      return std::string();
    },
    "INT >= 0");

// An integer option within [low, high]; what is not an integer is left to the option's own parsing.
CLI::Validator integer_range(long long low, long long high) {
  return CLI::Validator(
      [low, high](std::string& value) {
        bool outside = false;
        try {
          std::size_t end = 0;
          const long long v = std::stoll(value, &end);
          outside = end == value.size() && (v < low || v > high);
        } catch (const std::exception&) {
          outside = !value.empty() && value[0] == '-'; // below any long long
        }
        return outside ? "must be between " + std::to_string(low) + " and " + std::to_string(high) + ", got " + value
                       : std::string();
      },
      "INT in [" + std::to_string(low) + ", " + std::to_string(high) + "]");
}

int run(int argc, char** argv) {
  CLI::App app{"automl: architecture and hyperparameter search for neural networks (LibTorch)", "automl"};
  app.set_version_flag("--version", std::string("automl ") + AUTOML_VERSION);
  app.require_subcommand(1);
  // Options of the app (--log-level) are also accepted after the subcommand: `automl train ... --log-level debug`.
  app.fallthrough();
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")->capture_default_str();

  auto* data = app.add_subcommand("data", "Look at data sources");
  data->require_subcommand(1);
  automl::commands::DataInspectOptions inspect;
  auto* inspect_cmd = data->add_subcommand("inspect", "Samples, shape, kind, classes and missing values of a source");
  inspect_cmd
      ->add_option("source", inspect.source,
                   "mnist, mnist:test, a .csv file, an NPY or IDX directory, or a pair 'X.npy,y.npy'")
      ->required();
  inspect_cmd->add_option("--target", inspect.target, "CSV target column (default: the last)");
  inspect_cmd->add_option("--data-dir", inspect.data_dir,
                          "Where named sources live (default: $AUTOML_DATA_DIR or the build's data/)");
  inspect_cmd->add_option("--validation-split", inspect.validation_split,
                          "Also show the stratified train/validation split with this fraction");
  inspect_cmd->add_option("--seed", inspect.seed, "Seed of that split")
      ->check(k_not_negative)
      ->capture_default_str();
  inspect_cmd->add_flag("--json", inspect.json, "Print one JSON object");

  automl::commands::TrainCommandOptions train;
  auto* train_cmd = app.add_subcommand("train", "Train one fixed configuration and export it as TorchScript");
  train_cmd->add_option("--config", train.config, "YAML map of hyperparameters (or a best_config.json)")->required();
  train_cmd->add_option("--data", train.data, "Training source (split into train/validation)")->capture_default_str();
  train_cmd->add_option("--target", train.target, "CSV target column (default: the last)");
  train_cmd->add_option("--data-dir", train.data_dir, "Where named sources live");
  train_cmd->add_option("--test", train.test, "Source evaluated once at the end with the exported model");
  auto* epochs = train_cmd->add_option("--epochs", train.epochs, "Budget in epochs, fractions allowed (default 10)");
  train_cmd->add_option("--seconds", train.seconds, "Budget in seconds of training")->excludes(epochs);
  train_cmd->add_option("--out", train.out, "Output directory (model.pt, train.json)")->required();
  train_cmd->add_option("--validation-split", train.validation_split, "Share held out for validation")
      ->capture_default_str();
  train_cmd->add_option("--seed", train.seed, "Seed of the split, the initialisation and the shuffles")
      ->check(k_not_negative)
      ->capture_default_str();
  train_cmd->add_option("--threads", train.threads, "Intra-op threads (0 = one per free core)")->capture_default_str();
  train_cmd->add_option("--device", train.device, "auto, cpu, cuda or cuda:<i>")->capture_default_str();
  train_cmd->add_option("--precision", train.precision, "fp32, or autocast to bf16 or fp16 (fp16: GPUs, with a dynamic loss scale)")->capture_default_str();
  train_cmd->add_flag("--json", train.json, "Print one JSON object instead of progress");

  automl::commands::PredictOptions predict;
  auto* predict_cmd = app.add_subcommand("predict", "Predict with an exported model; accuracy when labels are present");
  predict_cmd->add_option("--model", predict.model, "Model file written by automl")->required();
  predict_cmd->add_option("--data", predict.data, "Source to predict")->required();
  predict_cmd->add_option("--target", predict.target, "CSV target column (default: the last)");
  predict_cmd->add_option("--data-dir", predict.data_dir, "Where named sources live");
  predict_cmd->add_option("--output", predict.output, "CSV of id, predicted label, label, class probabilities");
  predict_cmd->add_option("--fail-under", predict.fail_under, "Exit 3 when accuracy is below this");
  predict_cmd->add_option("--threads", predict.threads, "Intra-op threads (0 = one per free core)")
      ->capture_default_str();
  predict_cmd->add_flag("--json", predict.json, "Print one JSON object");

  automl::commands::ModelOptions model;
  auto* model_cmd = app.add_subcommand("model", "Show an exported model: architecture, input schema, configuration");
  model_cmd->add_option("file", model.model, "Model file written by automl")->required();
  model_cmd->add_option("--graph", model.graph, "Draw the computation graph: out.dot, out.svg, out.pdf or out.png");
  model_cmd->add_flag("--json", model.json, "Print one JSON object");
  automl::commands::SpaceOptions space;
  auto* space_cmd =
      app.add_subcommand("space", "Print the effective search space of a preset, or check a configuration against it");
  space_cmd->add_option("--preset", space.preset,
                        "Preset name (presets/NAME.yaml, or presets/image/NAME.yaml for image data) or a path");
  space_cmd->add_option("--data", space.data, "Data source: image data picks the image variant of the preset");
  space_cmd->add_option("--target", space.target, "CSV target column of --data (default: the last)");
  space_cmd->add_option("--data-dir", space.data_dir,
                        "Where named sources live (default: $AUTOML_DATA_DIR or the build's data/)");
  space_cmd->add_option("--space", space.space_file,
                        "Search-space YAML that replaces the preset's space (a path, or a name in configs/)");
  space_cmd->add_option("--space-update", space.space_updates,
                        "Space-update YAML (repeatable): change ranges, log, defaults, choices, or fix to a constant");
  space_cmd->add_option(
      "--check", space.check,
      "Check a configuration file (name: value lines) against the space; exit 2 when it does not fit");
  space_cmd->add_option("--sample", space.sample, "Also print N configurations sampled from the prior")
      ->check(k_not_negative)
      ->capture_default_str();
  space_cmd->add_option("--seed", space.seed, "Seed of --sample")->check(k_not_negative)->capture_default_str();
  space_cmd->add_flag("--json", space.json, "Print one JSON object");

  automl::commands::SearchOptions search;
  auto* search_cmd = app.add_subcommand("search", "Search architectures and hyperparameters, export the best model");
  search_cmd->add_option("--preset", search.preset,
                         "Preset name (presets/NAME.yaml, presets/image/NAME.yaml for image data) or a path");
  search_cmd
      ->add_option("--budget", search.budget, "Wall-clock seconds for the whole command, refit and export included")
      ->required();
  search_cmd->add_option("--data", search.data, "Training source, split into train/validation")->capture_default_str();
  search_cmd->add_option("--target", search.target, "CSV target column (default: the last)");
  search_cmd->add_option("--data-dir", search.data_dir, "Where named sources live");
  search_cmd->add_option("--test", search.test,
                         "Source evaluated once at the end with the exported model (never used for selection)");
  search_cmd->add_flag("--flatten", search.flatten,
                       "Treat image data as feature vectors: use the feature variant of the preset");
  search_cmd->add_option("--space", search.space_file,
                         "Search-space YAML that replaces the preset's space (a path, or a name in configs/)");
  search_cmd->add_option("--space-update", search.space_updates, "Space-update YAML (repeatable)");
  search_cmd->add_option("--budget-type", search.budget_type, "What a trial's budget counts: epochs or time (seconds)");
  search_cmd->add_option("--min-budget", search.min_budget, "Smallest trial budget (epochs or seconds)");
  search_cmd->add_option("--max-budget", search.max_budget, "Largest trial budget (epochs or seconds)");
  search_cmd->add_option("--eta", search.eta, "Successive-halving factor (> 1)");
  search_cmd->add_option("--optimizer", search.optimizer, "bohb, hyperband or random")->capture_default_str();
  search_cmd
      ->add_option("--iterations", search.iterations,
                   "Hyperband iterations (brackets) to run; default: until the budget ends")
      ->check(integer_range(1, 1000000000));
  search_cmd->add_option("--workers", search.workers, "Trials at once (default: one per free core)")
      ->check(integer_range(1, 256));
  search_cmd->add_option("--threads", search.threads, "Intra-op threads per trial (0 = free cores / workers)")
      ->capture_default_str();
  search_cmd->add_option("--device", search.device,
                         "auto, cpu, cuda, cuda:<i>, or several GPUs (cuda:0,1) that share the trials")->capture_default_str();
  search_cmd->add_option("--precision", search.precision, "fp32, or autocast to bf16 or fp16 (fp16: GPUs, with a dynamic loss scale)")->capture_default_str();
  search_cmd->add_option("--validation-split", search.validation_split,
                         "Share of --data held out for validation (default: the preset's)");
  search_cmd->add_option("--seed", search.seed, "Seed of the study: split, trials, proposals")
      ->check(k_not_negative)
      ->capture_default_str();
  search_cmd->add_option("--storage", search.storage, "Storage URL (default sqlite:///<out>/study.db)");
  search_cmd->add_option("--study", search.study, "Study name (default: the preset's or space file's name)");
  search_cmd->add_flag("--resume", search.resume, "Continue the study when it exists");
  search_cmd->add_flag("--refit", search.refit,
                       "Retrain the best configuration on train+validation when the time allows");
  search_cmd->add_flag("!--no-portfolio", search.portfolio,
                       "Do not try the preset's portfolio of configurations first (proposals only, after the default)");
  search_cmd->add_option("--ensemble-size", search.ensemble_size,
                         "Rounds of ensemble selection over the trials at the export; the ensemble is exported when it "
                         "beats the best single model on validation (0: always a single model)")
      ->capture_default_str();
  search_cmd->add_option("--replicas", search.replicas,
                         "Seed replicas: near the end of the search, train the best configuration this many more times "
                         "from other seeds, as candidates for the ensemble (0: none)")
      ->capture_default_str();
  search_cmd->add_option("--out", search.out, "Output directory (default runs/<study>)");
  search_cmd->add_option("--log-level", search.log_level, "trace, debug, info, warn, error or off");
  search_cmd->add_flag("--quiet", search.quiet, "No progress or per-trial lines on stderr (search.log keeps them)");
  search_cmd->add_flag("--json", search.json, "Print one JSON object on stdout instead of the summary");
  search_cmd->add_option("--fail-under", search.fail_under,
                         "Exit 3 when the test (else validation) accuracy is below this");
  search_cmd->add_flag(
      "--trace-test", search.trace_test,
      "Evaluate each new best trial on --test, into test_trace.csv (for benchmarks; never used for selection)");

  search_cmd->add_option("--lease", search.lease_s,
                         "Seconds a running trial's claim lasts without a heartbeat: a worker silent for longer (dead, "
                         "frozen, cut off) loses the trial to another")
      ->capture_default_str();
  search_cmd->add_flag("--report", search.report,
                       "Also write report.html (automl report) into the output directory, inside the budget");

  automl::commands::WorkerOptions worker;
  auto* worker_cmd = app.add_subcommand(
      "worker", "Join a study that automl search created (e.g. on PostgreSQL) and run its trials until its deadline");
  worker_cmd->add_option("--storage", worker.storage, "The study's storage URL (postgresql://..., sqlite:///...)")->required();
  worker_cmd->add_option("--study", worker.study, "The study's name")->required();
  worker_cmd->add_option("--data-dir", worker.data_dir, "Where named sources live on this machine");
  worker_cmd->add_option("--workers", worker.workers, "Trials at once (default: one per free core)")
      ->check(integer_range(1, 256));
  worker_cmd->add_option("--threads", worker.threads, "Intra-op threads per trial (0 = free cores / workers)")
      ->capture_default_str();
  worker_cmd->add_option("--device", worker.device,
                         "auto, cpu, cuda, cuda:<i>, or several GPUs (cuda:0,1) that share the trials")->capture_default_str();
  worker_cmd->add_option("--precision", worker.precision, "fp32, or autocast to bf16 or fp16 (fp16: GPUs, with a dynamic loss scale)")->capture_default_str();
  worker_cmd->add_option("--out", worker.out, "Checkpoints and worker.log (default runs/<study>/worker-<host>-<pid>)");
  worker_cmd->add_option("--log-level", worker.log_level, "trace, debug, info, warn, error or off");
  worker_cmd->add_flag("--quiet", worker.quiet, "No per-trial lines on stderr (worker.log keeps them)");
  worker_cmd->add_flag("--json", worker.json, "Print one JSON object on stdout at the end");
  worker_cmd->add_option("--wait", worker.wait_s,
                         "Seconds to wait for the search to create the study (workers started together with it)")
      ->capture_default_str();
  worker_cmd->add_option("--lease", worker.lease_s,
                         "Seconds a running trial's claim lasts without a heartbeat: a worker silent for longer loses it")
      ->capture_default_str();

  automl::commands::ShowOptions show;
  auto* show_cmd = app.add_subcommand("show", "Summary, trials and errors of a study (finished or running)");
  show_cmd->add_option("dir", show.dir, "Output directory of automl search");
  show_cmd->add_option("--storage", show.storage, "Storage URL, e.g. sqlite:///runs/x/study.db");
  show_cmd->add_option("--study", show.study, "Study name (optional when the storage holds one)");
  show_cmd->add_flag("--json", show.json, "Print one JSON object");

  automl::commands::ReportOptions report;
  auto* report_cmd =
      app.add_subcommand("report", "Write one self-contained HTML file with the plots of a study (finished or running)");
  report_cmd->add_option("dir", report.dir, "Output directory of automl search");
  report_cmd->add_option("--storage", report.storage, "Storage URL, e.g. sqlite:///runs/x/study.db");
  report_cmd->add_option("--study", report.study, "Study name (optional when the storage holds one)");
  report_cmd->add_option("-o,--output", report.output, "The HTML file (default DIR/report.html)");
  report_cmd->add_option("--data-dir", report.data_dir,
                         "Where named sources live, when the test set must be evaluated again");
  report_cmd->add_flag("--json", report.json, "Print one JSON object");

  const auto dispatch = [&] {
    if (inspect_cmd->parsed()) return automl::commands::data_inspect(inspect, std::cout);
    if (train_cmd->parsed()) return automl::commands::train(train, std::cout);
    if (worker_cmd->parsed()) return automl::commands::worker(worker, std::cout);
    if (predict_cmd->parsed()) return automl::commands::predict(predict, std::cout);
    if (model_cmd->parsed()) return automl::commands::model(model, std::cout);
    if (space_cmd->parsed()) return automl::commands::space(space, std::cout);
    if (search_cmd->parsed()) {
      search.live_progress = ::isatty(STDERR_FILENO) != 0;
      // The budget counts from main's start, the re-run of core/blas included.
      search.started_ago = automl::core::seconds_since_main();
      return automl::commands::search(search, std::cout);
    }
    if (show_cmd->parsed()) return automl::commands::show(show, std::cout);
    if (report_cmd->parsed()) return automl::commands::report(report, std::cout);
    return static_cast<int>(automl::ExitCode::usage);
  };
  // --json: an error is a JSON object on stdout too, so that a pipeline reading stdout sees why it failed.
  const auto json_requested = [&] {
    for (int i = 1; i < argc; ++i)
      if (std::string_view(argv[i]) == "--json") return true;
    return false;
  }();
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "automl: error: " << e.what() << "\nRun 'automl --help' for usage.\n";
    if (json_requested) print_json_error(e.what(), automl::ExitCode::usage);
    return static_cast<int>(automl::ExitCode::usage);
  }

  try {
    automl::core::set_log_level(log_level);
    return dispatch();
  } catch (const automl::Error& e) {
    if (json_requested) print_json_error(e.what(), e.code());
    throw;
  } catch (const std::exception& e) {
    if (json_requested) print_json_error(e.what(), automl::ExitCode::failure);
    throw;
  }
}

} // namespace

int main(int argc, char** argv) {
  automl::core::use_best_blas_kernel(argv);
  return automl::run_reporting_errors("automl", [&] { return run(argc, argv); });
}
