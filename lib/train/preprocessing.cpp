#include "train/preprocessing.hpp"

#include "core/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace automl::train {

namespace {

// Per-column fill values for missing entries, ignoring NaN. Columns with no value at all get 0.
torch::Tensor imputation_values(const torch::Tensor& x, const std::string& strategy) {
  const auto missing = torch::isnan(x);
  const auto present = missing.logical_not().sum(0);
  torch::Tensor fill;
  if (strategy == "mean") {
    fill = torch::where(missing, torch::zeros_like(x), x).sum(0, false, torch::kFloat64) / present.clamp_min(1);
  } else if (strategy == "median") {
    fill = std::get<0>(torch::nanmedian(x, 0)).to(torch::kFloat64);
  } else if (strategy == "most_frequent") {
    // Sorted columns put NaN last; the longest run of equal values among the present ones wins (the
    // smallest such value on ties, as scikit-learn does).
    const auto sorted = std::get<0>(torch::sort(x, 0)).t().contiguous();
    const auto counts = present.contiguous();
    fill = torch::zeros({x.size(1)}, torch::kFloat64);
    auto* out = fill.data_ptr<double>();
    const auto* col = sorted.data_ptr<float>();
    for (std::int64_t c = 0; c < x.size(1); ++c, col += x.size(0)) {
      const std::int64_t n = counts[c].item<std::int64_t>();
      std::int64_t best_run = 0;
      for (std::int64_t i = 0; i < n;) {
        std::int64_t j = i;
        while (j < n && col[j] == col[i]) ++j;
        if (j - i > best_run) {
          best_run = j - i;
          out[c] = col[i];
        }
        i = j;
      }
    }
  } else {
    throw InputError("imputation: unknown strategy '" + strategy + "'; valid: mean, median, most_frequent");
  }
  return torch::where(present > 0, fill, torch::zeros_like(fill)).to(torch::kFloat32);
}

// (center, divisor) with x' = (x - center) / divisor. Constant columns keep divisor 1.
std::pair<torch::Tensor, torch::Tensor> scaling_values(const torch::Tensor& x, const std::string& strategy,
                                                       std::string& description) {
  const auto d = x.size(1);
  auto ones = torch::ones({d});
  auto safe = [&](const torch::Tensor& v) { return torch::where(v > 0, v, ones); };
  if (strategy == "standardize") {
    const auto x64 = x.to(torch::kFloat64);
    description = "StandardScaler()";
    return {x64.mean(0).to(torch::kFloat32), safe(x64.std(0, /*unbiased=*/false).to(torch::kFloat32))};
  }
  if (strategy == "minmax") {
    const auto lo = std::get<0>(x.min(0));
    description = "MinMaxScaler(feature_range=(0, 1))";
    return {lo, safe(std::get<0>(x.max(0)) - lo)};
  }
  if (strategy == "maxabs") {
    description = "MaxAbsScaler()";
    return {torch::zeros({d}), safe(std::get<0>(x.abs().max(0)))};
  }
  if (strategy == "none") return {torch::zeros({d}), ones};
  throw InputError("scaling: unknown strategy '" + strategy + "'; valid: standardize, minmax, maxabs, none");
}

// Rows of x^T x taken for the projection: the top directions of 784-dimensional MNIST from 16384 rows are those
// of all 42000 (sklearn's TruncatedSVD itself is randomized), at 40% of the time: the fit is on the critical path
// of a search's start (3.5 s of a 90 s budget on one thread for the full product, measured here).
constexpr std::int64_t k_projection_rows = 16384;

// The rows of x the projection is fitted on: at most k_projection_rows, evenly spread over x (deterministic).
torch::Tensor projection_rows(const torch::Tensor& x) {
  const auto n = x.size(0);
  return n <= k_projection_rows ? x
                                : x.index_select(0, torch::linspace(0, static_cast<double>(n - 1), k_projection_rows,
                                                                    torch::kFloat64).round().to(torch::kInt64));
}

// The projection's width: target, at most the features, and on wide data (more features than fitting rows) at
// most the rows, whose span holds every right singular vector with a non-zero singular value.
std::int64_t projection_width(const torch::Tensor& x, std::int64_t target) {
  const auto rows = std::min(x.size(0), k_projection_rows), features = x.size(1);
  return std::min({target, features, features > rows ? rows : features});
}

// Top-k right singular vectors of x (centred first for PCA) in float64, over projection_rows(x): the eigenvectors
// of x^T x (features x features), or on wide data those of x x^T (rows x rows) mapped back, x^T u / s: a 60-row
// CSV of 10,000 columns took minutes and 3 GB as a 10,000 x 10,000 problem.
// Signs are fixed so that each vector's largest-magnitude entry is positive (scikit-learn's svd_flip).
torch::Tensor projection_matrix(const torch::Tensor& x, std::int64_t k) {
  const auto x64 = projection_rows(x).to(torch::kFloat64);
  torch::Tensor top;
  if (x64.size(1) > x64.size(0)) {
    auto [values, vectors] = torch::linalg_eigh(torch::matmul(x64, x64.t()));
    const auto u = vectors.flip({1}).narrow(1, 0, k);
    const auto s = values.flip({0}).narrow(0, 0, k).clamp_min(0).sqrt();
    top = torch::matmul(x64.t(), u) / torch::where(s > 0, s, torch::ones_like(s)); // a zero singular value: a zero vector
  } else {
    auto [values, vectors] = torch::linalg_eigh(torch::matmul(x64.t(), x64));
    top = vectors.flip({1}).narrow(1, 0, k); // eigh sorts ascending
  }
  const auto idx = top.abs().argmax(0);
  const auto signs = top.gather(0, idx.unsqueeze(0)).sign();
  return (top * torch::where(signs == 0, torch::ones_like(signs), signs)).to(torch::kFloat32).contiguous();
}

// What fitting the feature preprocessing produces: the buffers and the source of `preprocess`, to be put on a
// pipeline module.
struct FeatureFit {
  std::vector<std::pair<std::string, torch::Tensor>> buffers;
  std::string source;
  PreprocessingInfo info;
};

FeatureFit fit_features(const core::Hyperparameters& hp, const torch::Tensor& raw) {
  FeatureFit fit;
  PreprocessingInfo& info = fit.info;
  auto x = raw.reshape({raw.size(0), -1}).to(torch::kFloat32);
  const auto d = x.size(1);
  if (x.size(0) == 0) throw InputError("cannot fit preprocessing on an empty training set");

  const auto strategy = hp.get_string("", "imputation", "median");
  const auto fill = imputation_values(x, strategy);
  x = torch::where(torch::isnan(x), fill, x);
  fit.buffers.emplace_back("impute_fill", fill);
  info.description.push_back(fmt::format("SimpleImputer(strategy={})", strategy));

  std::string scale_description;
  auto [center, divisor] = scaling_values(x, hp.get_string("", "scaling", "standardize"), scale_description);
  x = (x - center) / divisor;
  fit.buffers.emplace_back("scale_center", center);
  fit.buffers.emplace_back("scale_divisor", divisor);
  if (!scale_description.empty()) info.description.push_back(scale_description);

  const auto projector = hp.get_string("", "feature_preprocessor", "none");
  std::int64_t out = d;
  if (projector == "truncated_svd" || projector == "pca") {
    const auto target = hp.get_int("feature_preprocessor:" + projector, "target_dim", 100);
    if (target < 1) throw InputError(fmt::format("feature_preprocessor:{}:target_dim: must be >= 1, got {}", projector, target));
    out = projection_width(x, target);
    // Truncated SVD projects the raw (scaled) data; PCA centres it first.
    const auto proj_center = projector == "pca" ? x.mean(0) : torch::zeros({d});
    fit.buffers.emplace_back("projection_center", proj_center);
    fit.buffers.emplace_back("projection", projection_matrix(x - proj_center, out));
    info.description.push_back(projector == "pca" ? fmt::format("PCA(n_components={})", out)
                                                  : fmt::format("TruncatedSVD(n_components={})", out));
  } else if (projector != "none") {
    throw InputError("feature_preprocessor: unknown '" + projector + "'; valid: none, truncated_svd, pca");
  }
  const std::string project = projector == "none" ? "" : "    x = torch.matmul(x - self.projection_center, self.projection)\n";
  fit.source = (R"(
def preprocess(self, x: Tensor) -> Tensor:
    x = x.float().reshape([x.size(0), -1])
    x = torch.where(torch.isnan(x), self.impute_fill, x)
    x = (x - self.scale_center) / self.scale_divisor
)" + project + "    return x\n");
  info.output_shape = {out};
  return fit;
}

// An image pipeline's preprocessing as buffers and source, like a feature fit.
FeatureFit fit_images(const core::Hyperparameters& hp, const data::Dataset& train) {
  FeatureFit fit;
  PreprocessingInfo& info = fit.info;
  const auto& shape = train.schema.sample_shape;
  if (shape.size() != 2 && shape.size() != 3)
    throw InputError(fmt::format("image networks need samples of H x W or C x H x W, got {} dimension(s)", shape.size()));
  auto x = train.features.to(torch::kFloat32);
  if (shape.size() == 2) x = x.unsqueeze(1);
  if (torch::isnan(x).any().item<bool>()) throw InputError("image data has missing values (NaN)");
  // 8-bit images (maximum above 1) are scaled to [0, 1]; data already in [0, 1] is left alone.
  const double scale = x.numel() > 0 && x.max().item<double>() > 1.0 ? 255.0 : 1.0;
  x = x / scale;
  const auto channels = x.size(1);
  torch::Tensor mean = torch::zeros({1, channels, 1, 1});
  torch::Tensor std = torch::ones({1, channels, 1, 1});
  const bool normalize = hp.get_bool("", "image_normalize", true);
  if (normalize) {
    const auto x64 = x.to(torch::kFloat64);
    mean = x64.mean({0, 2, 3}, true).to(torch::kFloat32);
    std = x64.std({0, 2, 3}, /*unbiased=*/false, true).to(torch::kFloat32).clamp_min(1e-6);
  }
  fit.buffers = {{"pixel_scale", torch::full({1}, scale)}, {"pixel_mean", mean}, {"pixel_std", std}};
  const std::string unsqueeze = shape.size() == 2 ? "    if x.dim() == 3:\n        x = x.unsqueeze(1)\n" : "";
  fit.source = R"(
def preprocess(self, x: Tensor) -> Tensor:
    x = x.float()
)" + unsqueeze + "    return (x / self.pixel_scale - self.pixel_mean) / self.pixel_std\n";
  info.description.push_back(fmt::format("ToTensor(scale=1/{:g})", scale));
  if (normalize)
    info.description.push_back(fmt::format("Normalize(mean={:.4f}, std={:.4f}{})", mean.flatten()[0].item<double>(),
                                           std.flatten()[0].item<double>(), channels > 1 ? ", ..." : ""));
  info.output_shape = {channels, x.size(2), x.size(3)};
  return fit;
}

