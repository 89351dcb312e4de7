#pragma once
// Presets and the other files that make a search's setup: preset (by name or path), search-space file,
// space updates, in that order. File formats: README "Search spaces and presets".
//
//   presets/NAME.yaml         a preset for feature data (images are flattened into feature vectors)
//   presets/image/NAME.yaml   its variant for image data, picked when the data is an image set
//   configs/NAME.yaml         search-space files (--space NAME or a path)

#include "config/run_config.hpp"
#include "space/config.hpp"
#include "space/search_space.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace automl::config {

// $AUTOML_PRESET_DIR if set, else the presets/ directory of the source tree this binary was built from.
std::filesystem::path preset_dir();
// The configs/ directory of the source tree (search-space files such as convnet_optuna.yaml).
std::filesystem::path configs_dir();

// The names of the presets for a kind of data, sorted.
std::vector<std::string> preset_names(DataKind kind);

// The file of a preset. A path (it has a '/' or ends in .yaml/.yml) is taken as is; a name is looked up in
// preset_dir(): image/NAME.yaml when `data_kind` is image and that exists, else NAME.yaml. Throws
// InputError for a missing file or an unknown name (listing the presets, with "did you mean").
std::filesystem::path find_preset(const std::string& name_or_path, std::optional<DataKind> data_kind);

// Example: LoadOptions{.preset = "tiny_cs", .space_updates = {"narrow_lr.yaml"}}
struct LoadOptions {
  std::string preset;                     // name or path; empty: RunConfig defaults, and space_file is required
  std::optional<DataKind> data_kind;      // the data's kind: picks the image variant of a preset
  std::string space_file;                 // replaces the preset's space: a path, or a name in configs_dir()
  std::vector<std::string> space_updates; // files of space updates, applied in order after everything else
};

struct LoadedSetup {
  RunConfig run;
  space::SearchSpace space;
  // The configurations a search tries first, before any proposal (after the space's default): the `portfolio`
  // of the preset (the last file of its chain that has one) or of the search-space file, completed with the
  // space's defaults. Empty when neither has one.
  std::vector<space::Config> portfolio;
  // Portfolio entries left out because the space updates made them invalid, one line each (for the log).
  std::vector<std::string> portfolio_dropped;
  std::string preset_file;        // the preset's file, empty without a preset
  std::vector<std::string> files; // every file read, in the order applied
};

// Reads the preset (and the presets it builds on through `preset: BASE`), the space file and the updates.
// Every error is an InputError at file:line:col.
LoadedSetup load_setup(const LoadOptions& options);

// A configuration file (`name: value` lines, or JSON; a best_config.json's "config" object), as
// `automl space --check` and `automl train` read it.
space::Config load_config_values(const std::filesystem::path& path);

} // namespace automl::config
