#pragma once
// `automl report`: one self-contained HTML file showing what a search did (lib/report/html_report.hpp lists the
// sections). Reads the study read-only, so it works on a running search too, and never changes the output
// directory except for the report file itself (written atomically).

#include "commands/study_report.hpp"
#include "report/html_report.hpp"

#include <filesystem>
#include <iosfwd>
#include <string>

namespace automl::commands {

// Example: ReportOptions o; o.dir = "runs/tiny_cs";   (writes runs/tiny_cs/report.html)
struct ReportOptions {
  std::string dir;      // an output directory of `automl search`
  std::string storage;  // or a storage URL (overrides the directory's)
  std::string study;    // the study's name; may be left out when the storage holds one study
  std::string output;   // the HTML file; default DIR/report.html (required without DIR)
  std::string data_dir; // where named test sources live, when the test set must be evaluated (see below)
  bool json = false;    // print one JSON object (file, bytes, trials) instead of a line
};

// Writes the report and prints where. The best model's per-class accuracy and confusion matrix come from
// best_config.json ("test_confusion", written by `automl search --test`); for a directory written before that
// existed, best_model.pt is evaluated on the recorded test source when it loads. Throws InputError (exit 2) for a
// missing directory or study, a bad storage URL, or an output whose directory is missing or not writable.
int report(const ReportOptions& options, std::ostream& out);

// The page's input from a study as show and search hold it (trials, best trial, best_config.json) and the
// directory's effective_config.json; the time is now. Test results and the graph are left to the caller.
report::ReportInput report_input(const StudyReport& study, const nlohmann::json& effective);

// The forward graph of the model in `model_file` drawn into input.model_graph_svg, or input.model_graph_note
// saying why not (no model file, Graphviz missing). Used by `report` and by `automl search --report`.
void add_model_graph(report::ReportInput& input, const std::filesystem::path& model_file);

// Renders the page and writes it to `file` atomically; returns its size in bytes.
std::size_t write_report(const report::ReportInput& input, const std::filesystem::path& file);

// Throws InputError naming `file` when its directory does not exist or cannot be written.
void check_report_path(const std::filesystem::path& file);

} // namespace automl::commands
