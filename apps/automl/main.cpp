// automl: CLI wiring only. Each subcommand fills an options struct and calls a function in lib/commands;
// errors are caught once here and turned into `automl: error: ...` and an exit code (README "Exit codes").

#include "commands/data_inspect.hpp"
#include "core/error.hpp"
#include "core/log.hpp"

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

namespace {

int run(int argc, char** argv) {
  CLI::App app{"automl: architecture and hyperparameter search for neural networks (LibTorch)", "automl"};
  app.set_version_flag("--version", std::string("automl ") + AUTOML_VERSION);
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")->capture_default_str();

  auto* data = app.add_subcommand("data", "Look at data sources");
  data->require_subcommand(1);
  automl::commands::DataInspectOptions inspect;
  auto* inspect_cmd = data->add_subcommand("inspect", "Samples, shape, kind, classes and missing values of a source");
  inspect_cmd->add_option("source", inspect.source, "mnist, mnist:test, a .csv file, an NPY or IDX directory, or a pair 'X.npy,y.npy'")
      ->required();
  inspect_cmd->add_option("--target", inspect.target, "CSV target column (default: the last)");
  inspect_cmd->add_option("--data-dir", inspect.data_dir, "Where named sources live (default: $AUTOML_DATA_DIR or the build's data/)");
  inspect_cmd->add_option("--validation-split", inspect.validation_split, "Also show the stratified train/validation split with this fraction");
  inspect_cmd->add_option("--seed", inspect.seed, "Seed of that split")->capture_default_str();
  inspect_cmd->add_flag("--json", inspect.json, "Print one JSON object");

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "automl: error: " << e.what() << "\nRun 'automl --help' for usage.\n";
    return static_cast<int>(automl::ExitCode::usage);
  }

  automl::core::set_log_level(log_level);
  if (inspect_cmd->parsed()) return automl::commands::data_inspect(inspect, std::cout);
  return static_cast<int>(automl::ExitCode::usage);
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const automl::Error& e) {
    std::cerr << "automl: error: " << e.what() << "\n";
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::cerr << "automl: error: " << e.what() << "\n";
    return static_cast<int>(automl::ExitCode::failure);
  }
}
