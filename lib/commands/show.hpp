#pragma once
// `automl show`: the summary of a finished or running study (trials by state, the best trial and its
// parameters, validation and test accuracy, the files), a table of its trials and the errors of failed ones.
// Reads only: neither the storage nor the output directory is changed.

#include <iosfwd>
#include <string>

namespace automl::commands {

// Example: ShowOptions o; o.dir = "runs/tiny_cs";   or   o.storage = "sqlite:///runs/x/study.db"; o.study = "x";
struct ShowOptions {
  std::string dir;     // an output directory of `automl search` (its effective_config.json names the storage)
  std::string storage; // or a storage URL (overrides the directory's)
  std::string study;   // the study's name; may be left out when the storage holds one study
  bool json = false;   // one JSON object: the summary plus every trial
};

// Returns 0. Throws InputError (exit 2) for a directory or storage without the study.
int show(const ShowOptions& options, std::ostream& out);

} // namespace automl::commands
