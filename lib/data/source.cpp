#include "data/source.hpp"

#include "core/error.hpp"
#include "data/idx.hpp"
#include "data/npy.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>

namespace automl::data {

namespace fs = std::filesystem;

namespace {

enum class Split { any, train, test };

bool has_suffix(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool matches_split(const std::string& file_name, Split split) {
  switch (split) {
  case Split::any: return true;
  case Split::train: return file_name.rfind("train", 0) == 0;
  case Split::test: return file_name.rfind("t10k", 0) == 0 || file_name.rfind("test", 0) == 0;
  }
  return false;
}

std::vector<fs::path> files_containing(const fs::path& dir, const std::string& part, Split split) {
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.find(part) != std::string::npos && matches_split(name, split))
      found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

// The one images file and one labels file of `dir` for `split`. With Split::any and train + test pairs
// present, the training pair is meant.
Dataset load_idx_dir(const fs::path& dir, Split split) {
  if (split == Split::any && files_containing(dir, "images-idx", Split::any).size() > 1) split = Split::train;
  const auto images = files_containing(dir, "images-idx", split);
  const auto labels = files_containing(dir, "labels-idx", split);
  if (images.size() != 1 || labels.size() != 1) {
    const char* which = split == Split::test ? " test" : split == Split::train ? " training" : "";
    auto names = [](const std::vector<fs::path>& paths) {
      std::vector<std::string> out;
      for (const auto& p : paths) out.push_back(p.filename().string());
      return fmt::format("{}", fmt::join(out, ", "));
    };
    throw InputError(fmt::format("{}: expected one{} IDX pair (*images-idx*, *labels-idx*), found images [{}] and "
                                 "labels [{}]",
                                 dir.string(), which, names(images), names(labels)));
  }
  return load_idx(images[0], labels[0]);
}

Dataset load_dir(const fs::path& dir, Split split) {
  if (fs::exists(dir / "X.npy") || fs::exists(dir / "y.npy")) {
    if (split != Split::any)
      throw InputError(fmt::format("{}: ':train'/':test' selects an IDX pair; this is an NPY directory",
                                   dir.string()));
    return load_npy(dir / "X.npy", dir / "y.npy");
  }
  return load_idx_dir(dir, split);
}

Dataset load_mnist(const fs::path& data_dir, Split split) {
  const fs::path dir = data_dir / "mnist";
  const bool test = split == Split::test;
  const std::string prefix = test ? "t10k" : "train";
  for (const char* kind : {"images-idx3", "labels-idx1"}) {
    const fs::path raw = dir / fmt::format("{}-{}-ubyte", prefix, kind);
    if (!fs::exists(raw) && !fs::exists(raw.string() + ".gz"))
      throw InputError(fmt::format("MNIST not found: {} is missing; run scripts/setup to fetch it, or set "
                                   "AUTOML_DATA_DIR to a directory holding mnist/",
                                   raw.string()));
  }
  auto pick = [&](const char* kind) {
    const fs::path raw = dir / fmt::format("{}-{}-ubyte", prefix, kind);
    return fs::exists(raw) ? raw : fs::path(raw.string() + ".gz");
  };
  Dataset d = load_idx(pick("images-idx3"), pick("labels-idx1"));
  d.origin = test ? "mnist:test" : "mnist";
  return d;
}

} // namespace

bool is_csv_source(const std::string& source) {
  return !fs::is_directory(source) && (has_suffix(source, ".csv") || has_suffix(source, ".tsv"));
}

fs::path default_data_dir() {
  if (const char* env = std::getenv("AUTOML_DATA_DIR"); env && *env) return env;
  return AUTOML_DEFAULT_DATA_DIR;
}

namespace {

Dataset load_unchecked(const std::string& source, const SourceOptions& options) {
  if (source.empty()) throw InputError("empty data source");
  const fs::path data_dir = options.data_dir.empty() ? default_data_dir() : options.data_dir;

  // Split an optional ":train" / ":test" suffix off a name or directory.
  std::string base = source;
  Split split = Split::any;
  for (auto [suffix, value] : {std::pair{":train", Split::train}, std::pair{":test", Split::test}}) {
    if (has_suffix(source, suffix)) {
      base = source.substr(0, source.size() - std::string(suffix).size());
      split = value;
    }
  }

  const bool is_csv = is_csv_source(source);
  if (!options.target.empty() && !is_csv)
    throw InputError(fmt::format("--target only applies to CSV sources, not '{}'", source));

  if (base == "mnist" && !fs::exists(base)) return load_mnist(data_dir, split);

  if (const auto comma = source.find(','); comma != std::string::npos) {
    const fs::path first = source.substr(0, comma);
    const fs::path second = source.substr(comma + 1);
    for (const auto& p : {first, second})
      if (!fs::is_regular_file(p)) throw InputError(fmt::format("{}: no such file (in data source '{}')", p.string(), source));
    if (first.extension() == ".npy" && second.extension() == ".npy") return load_npy(first, second);
    return load_idx(first, second);
  }
  if (is_csv) {
    if (!fs::is_regular_file(source))
      throw InputError(fmt::format("{}: {}", source, fs::exists(source) ? "not a regular file (a directory, pipe or device)"
                                                                        : "no such file"));
    return load_csv(source, CsvOptions{options.target});
  }
  if (fs::is_directory(base)) return load_dir(base, split);
  if (fs::exists(source))
    throw InputError(fmt::format("{}: unknown data format; expected a .csv/.tsv file, a directory with X.npy + y.npy "
                                 "or an IDX pair, or 'X.npy,y.npy' / 'images,labels'",
                                 source));
  throw InputError(fmt::format("unknown data source '{}': not a file or directory, and not a named source "
                               "(mnist, mnist:train, mnist:test)",
                               source));
}

// The first infinite feature value, as "sample i, feature j (value)", when there is one. (NaN is a missing value,
// as a CSV's empty cell: the preprocessing imputes it.)
void check_finite(const Dataset& d, const std::string& source) {
  if (!d.features.defined() || !d.features.is_floating_point() || d.features.numel() == 0) return;
  const auto flat = d.features.reshape({d.features.size(0), -1});
  const auto bad = torch::isinf(flat);
  if (!bad.any().item<bool>()) return;
  const auto where = bad.nonzero()[0];
  const auto sample = where[0].item<std::int64_t>(), feature = where[1].item<std::int64_t>();
  const std::string name = feature < static_cast<std::int64_t>(d.schema.feature_names.size())
                               ? fmt::format(" ('{}')", d.schema.feature_names[static_cast<std::size_t>(feature)])
                               : std::string();
  throw InputError(fmt::format("{}: sample {}, feature {}{}: {} is not a finite number (a missing value is NaN)", source, sample, feature, name,
                               flat[sample][feature].item<double>()));
}

bool one_class(const Dataset& d) { return d.size() > 0 && !d.labels.ne(d.labels[0]).any().item<bool>(); }

} // namespace

Dataset load_source(const std::string& source, const SourceOptions& options) {
  Dataset d = load_unchecked(source, options);
  check_finite(d, source);
  return d;
}

void check_training_data(const Dataset& data, const std::string& source) {
  if (data.size() == 0) throw InputError(fmt::format("{}: no samples to train on", source));
  if (!data.labeled) throw InputError(fmt::format("{}: no labels to train on", source));
  if (one_class(data))
    throw InputError(fmt::format("{}: every sample is of class '{}': a classifier needs samples of at least two classes",
                                 source, data.schema.class_names.empty() ? std::string("?") : data.schema.class_names.at(
                                     static_cast<std::size_t>(data.labels[0].item<std::int64_t>()))));
}

void check_test_data(const Dataset& data, const std::string& source, const std::string& flag) {
  if (data.size() == 0) throw InputError(fmt::format("{} {}: no samples to evaluate", flag, source));
}

} // namespace automl::data
