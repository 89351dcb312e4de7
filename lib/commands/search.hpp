#pragma once
// `automl search`: a whole AutoML run in one command. Loads the data once (split train/validation, shared
// read-only by the workers), loads the preset / space / space updates with the flags on top, runs BOHB (or
// hyperband, random) over the study in the storage, each trial training a pipeline with train::Trainer and
// reporting validation accuracy per epoch, then refits (optionally), exports best_model.pt and writes the
// study's files into the output directory. README "automl search" lists the outputs and exit codes.
//
// Time: `budget` is wall-clock seconds for the whole call. The search gets what is left after reserving time
// for the export (and, with `refit`, for retraining); the call returns within 2% of `budget`. A quick
// measurement at the start (train/pace.hpp) sizes the rungs to the time (hpo/fidelity.hpp): budgets that no
// flag fixed shrink so that the first models come early and the largest rung is reached several times.

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace automl::commands {

// Example: SearchOptions o; o.preset = "tiny_cs"; o.budget = 600; o.flatten = true; o.test = "mnist:test";
struct SearchOptions {
  std::string preset;                     // a name in presets/ or a path; may be empty when space_file is given
  std::optional<double> budget;           // required: wall-clock seconds for the whole command, > 0
  double started_ago = 0;                 // seconds the process ran before search() (the automl binary: since its
                                          // main began, core/blas's re-run included), counted in the budget
  std::string data = "mnist";             // training source, split into train/validation
  std::string target;                     // CSV target column (empty: the last)
  std::string data_dir;                   // where named sources live (empty: default)
  std::string test;                       // evaluated once at the end with the exported model; never for selection
  bool flatten = false;                   // image data as feature vectors: picks the feature variant of the preset
  std::string space_file;                 // replaces the preset's space (a path, or a name in configs/)
  std::vector<std::string> space_updates; // applied in order after the preset and space_file
  // Overrides of the preset's run settings (unset: the preset's value).
  std::optional<std::string> budget_type; // epochs or time
  std::optional<double> min_budget;
  std::optional<double> max_budget;
  std::optional<double> eta;
  std::optional<double> validation_split;
  std::string optimizer = "bohb";         // bohb, hyperband, random
  std::optional<std::size_t> iterations;  // Hyperband iterations (brackets) to run; unset: until the budget ends
  std::optional<std::size_t> workers;     // trials at once; unset: one per free core (core/cpus.hpp)
  int threads = 0;                        // intra-op threads per trial; 0: free cores / workers (at least 1)
  std::string device = "auto";            // auto, cpu, cuda, cuda:<i>, or GPUs cuda:0,1 (train/runtime.hpp)
  std::string precision = "fp32";         // fp32, bf16, fp16 (train/runtime.hpp)
  std::uint64_t seed = 0;                 // the study's seed: split, trial seeds, proposals
  std::string storage;                    // storage URL; empty: sqlite:///<out>/study.db
  std::string study;                      // study name; empty: the preset's (or space file's) name
  bool resume = false;                    // continue the study when it exists (without: an existing study is an error)
  bool refit = false;                     // retrain the best configuration on train+validation when time allows
  bool portfolio = true;                  // try the preset's portfolio first (after the space's default)
  int ensemble_size = 25;                 // rounds of ensemble selection at the export (0: a single model)
  int replicas = 2;                       // seed replicas of the incumbent at the search's end (exec/search.hpp)
  std::string out;                        // output directory; empty: runs/<study>
  std::string log_level;                  // empty: leave the global level as it is
  bool quiet = false;                     // no progress and no per-trial lines on stderr (the log file keeps them)
  bool json = false;                      // one JSON object on stdout instead of the summary
  bool live_progress = false;             // redraw one progress line on stderr (the CLI sets it on a terminal)
  std::optional<double> fail_under;       // exit 3 when the test (else validation) accuracy is below this
  bool trace_test = false;                // evaluate each new incumbent on `test` into test_trace.csv (benchmarks)
  bool report = false;                    // write <out>/report.html (automl report) at the end, inside the budget
  double lease_s = 60;                    // a running trial's lease: a worker silent for longer loses the trial
};

// Writes the summary (or the JSON object) to `out`; logs and progress go to stderr and <out>/search.log.
// Returns 0, 1 when no trial completed, 3 when `fail_under` was missed. Bad flags, files or data throw
// InputError (exit 2) before any training.
int search(const SearchOptions& options, std::ostream& out);

} // namespace automl::commands