// Fitted preprocessing, remembered per (training tensor, settings): every trial of a search whose preprocessing
// is constant (tiny_cs: median imputation, standardization, truncated SVD; the image presets' normalisation)
// fits the very same thing, and on MNIST that costs seconds. With it, what the fit made of the data sets it was
// applied to (the network inputs of the training and validation sets), so that the trials share those too. An
// entry holds its tensors, so that a tensor's identity cannot be reused by another one while the entry lives.
// Data is never changed in place, neither the raw sets nor the preprocessed ones (trainers only read them).
struct CachedOutput {
  torch::Tensor raw;
  torch::Device device;
  torch::Tensor out;
};

struct CachedFit {
  torch::Tensor data;
  std::string settings;
  FeatureFit fit;
  std::deque<CachedOutput> outputs;
};

// Entries kept (the oldest goes first): a search uses one training set; tests use many small ones.
constexpr std::size_t k_fit_cache_size = 4;
// Preprocessed data sets kept per fit: training, validation and the validation subsets of a search's rungs.
constexpr std::size_t k_outputs_per_fit = 8;

std::mutex& cache_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::deque<CachedFit>& fit_cache() {
  static std::deque<CachedFit> cache;
  return cache;
}

std::string fit_settings(const core::Hyperparameters& hp, bool for_images) {
  if (for_images) return "image|" + std::string(hp.get_bool("", "image_normalize", true) ? "normalize" : "scale");
  const auto projector = hp.get_string("", "feature_preprocessor", "none");
  std::string settings = hp.get_string("", "imputation", "median") + "|" + hp.get_string("", "scaling", "standardize") +
                         "|" + projector;
  if (projector == "truncated_svd" || projector == "pca")
    settings += "|" + std::to_string(hp.get_int("feature_preprocessor:" + projector, "target_dim", 100));
  return settings;
}

