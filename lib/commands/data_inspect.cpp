#include "commands/data_inspect.hpp"

#include "core/error.hpp"
#include "data/labels.hpp"
#include "data/source.hpp"
#include "data/split.hpp"
#include "data/summary.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <ostream>

namespace automl::commands {

namespace {

struct SplitCounts {
  double fraction;
  std::uint64_t seed;
  std::vector<std::int64_t> train; // per class
  std::vector<std::int64_t> validation;
};

std::int64_t sum(const std::vector<std::int64_t>& v) {
  std::int64_t total = 0;
  for (auto x : v) total += x;
  return total;
}

nlohmann::json to_json(const data::DataSummary& s, const std::vector<std::string>& feature_names,
                       const std::optional<SplitCounts>& split) {
  nlohmann::json classes = nlohmann::json::array();
  for (std::size_t c = 0; c < s.class_names.size(); ++c) {
    nlohmann::json entry{{"index", c}, {"name", s.class_names[c]}, {"count", s.class_counts[c]}};
    if (split) {
      entry["train"] = split->train[c];
      entry["validation"] = split->validation[c];
    }
    classes.push_back(entry);
  }
  nlohmann::json by_feature = nlohmann::json::object();
  for (const auto& f : s.missing_by_feature) by_feature[f.name] = f.count;
  nlohmann::json j{
      {"source", s.origin},
      {"kind", data::to_string(s.kind)},
      {"samples", s.samples},
      {"sample_shape", s.sample_shape},
      {"features", s.features},
      {"feature_names", feature_names},
      {"num_classes", s.class_names.size()},
      {"classes", classes},
      {"missing", {{"values", s.missing_values}, {"samples", s.samples_with_missing}, {"by_feature", by_feature}}},
      {"value_range", {s.min_value, s.max_value}},
  };
  if (split)
    j["split"] = {{"validation_split", split->fraction},
                  {"seed", split->seed},
                  {"train", sum(split->train)},
                  {"validation", sum(split->validation)}};
  return j;
}

void write_text(std::ostream& out, const data::DataSummary& s, const std::optional<SplitCounts>& split) {
  fmt::print(out, "source    {}\n", s.origin);
  fmt::print(out, "kind      {}\n", data::to_string(s.kind));
  fmt::print(out, "samples   {}\n", s.samples);
  fmt::print(out, "shape     {} ({} features per sample)\n", fmt::join(s.sample_shape, "x"), s.features);
  fmt::print(out, "values    {:g} .. {:g}\n", s.min_value, s.max_value);
  if (s.missing_values == 0) {
    fmt::print(out, "missing   none\n");
  } else {
    fmt::print(out, "missing   {} values in {} samples\n", s.missing_values, s.samples_with_missing);
    for (const auto& f : s.missing_by_feature) fmt::print(out, "  {:<24} {}\n", f.name, f.count);
  }
  if (split)
    fmt::print(out, "split     validation_split {:g}, seed {}: {} train, {} validation (stratified)\n", split->fraction,
               split->seed, sum(split->train), sum(split->validation));
  fmt::print(out, "classes   {}\n", s.class_names.size());
  std::size_t width = 5;
  for (const auto& name : s.class_names) width = std::max(width, name.size());
  for (std::size_t c = 0; c < s.class_names.size(); ++c) {
    const double share = s.samples ? 100.0 * static_cast<double>(s.class_counts[c]) / static_cast<double>(s.samples) : 0.0;
    fmt::print(out, "  {:<{}} {:>8} {:>6.1f}%", s.class_names[c], width, s.class_counts[c], share);
    if (split) fmt::print(out, "   train {:>8}  validation {:>7}", split->train[c], split->validation[c]);
    fmt::print(out, "\n");
  }
}

} // namespace

int data_inspect(const DataInspectOptions& options, std::ostream& out) {
  if (options.source.empty()) throw InputError("data inspect: a SOURCE is required");
  const data::Dataset dataset = data::load_source(options.source, {options.target, options.data_dir});
  const data::DataSummary summary = data::summarize(dataset);

  std::optional<SplitCounts> split;
  if (options.validation_split) {
    const auto labels = dataset.label_vector();
    const auto n = dataset.schema.num_classes();
    const auto indices = data::stratified_split(labels, n, *options.validation_split, options.seed);
    auto counts_of = [&](const std::vector<std::int64_t>& rows) {
      std::vector<std::int64_t> picked;
      picked.reserve(rows.size());
      for (auto r : rows) picked.push_back(labels[static_cast<std::size_t>(r)]);
      return data::class_counts(picked, n);
    };
    split = SplitCounts{*options.validation_split, options.seed, counts_of(indices.train), counts_of(indices.validation)};
  }

  if (options.json)
    out << to_json(summary, dataset.schema.feature_names, split).dump(2) << "\n";
  else
    write_text(out, summary, split);
  return 0;
}

} // namespace automl::commands
