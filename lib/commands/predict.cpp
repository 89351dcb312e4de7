#include "commands/predict.hpp"

#include "core/error.hpp"
#include "core/files.hpp"
#include "data/csv.hpp"
#include "data/source.hpp"
#include "export/inference.hpp"
#include "export/model_file.hpp"
#include "train/runtime.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <ostream>

namespace automl::commands {

namespace {

// A CSV whose header is exactly the model's features carries no labels.
data::Dataset load_for_model(const PredictOptions& o, const data::Schema& model) {
  if (data::is_csv_source(o.data) && o.target.empty() && std::filesystem::is_regular_file(o.data) && !model.feature_names.empty() &&
      data::read_csv_header(o.data) == model.feature_names) {
    data::CsvOptions csv;
    csv.unlabeled = true;
    return data::load_csv(o.data, csv);
  }
  return data::load_source(o.data, {o.target, o.data_dir});
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char c : s) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

} // namespace

int predict(const PredictOptions& o, std::ostream& out) {
  if (o.model.empty()) throw InputError("predict: --model is required");
  if (o.data.empty()) throw InputError("predict: --data is required");
  if (o.fail_under && !(*o.fail_under >= 0 && *o.fail_under <= 1))
    throw InputError(fmt::format("--fail-under must be in [0, 1], got {}", *o.fail_under));
  train::configure_threads(o.threads);
  auto model = export_::load_model(o.model);
  const auto& schema = model.info.schema;
  const data::Dataset d = load_for_model(o, schema);
  export_::check_input(schema, d);
  if (o.fail_under && !d.labeled)
    throw InputError(fmt::format("--fail-under needs labels, and {} has none", o.data));
  if (o.fail_under && d.size() == 0) // an accuracy gate that nothing was measured against must not pass
    throw InputError(fmt::format("--fail-under needs samples, and {} has none", o.data));

  const auto probabilities = export_::predict_probabilities(model.module, d.features);
  const auto predicted = probabilities.size(0) ? probabilities.argmax(1) : torch::empty({0}, torch::kInt64);
  const auto classes = static_cast<std::size_t>(schema.num_classes());

  nlohmann::json report{{"model", o.model}, {"data", o.data}, {"samples", d.size()}};
  std::optional<double> accuracy;
  torch::Tensor labels;
  if (d.labeled && d.size() > 0) {
    labels = export_::labels_for_model(schema, d);
    const auto correct = predicted.eq(labels);
    accuracy = correct.to(torch::kFloat64).mean().item<double>();
    report["accuracy"] = *accuracy;
    nlohmann::json per_class = nlohmann::json::object();
    for (std::size_t c = 0; c < classes; ++c) {
      const auto mask = labels.eq(static_cast<std::int64_t>(c));
      const auto n = mask.sum().item<std::int64_t>();
      if (n == 0) continue;
      per_class[schema.class_names[c]] = {{"samples", n},
                                          {"accuracy", correct.masked_select(mask).to(torch::kFloat64).mean().item<double>()}};
    }
    report["per_class"] = per_class;
  }

  if (!o.output.empty()) {
    std::ostringstream csv;
    csv << "id,predicted" << (labels.defined() ? ",label" : "");
    for (const auto& name : schema.class_names) csv << "," << csv_field("p_" + name);
    csv << "\n";
    const auto p = probabilities.contiguous();
    const auto* pp = p.data_ptr<float>();
    for (std::int64_t i = 0; i < d.size(); ++i) {
      csv << i << "," << csv_field(schema.class_names[static_cast<std::size_t>(predicted[i].item<std::int64_t>())]);
      if (labels.defined()) csv << "," << csv_field(schema.class_names[static_cast<std::size_t>(labels[i].item<std::int64_t>())]);
      for (std::size_t c = 0; c < classes; ++c) csv << "," << fmt::format("{:.6g}", pp[static_cast<std::size_t>(i) * classes + c]);
      csv << "\n";
    }
    core::write_file_atomic(o.output, csv.str());
    report["output"] = o.output;
  }

  const bool below = o.fail_under && accuracy && *accuracy < *o.fail_under;
  if (o.fail_under) {
    report["fail_under"] = *o.fail_under;
    report["passed"] = !below;
  }
  if (o.json) {
    out << report.dump(2) << "\n";
  } else {
    fmt::print(out, "model     {}\ndata      {} ({} samples{})\n", o.model, o.data, d.size(), d.labeled ? "" : ", no labels");
    if (accuracy) {
      fmt::print(out, "accuracy  {:.4f}\nper class\n", *accuracy);
      for (const auto& [name, entry] : report["per_class"].items())
        fmt::print(out, "  {:<12} {:.4f}  ({} samples)\n", name, entry["accuracy"].get<double>(), entry["samples"].get<std::int64_t>());
    }
    if (!o.output.empty()) fmt::print(out, "predictions written to {}\n", o.output);
    if (o.fail_under)
      fmt::print(out, "{}: accuracy {:.4f} {} --fail-under {:.4f}\n", below ? "FAILED" : "passed", accuracy.value_or(0.0),
                 below ? "<" : ">=", *o.fail_under);
  }
  return below ? static_cast<int>(ExitCode::below_threshold) : 0;
}

} // namespace automl::commands