FeatureFit cached_fit(const core::Hyperparameters& hp, const data::Dataset& train, bool for_images) {
  const std::string settings = fit_settings(hp, for_images);
  // Held while fitting: two trials starting together wait for one fit instead of doing it twice.
  std::lock_guard lock(cache_mutex());
  auto& cache = fit_cache();
  for (const auto& entry : cache)
    if (entry.data.is_same(train.features) && entry.settings == settings) return entry.fit;
  auto fit = for_images ? fit_images(hp, train) : fit_features(hp, train.features);
  if (cache.size() == k_fit_cache_size) cache.pop_front();
  cache.push_back(CachedFit{train.features, settings, fit, {}});
  return fit;
}

PreprocessingInfo apply(const FeatureFit& fit, torch::jit::Module& module) {
  for (const auto& [name, tensor] : fit.buffers) module.register_buffer(name, tensor);
  module.define(fit.source);
  return fit.info;
}

// Whether `module` carries the buffers of `fit` (the very tensors: a module moved to another device does not).
bool carries(const torch::jit::Module& module, const FeatureFit& fit) {
  for (const auto& [name, tensor] : fit.buffers)
    if (!module.hasattr(name) || !module.attr(name).isTensor() || !module.attr(name).toTensor().is_same(tensor)) return false;
  return !fit.buffers.empty();
}

} // namespace

