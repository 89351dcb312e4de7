#include "commands/report.hpp"

#include "commands/study_source.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "data/source.hpp"
#include "export/inference.hpp"
#include "export/model_file.hpp"
#include "export/model_graph.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <ostream>

namespace automl::commands {

namespace {

namespace fs = std::filesystem;

std::string string_at(const nlohmann::json& j, const char* key) {
  const auto it = j.is_object() ? j.find(key) : j.end();
  return j.is_object() && it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// The exported model on the test source best_config.json names, for a directory whose best_config.json predates
// "test_confusion". Any failure (the source moved, another machine) becomes the note instead.
void evaluate_test_set(report::ReportInput& in, const fs::path& model_file, const std::string& data_dir) {
  const auto test = string_at(in.best_config, "test");
  try {
    auto model = export_::load_model(model_file);
    data::SourceOptions options;
    if (in.effective.is_object()) options.target = string_at(in.effective.value("options", nlohmann::json::object()), "target");
    if (!data_dir.empty()) options.data_dir = data_dir;
    const auto data = data::load_source(test, options);
    export_::check_input(model.info.schema, data);
    const auto labels = export_::labels_for_model(model.info.schema, data);
    const auto predicted = export_::predict_probabilities(model.module, data.features).argmax(1);
    in.test_confusion = report::confusion_matrix(export_::to_indices(labels), export_::to_indices(predicted),
                                                 model.info.schema.class_names);
    in.test_confusion->source = test;
    in.test_note = fmt::format("Computed by automl report from {} on {} (best_config.json does not record it).",
                               model_file.string(), test);
  } catch (const std::exception& e) {
    in.test_note = fmt::format("The test set {} could not be evaluated: {}", test, e.what());
  }
}

void add_test_results(report::ReportInput& in, const fs::path& model_file, const std::string& data_dir) {
  if (!in.best_config.is_object()) {
    in.test_note = "No best_config.json: the search has not exported a model yet (or the report was made from a "
                   "storage URL alone).";
    return;
  }
  if (const auto stored = report::confusion_from_json(in.best_config.value("test_confusion", nlohmann::json()))) {
    in.test_confusion = stored;
    return;
  }
  if (string_at(in.best_config, "test").empty()) {
    in.test_note = "The search had no --test set.";
    return;
  }
  if (!fs::exists(model_file)) {
    in.test_note = fmt::format("{} is missing: the test set cannot be evaluated.", model_file.string());
    return;
  }
  evaluate_test_set(in, model_file, data_dir);
}

} // namespace

report::ReportInput report_input(const StudyReport& study, const nlohmann::json& effective) {
  report::ReportInput in;
  in.study = study.study;
  in.storage = study.storage;
  in.budget_unit = study.budget_unit;
  in.trials = study.trials;
  in.best = study.best;
  in.best_config = study.best_config;
  in.effective = effective;
  in.now = core::unix_now();
  in.generator = std::string("automl ") + AUTOML_VERSION;
  return in;
}

void check_report_path(const fs::path& file) {
  const auto dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  std::error_code ec;
  if (fs::is_directory(file, ec)) throw InputError(fmt::format("{}: is a directory, not a file for the report", file.string()));
  if (!fs::is_directory(dir, ec))
    throw InputError(fmt::format("{}: cannot write the report: {} '{}'", file.string(),
                                 fs::exists(dir, ec) ? "not a directory:" : "no such directory", dir.string()));
  if (::access(dir.c_str(), W_OK) != 0)
    throw InputError(fmt::format("{}: cannot write the report: directory '{}' is not writable", file.string(), dir.string()));
}

void add_model_graph(report::ReportInput& in, const fs::path& model_file) {
  if (model_file.empty() || !fs::exists(model_file)) {
    in.model_graph_note = "No exported model (best_model.pt) to draw.";
    return;
  }
  try {
    auto model = export_::load_model(model_file);
    if (auto svg = export_::graph_svg(model.module)) in.model_graph_svg = std::move(*svg);
    else in.model_graph_note = "Graphviz (dot) is not installed or failed: the graph is left out (scripts/setup installs it).";
  } catch (const Error& e) {
    in.model_graph_note = fmt::format("The model could not be read: {}", e.what());
  }
}

std::size_t write_report(const report::ReportInput& input, const fs::path& file) {
  const auto html = report::render_html(input);
  core::write_file_atomic(file, html);
  return html.size();
}

int report(const ReportOptions& o, std::ostream& out) {
  if (o.dir.empty() && !o.storage.empty() && o.output.empty())
    throw InputError("report: give -o FILE for the report when reading a --storage URL without an output directory");
  const fs::path file = o.output.empty() ? fs::path(o.dir) / "report.html" : fs::path(o.output);
  // Checked first when it does not depend on the directory: a typo in -o fails before anything is read.
  if (!o.output.empty()) check_report_path(file);
  auto source = read_study(o.dir, o.storage, o.study, "report");
  check_report_path(file);
  const auto start = std::chrono::steady_clock::now();

  auto in = report_input(source.report, source.effective);
  const fs::path model_file = o.dir.empty() ? fs::path() : fs::path(o.dir) / "best_model.pt";
  add_test_results(in, model_file, o.data_dir);
  add_model_graph(in, model_file);
  const auto bytes = write_report(in, file);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (o.json) {
    out << nlohmann::json{{"report", file.string()}, {"bytes", bytes}, {"trials", in.trials.size()}, {"study", in.study},
                          {"seconds", seconds}}
               .dump(2)
        << "\n";
  } else {
    fmt::print(out, "report of study '{}' ({} trials) written to {} ({:.0f} KB)\n", in.study, in.trials.size(),
               file.string(), static_cast<double>(bytes) / 1024.0);
  }
  return 0;
}

} // namespace automl::commands
