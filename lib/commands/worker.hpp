#pragma once
// `automl worker`: joins a study that `automl search` created (any storage; PostgreSQL for several machines) and
// runs its trials until the study's deadline passes or nothing is left to run. The search records in the study
// what a worker needs (commands/search_steps.hpp options_json: the data source, preset, space files and updates,
// flags; the data's fingerprint; the deadline); the worker loads the same data and space here, refuses (exit 2)
// when its data or space differ from the study's, and runs the same trial objective (commands/trial_objective)
// through exec::Search, which claims the jobs from the store (the optimizer's state is rebuilt from the stored
// trials, so every worker sees the same). It exports nothing: `automl search` exports at the end.

#include <cstddef>
#include <iosfwd>
#include <optional>
#include <string>

namespace automl::commands {

// Example: WorkerOptions o; o.storage = "postgresql://automl@db/automl"; o.study = "tiny_cs";
struct WorkerOptions {
  std::string storage;                // required: the study's storage URL
  std::string study;                  // required: the study's name
  std::string data_dir;               // where named sources live here (empty: default)
  std::optional<std::size_t> workers; // trials at once; unset: one per free core
  int threads = 0;                    // intra-op threads per trial; 0: free cores / workers
  std::string device = "auto";        // auto, cpu, cuda, cuda:<i>, or GPUs cuda:0,1
  std::string precision = "fp32";     // fp32, bf16, fp16
  std::string out;                    // checkpoints and worker.log; empty: runs/<study>/worker-<host>-<pid>
  std::string log_level;              // empty: leave the global level as it is
  bool quiet = false;                 // no per-trial lines on stderr (worker.log keeps them)
  bool json = false;                  // one JSON object on stdout at the end
  double lease_s = 60;                // a running trial's lease: a worker silent for longer loses the trial
  double wait_s = 0;                  // wait this long for the search to create the study (workers started with it)
};

// Returns 0 when the study's deadline passed or nothing was left to run, 128 + signal when stopped by
// SIGINT/SIGTERM. InputError (exit 2): no such study, a study without a worker record, data or space that differ.
int worker(const WorkerOptions& options, std::ostream& out);

} // namespace automl::commands
