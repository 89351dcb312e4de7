#include "commands/space.hpp"

#include "config/preset.hpp"
#include "core/error.hpp"
#include "core/rng.hpp"
#include "data/source.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <ostream>

namespace automl::commands {

namespace {

config::LoadedSetup load(const SpaceOptions& options) {
  if (options.preset.empty() && options.space_file.empty())
    throw InputError("give a preset (--preset NAME|FILE) or a search-space file (--space FILE)");
  if (options.sample < 0) throw InputError(fmt::format("--sample must be >= 0, got {}", options.sample));
  // Printed after all are drawn (JSON is one object): a bound keeps that in memory (~3 KB a configuration).
  constexpr std::int64_t k_max_samples = 100000;
  if (options.sample > k_max_samples)
    throw InputError(fmt::format("--sample: at most {}, got {}", k_max_samples, options.sample));
  config::LoadOptions load_options;
  load_options.preset = options.preset;
  load_options.space_file = options.space_file;
  load_options.space_updates = options.space_updates;
  if (!options.data.empty()) {
    data::SourceOptions source_options;
    source_options.target = options.target;
    source_options.data_dir = options.data_dir;
    const auto dataset = data::load_source(options.data, source_options);
    load_options.data_kind = dataset.schema.kind == data::DataKind::image ? config::DataKind::image : config::DataKind::feature;
  }
  return config::load_setup(load_options);
}

// What the listing and the JSON call the space: the preset as given, else the space file.
std::string space_label(const SpaceOptions& options) { return options.preset.empty() ? options.space_file : options.preset; }

// The component a hyperparameter is listed under: its name up to the first ':'.
std::string group_of(const std::string& name) { return name.substr(0, name.find(':')); }

// Columns wider than this stop being padded: a long list of choices should not push every line right.
constexpr std::size_t k_max_column = 32;

std::string pad(const std::string& text, std::size_t width) {
  return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

void write_listing(std::ostream& out, const SpaceOptions& options, const config::LoadedSetup& setup) {
  const auto& space = setup.space;
  const auto& hps = space.hyperparameters();
  const auto constants = static_cast<std::size_t>(
      std::count_if(hps.begin(), hps.end(), [](const space::Hyperparameter& hp) { return !hp.is_dimension(); }));
  fmt::print(out, "{:<12}{}\n", "space", space_label(options));
  if (!setup.run.description.empty()) fmt::print(out, "{:<12}{}\n", "", setup.run.description);
  fmt::print(out, "{:<12}{}\n", "files", fmt::join(setup.files, ", "));
  fmt::print(out, "{:<12}{}\n", "fingerprint", space.fingerprint());
  fmt::print(out, "{:<12}{}\n", "kind", config::to_string(setup.run.kind));
  // The run settings, one line per section: "budget      budget_type epochs, min_budget 1, ...".
  std::vector<std::pair<std::string, std::vector<std::string>>> sections;
  for (const auto& [key, value] : config::describe(setup.run)) {
    const auto dot = key.find('.');
    const auto section = key.substr(0, dot);
    if (sections.empty() || sections.back().first != section) sections.push_back({section, {}});
    sections.back().second.push_back(key.substr(dot + 1) + " " + value);
  }
  for (const auto& [section, items] : sections) fmt::print(out, "{:<12}{}\n", section, fmt::join(items, ", "));
  const auto plural = [](std::size_t n) { return n == 1 ? "" : "s"; };
  fmt::print(out, "\n{} free hyperparameter{} (dimensions), {} constant{}, {} forbidden clause{}\n", space.dimension(),
             plural(space.dimension()), constants, plural(constants), space.forbidden().size(), plural(space.forbidden().size()));

  std::size_t name_width = 4, domain_width = 6, default_width = 0;
  for (const auto& hp : hps) {
    name_width = std::max(name_width, hp.name.size());
    domain_width = std::min(k_max_column, std::max(domain_width, hp.domain_text().size()));
    if (hp.is_dimension())
      default_width = std::min(k_max_column, std::max(default_width, space::to_string(hp.effective_default()).size() + 8));
  }
  std::vector<std::string> groups;
  for (const auto& hp : hps)
    if (std::find(groups.begin(), groups.end(), group_of(hp.name)) == groups.end()) groups.push_back(group_of(hp.name));
  bool previous_was_single = false;
  for (const auto& group : groups) {
    const auto members = std::count_if(hps.begin(), hps.end(), [&](const space::Hyperparameter& hp) { return group_of(hp.name) == group; });
    // A hyperparameter without a component of its own needs no heading; such ones are listed together.
    const bool single = members == 1;
    if (!single) fmt::print(out, "\n[{}]\n", group);
    else if (!previous_was_single) out << "\n";
    previous_was_single = single;
    for (const auto& hp : hps) {
      if (group_of(hp.name) != group) continue;
      std::string line = "  " + pad(hp.name, name_width) + "  " + pad(space::to_string(hp.type), 11) + "  " +
                         pad(hp.domain_text(), domain_width) + "  " +
                         pad(hp.is_dimension() ? "default " + space::to_string(hp.effective_default()) : "", default_width);
      if (!hp.conditions.empty()) {
        std::vector<std::string> conditions;
        for (const auto& c : hp.conditions) conditions.push_back(c.to_string());
        line += fmt::format("  if {}", fmt::join(conditions, " && "));
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out << line << "\n";
    }
  }
  if (!space.forbidden().empty()) {
    fmt::print(out, "\nforbidden\n");
    for (const auto& clause : space.forbidden()) fmt::print(out, "  {}\n", clause.to_string());
  }
}

int run_check(const SpaceOptions& options, const config::LoadedSetup& setup, std::ostream& out) {
  const auto config = config::load_config_values(options.check);
  const auto problems = setup.space.check(config);
  if (options.json) {
    out << nlohmann::json{{"config", options.check},
                          {"valid", problems.empty()},
                          {"problems", problems},
                          {"fingerprint", setup.space.fingerprint()}}
               .dump(2)
        << "\n";
  } else if (problems.empty()) {
    fmt::print(out, "{}: valid ({} hyperparameters)\n", options.check, config.size());
  } else {
    fmt::print(out, "{}: {} problem{}\n", options.check, problems.size(), problems.size() == 1 ? "" : "s");
    for (const auto& p : problems) fmt::print(out, "  {}\n", p);
  }
  return problems.empty() ? 0 : static_cast<int>(ExitCode::usage);
}

} // namespace

int space(const SpaceOptions& options, std::ostream& out) {
  const auto setup = load(options);
  if (!options.check.empty()) return run_check(options, setup, out);

  std::vector<space::Config> samples;
  core::Rng rng(options.seed);
  for (std::int64_t i = 0; i < options.sample; ++i) samples.push_back(setup.space.sample(rng));

  if (options.json) {
    auto j = setup.space.to_json();
    j["space"] = space_label(options);
    j["files"] = setup.files;
    j["fingerprint"] = setup.space.fingerprint();
    j["dimensions"] = setup.space.dimension();
    j["run_config"] = config::to_json(setup.run);
    j["default_config"] = to_json(setup.space.default_config());
    j["portfolio"] = nlohmann::json::array();
    for (const auto& c : setup.portfolio) j["portfolio"].push_back(to_json(c));
    if (options.sample > 0) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& s : samples) list.push_back(to_json(s));
      j["samples"] = list;
    }
    out << j.dump(2) << "\n";
    return 0;
  }
  write_listing(out, options, setup);
  if (!setup.portfolio.empty()) {
    fmt::print(out, "\nportfolio ({} configurations a search tries first, after the default; what differs from it)\n",
               setup.portfolio.size());
    const auto defaults = setup.space.complete({}); // as written (default_config() is the unit-cube round trip's)
    for (const auto& c : setup.portfolio) {
      nlohmann::json differs = nlohmann::json::object();
      for (const auto& [name, value] : c)
        if (!defaults.contains(name) || !space::values_equal(defaults.at(name), value)) differs[name] = space::to_json(value);
      out << "  " << differs.dump() << "\n";
    }
  }
  for (const auto& dropped : setup.portfolio_dropped) fmt::print(out, "portfolio: {}\n", dropped);
  if (options.sample > 0) {
    fmt::print(out, "\nsamples (seed {})\n", options.seed);
    for (const auto& s : samples) out << "  " << to_json(s).dump() << "\n";
  }
  return 0;
}

} // namespace automl::commands