PreprocessingInfo fit_preprocessing(const core::Hyperparameters& hp, const data::Dataset& train, bool for_images,
                                    torch::jit::Module& module) {
  return apply(cached_fit(hp, train, for_images), module);
}

namespace {

// The raw features on a device, copied once and shared by every trial there (a search's trials all train on
// the same split); the last few (data set, device) pairs are kept, with the host tensor they copy.
struct DeviceCopy {
  torch::Tensor host;
  torch::Device device;
  torch::Tensor copy;
};
constexpr std::size_t k_device_copies = 4;

torch::Tensor on_device(const torch::Tensor& raw, torch::Device device) {
  if (raw.device() == device) return raw;
  static std::mutex mutex;
  static std::deque<DeviceCopy> copies;
  std::lock_guard lock(mutex);
  for (const auto& c : copies)
    if (c.host.is_same(raw) && c.device == device) return c.copy;
  auto copy = raw.to(device);
  if (copies.size() == k_device_copies) copies.pop_front();
  copies.push_back(DeviceCopy{raw, device, copy});
  return copy;
}

} // namespace

torch::Tensor preprocess_cached(torch::jit::Module& module, const torch::Tensor& raw, torch::Device device) {
  torch::NoGradGuard no_grad;
  const auto run = [&] { return module.get_method("preprocess")({on_device(raw, device)}).toTensor().contiguous(); };
  std::lock_guard lock(cache_mutex());
  for (auto& entry : fit_cache()) {
    if (!carries(module, entry.fit)) continue;
    for (const auto& o : entry.outputs)
      if (o.raw.is_same(raw) && o.device == device) return o.out;
    auto out = run();
    if (entry.outputs.size() == k_outputs_per_fit) entry.outputs.pop_front();
    entry.outputs.push_back(CachedOutput{raw, device, out});
    return out;
  }
  return run();
}

} // namespace automl::train
