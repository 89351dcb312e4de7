#pragma once
// `automl space`: the effective search space of a preset (after a space file and space updates), one line
// per hyperparameter grouped by component, or as JSON; or the check of a configuration against it.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace automl::commands {

// Example: SpaceOptions{.preset = "tiny_cs", .space_updates = {"narrow_lr.yaml"}, .json = true}
struct SpaceOptions {
  std::string preset;                     // a name in presets/ or a path; may be empty when space_file is given
  std::string data;                       // a data source: image data picks presets/image/NAME.yaml
  std::string target;                     // CSV target column of `data` (empty = last)
  std::string data_dir;                   // where named sources live (empty = default)
  std::string space_file;                 // replaces the preset's space (a path, or a name in configs/)
  std::vector<std::string> space_updates; // space-update files, applied in order
  std::string check;                      // a configuration file to check instead of printing the space
  std::int64_t sample = 0;                // also print this many configurations sampled from the prior
  std::uint64_t seed = 0;                 // seed of that sampling
  bool json = false;                      // one JSON object instead of the listing
};

// Writes to `out`; returns 0, or 2 when the configuration given to `check` does not fit the space (the
// problems are written, one per line). Bad files and flags throw InputError (exit 2).
int space(const SpaceOptions& options, std::ostream& out);

} // namespace automl::commands
