#include "config/preset.hpp"

#include "config/space_yaml.hpp"
#include "config/yaml_node.hpp"
#include "core/error.hpp"
#include "core/suggest.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>

namespace automl::config {

namespace {

const std::vector<std::string> k_preset_keys{"description", "kind",      "preset",        "data",     "budget",
                                             "training",    "hyperparameters", "forbidden", "space_updates", "portfolio"};
// A search-space file may also carry the run settings its space is meant for; they apply after the preset's.
const std::vector<std::string> k_space_file_keys{"description", "data",      "budget",   "training",
                                                 "hyperparameters", "forbidden", "portfolio"};

// A portfolio entry as written: some hyperparameters' values, and where it is.
struct PortfolioEntry {
  Location where;
  space::Config values;
};

// `portfolio:` a list of maps, hyperparameter name -> value (only what differs from the space's defaults).
std::vector<PortfolioEntry> parse_portfolio(const std::string& file, const YAML::Node& node) {
  if (!node.IsSequence()) fail_at(file, node, "portfolio: expected a list of configurations (maps of hyperparameter: value)");
  std::vector<PortfolioEntry> entries;
  for (const auto& item : node) {
    if (!item.IsMap() || item.size() == 0)
      fail_at(file, item, "portfolio: each entry is a non-empty map of hyperparameter: value");
    PortfolioEntry entry{location_of(file, item), {}};
    for (const auto& kv : item) {
      const auto name = kv.first.Scalar();
      if (entry.values.contains(name)) fail_at(file, kv.first, "portfolio: duplicate key '" + name + "'");
      entry.values.set(name, scalar_value(file, kv.second, name));
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

void apply_run_sections(const std::string& file, const YAML::Node& root, RunConfig& run) {
  for (const auto* section : {"data", "budget", "training"})
    if (const auto n = root[section]) apply_section(run, file, section, n);
  check_run_config(run, file);
}

bool looks_like_path(const std::string& s) {
  const auto ends_with = [&](const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return s.find('/') != std::string::npos || ends_with(".yaml") || ends_with(".yml");
}

// What one preset chain builds up: the run settings and the space (once some file defined one).
struct Accumulated {
  RunConfig run;
  std::optional<SpaceSource> space;
  std::vector<std::string> files;
  std::vector<PortfolioEntry> portfolio;
  bool portfolio_updated = false; // space updates came after the portfolio was written
};

void apply_preset_file(const std::filesystem::path& path, std::optional<DataKind> data_kind, Accumulated& acc,
                       std::vector<std::filesystem::path>& chain) {
  const auto canonical = std::filesystem::weakly_canonical(path);
  if (std::find(chain.begin(), chain.end(), canonical) != chain.end()) {
    std::vector<std::string> names;
    for (const auto& c : chain) names.push_back(c.string());
    names.push_back(canonical.string());
    throw InputError(fmt::format("presets build on each other in a loop: {}", fmt::join(names, " -> ")));
  }
  chain.push_back(canonical);
  const std::string file = path.string();
  const auto root = load_yaml_file(path);
  if (root.IsNull()) throw InputError(file + ": the preset is empty");
  check_keys(file, root, k_preset_keys, "");

  if (const auto base = root["preset"]) {
    const auto name = string_value(file, base, "preset");
    std::filesystem::path base_path;
    try {
      base_path = looks_like_path(name) ? path.parent_path() / name : find_preset(name, data_kind);
      if (!std::filesystem::exists(base_path)) throw InputError("preset file '" + base_path.string() + "' does not exist");
    } catch (const InputError& e) {
      fail_at(file, base, std::string("preset: ") + e.what());
    }
    apply_preset_file(base_path, data_kind, acc, chain);
  }
  acc.files.push_back(file);
  if (const auto n = root["description"]) acc.run.description = string_value(file, n, "description");
  if (const auto n = root["kind"]) {
    const auto text = string_value(file, n, "kind");
    if (text == "feature") acc.run.kind = DataKind::feature;
    else if (text == "image") acc.run.kind = DataKind::image;
    else fail_at(file, n, "kind: expected feature or image, got '" + text + "'");
  }
  apply_run_sections(file, root, acc.run);

  if (const auto n = root["hyperparameters"]) {
    acc.space = parse_space(file, n, root["forbidden"]);
    acc.portfolio.clear(); // a base's portfolio was chosen for the base's space
  } else if (const auto f = root["forbidden"]) fail_at(file, f, "forbidden: needs the hyperparameters it refers to in the same file");
  if (const auto n = root["space_updates"]) {
    if (!acc.space) fail_at(file, n, "space_updates: there is no space to update yet (no hyperparameters here or in its base preset)");
    apply_space_updates(*acc.space, file, n);
    acc.portfolio_updated = true;
  }
  if (!acc.space) fail_at(file, root, "a preset needs hyperparameters (or `preset: BASE` to build on)");
  if (const auto n = root["portfolio"]) {
    acc.portfolio = parse_portfolio(file, n);
    acc.portfolio_updated = false;
  }
  chain.pop_back();
}

std::filesystem::path find_space_file(const std::string& name) {
  if (std::filesystem::exists(name)) return name;
  if (!looks_like_path(name)) {
    const auto in_configs = configs_dir() / (name + ".yaml");
    if (std::filesystem::exists(in_configs)) return in_configs;
  }
  throw InputError("search-space file '" + name + "' does not exist (nor " + (configs_dir() / (name + ".yaml")).string() + ")");
}

} // namespace

std::filesystem::path preset_dir() {
  if (const char* env = std::getenv("AUTOML_PRESET_DIR"); env && *env) return env;
  return AUTOML_DEFAULT_PRESET_DIR;
}

std::filesystem::path configs_dir() { return AUTOML_DEFAULT_CONFIG_DIR; }

std::vector<std::string> preset_names(DataKind kind) {
  const auto dir = kind == DataKind::image ? preset_dir() / "image" : preset_dir();
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::filesystem::path find_preset(const std::string& name_or_path, std::optional<DataKind> data_kind) {
  if (looks_like_path(name_or_path)) {
    if (!std::filesystem::exists(name_or_path)) throw InputError("preset file '" + name_or_path + "' does not exist");
    return name_or_path;
  }
  const auto dir = preset_dir();
  const auto image = dir / "image" / (name_or_path + ".yaml");
  const auto feature = dir / (name_or_path + ".yaml");
  if (data_kind == DataKind::image && std::filesystem::exists(image)) return image;
  if (std::filesystem::exists(feature)) return feature;
  if (std::filesystem::exists(image)) return image; // a preset made only for images
  auto names = preset_names(DataKind::feature);
  for (const auto& n : preset_names(DataKind::image))
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  std::sort(names.begin(), names.end());
  throw InputError(fmt::format("unknown preset '{}'{}; presets in {}: {}", name_or_path, core::did_you_mean(name_or_path, names),
                               dir.string(), fmt::join(names, ", ")));
}

LoadedSetup load_setup(const LoadOptions& options) {
  Accumulated acc;
  LoadedSetup setup;
  if (!options.preset.empty()) {
    const auto path = find_preset(options.preset, options.data_kind);
    setup.preset_file = path.string();
    std::vector<std::filesystem::path> chain;
    apply_preset_file(path, options.data_kind, acc, chain);
  }
  if (!options.space_file.empty()) {
    const auto path = find_space_file(options.space_file);
    const std::string file = path.string();
    const auto root = load_yaml_file(path);
    if (root.IsNull()) throw InputError(file + ": the search-space file is empty");
    check_keys(file, root, k_space_file_keys, "");
    if (!root["hyperparameters"]) fail_at(file, root, "a search-space file needs hyperparameters");
    apply_run_sections(file, root, acc.run);
    acc.space = parse_space(file, root["hyperparameters"], root["forbidden"]);
    // The preset's portfolio was chosen for the preset's space, not for this one.
    acc.portfolio = root["portfolio"] ? parse_portfolio(file, root["portfolio"]) : std::vector<PortfolioEntry>{};
    acc.portfolio_updated = false;
    acc.files.push_back(file);
  }
  if (!acc.space) throw InputError("no search space: give a preset or a search-space file");
  for (const auto& update : options.space_updates) {
    const auto root = load_yaml_file(update);
    if (root.IsNull()) throw InputError(update + ": the space-update file is empty");
    apply_space_updates(*acc.space, update, root);
    acc.files.push_back(update);
    acc.portfolio_updated = true;
  }
  setup.space = build_space(*acc.space);
  setup.run = acc.run;
  setup.files = acc.files;
  // An entry that does not fit its own file's space is an error there; one that later space updates made invalid
  // is left out (the updates narrowed the space on purpose).
  for (const auto& entry : acc.portfolio) {
    try {
      setup.portfolio.push_back(setup.space.complete(entry.values));
    } catch (const InputError& e) {
      if (!acc.portfolio_updated) fail_at(entry.where, std::string("portfolio entry: ") + e.what());
      setup.portfolio_dropped.push_back(fmt::format("{}: left out after the space updates: {}", entry.where.to_string(), e.what()));
    }
  }
  return setup;
}

space::Config load_config_values(const std::filesystem::path& path) {
  const std::string file = path.string();
  auto root = load_yaml_file(path);
  if (!root.IsMap()) fail_at(file, root, "a configuration is a map: name: value, one per line");
  // A search's best_config.json holds the configuration under "config", next to its scores.
  if (root["config"] && root["config"].IsMap()) root = root["config"];
  space::Config config;
  for (const auto& entry : root) {
    const auto name = entry.first.Scalar();
    if (config.contains(name)) fail_at(file, entry.first, "duplicate key '" + name + "'");
    config.set(name, scalar_value(file, entry.second, name));
  }
  return config;
}

} // namespace automl::config
