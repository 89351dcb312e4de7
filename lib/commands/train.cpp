#include "commands/train.hpp"

#include "config/preset.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/hyperparameters.hpp"
#include "core/suggest.hpp"
#include "data/source.hpp"
#include "export/inference.hpp"
#include "export/model_file.hpp"
#include "train/runtime.hpp"
#include "train/trainer.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <memory>
#include <ostream>

namespace automl::commands {

namespace {

// How many raw samples the export check compares between the saved file and the trained model.
constexpr std::int64_t k_check_samples = 64;
// Budgets beyond any training run: a typo (1e19 epochs overflowed the sample count and trained nothing, forever).
constexpr double k_max_epochs = 1e6;
constexpr double k_max_seconds = 365.0 * 86400.0;

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

} // namespace

int train(const TrainCommandOptions& o, std::ostream& out) {
  if (o.config.empty()) throw InputError("train: --config is required");
  if (o.out.empty()) throw InputError("train: --out is required");
  if (o.epochs && o.seconds) throw InputError("train: give --epochs or --seconds, not both");
  train::TrainBudget budget;
  if (o.seconds) budget.seconds = *o.seconds;
  else budget.epochs = o.epochs.value_or(10.0);
  if (!(budget.epochs > 0 || budget.seconds > 0)) throw InputError("train: the budget must be > 0");
  if (!(budget.epochs <= k_max_epochs)) throw InputError(fmt::format("--epochs: at most {:g}, got {:g}", k_max_epochs, budget.epochs));
  if (!(budget.seconds <= k_max_seconds))
    throw InputError(fmt::format("--seconds: at most {:g} (a year), got {:g}", k_max_seconds, budget.seconds));

  core::Hyperparameters hp(space::to_json(config::load_config_values(o.config)));
  auto lookups = std::make_shared<core::Hyperparameters::Lookups>();
  hp.record_lookups(lookups);
  const int threads = train::configure_threads(o.threads);
  const torch::Device device = train::parse_device(o.device);
  const train::Precision precision = train::parse_precision(o.precision);
  train::check_precision(precision, device);
  const data::Dataset dataset = data::load_source(o.data, {o.target, o.data_dir});
  data::check_training_data(dataset, o.data);
  const auto split = data::split_train_validation(dataset, o.validation_split, o.seed);
  std::optional<data::Dataset> test;
  if (!o.test.empty()) {
    test = data::load_source(o.test, {o.target, o.data_dir});
    data::check_test_data(*test, o.test, "--test");
    export_::check_input(dataset.schema, *test);
    export_::labels_for_model(dataset.schema, *test);
  }

  train::Trainer trainer(hp, split.train, split.validation, o.seed, device);
  // Every key of the configuration is read by some component as the trainer is built: one that is not is a typo
  // (optimizer:sgd:lrr), which would otherwise train silently with the default.
  hp.record_lookups(nullptr);
  const std::vector<std::string> wanted(lookups->keys_wanted.begin(), lookups->keys_wanted.end());
  for (const auto& [key, value] : hp.json().items())
    if (!lookups->keys_read.count(key))
      throw InputError(fmt::format("{}: '{}' is used by no component of this configuration{}", o.config, key,
                                   core::did_you_mean(key, wanted)));
  trainer.set_precision(precision);
  if (!o.json) {
    fmt::print(out, "{}", train::describe(trainer.pipeline()));
    fmt::print(out, "training on {} samples, validating on {}, {} thread(s), {}\n", split.train.size(),
               split.validation.size(), threads, device.str());
  }
  const auto result = trainer.train(budget, {[&](const train::EpochReport& r) {
                                               if (!o.json)
                                                 fmt::print(out, "epoch {:6.2f}  loss {:.4f}  val_acc {:.4f}  val_loss {:.4f}  lr {:.3g}  {:.1f}s\n",
                                                            r.epoch, r.train_loss, r.val_accuracy, r.val_loss, r.lr, r.seconds);
                                               out.flush();
                                               return true;
                                             },
                                             {}});
  if (result.status == train::TrainStatus::failed) throw Error("train: " + result.message);

  auto& module = trainer.pipeline().module;
  module.to(torch::kCPU);
  const auto& check_source = split.validation.size() > 0 ? split.validation : split.train;
  const auto check = check_source.features.narrow(0, 0, std::min(k_check_samples, check_source.size()));
  nlohmann::json history = nlohmann::json::array();
  for (const auto& r : result.history)
    history.push_back({{"epoch", r.epoch}, {"train_loss", r.train_loss}, {"val_accuracy", number_or_null(r.val_accuracy)},
                       {"val_loss", number_or_null(r.val_loss)}, {"lr", r.lr}, {"seconds", r.seconds}});
  nlohmann::json summary{{"data", o.data},
                         {"train_samples", split.train.size()},
                         {"validation_samples", split.validation.size()},
                         {"epochs", trainer.epochs_done()},
                         {"seconds", trainer.seconds_trained()},
                         {"val_accuracy", number_or_null(result.val_accuracy)},
                         {"val_loss", number_or_null(result.val_loss)},
                         {"seed", o.seed},
                         {"threads", threads},
                         {"device", device.str()},
                         {"history", history}};

  const auto model_path = std::filesystem::path(o.out) / "model.pt";
  export_::ModelInfo info{hp.json(), dataset.schema, train::describe(trainer.pipeline()), summary, {}, {}};
  if (test) {
    export_::check_input(dataset.schema, *test);
    const auto probabilities = export_::predict_probabilities(module, test->features);
    const auto labels = export_::labels_for_model(dataset.schema, *test);
    const double accuracy = probabilities.argmax(1).eq(labels).to(torch::kFloat64).mean().item<double>();
    summary["test"] = o.test;
    summary["test_accuracy"] = accuracy;
    info.training = summary;
  }
  export_::save_model(module, info, model_path, check);
  summary["model"] = model_path.string();
  core::write_file_atomic(std::filesystem::path(o.out) / "train.json", summary.dump(2) + "\n");

  if (o.json) {
    out << summary.dump(2) << "\n";
  } else {
    fmt::print(out, "validation accuracy {:.4f} after {:.2f} epochs in {:.1f}s\n", result.val_accuracy,
               trainer.epochs_done(), trainer.seconds_trained());
    if (test) fmt::print(out, "test accuracy {:.4f} on {}\n", summary["test_accuracy"].get<double>(), o.test);
    fmt::print(out, "model written to {} (checked after reloading)\n", model_path.string());
  }
  return 0;
}

} // namespace automl::commands
