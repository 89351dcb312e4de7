#include "data/dataset.hpp"

#include "core/error.hpp"
#include "data/split.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <optional>
#include <stdexcept>

namespace automl::data {

std::string to_string(DataKind kind) {
  return kind == DataKind::image ? "image" : "tabular";
}

namespace {

// The product of `shape`, or nothing when a dimension is negative or the product leaves [0, max].
std::optional<std::int64_t> checked_product(const std::vector<std::int64_t>& shape, std::int64_t max) {
  std::int64_t n = 1;
  for (auto d : shape)
    if (d < 0 || __builtin_mul_overflow(n, d, &n) || n > max) return std::nullopt;
  return n;
}

} // namespace

std::int64_t Schema::num_features() const {
  const auto n = checked_product(sample_shape, k_max_sample_features);
  if (!n) throw std::logic_error(fmt::format("sample shape {} is out of range: a loader did not check it", sample_shape));
  return *n;
}

std::int64_t check_sample_shape(const std::vector<std::int64_t>& sample_shape, const std::string& file) {
  for (auto d : sample_shape)
    if (d <= 0)
      throw InputError(fmt::format("{}: samples shaped {}: each dimension must be > 0", file,
                                   fmt::join(sample_shape, "x")));
  const auto n = checked_product(sample_shape, k_max_sample_features);
  if (!n)
    throw InputError(fmt::format("{}: samples shaped {} have more than {} features", file,
                                 fmt::join(sample_shape, "x"), k_max_sample_features));
  return *n;
}

Dataset Dataset::subset(const std::vector<std::int64_t>& indices) const {
  auto index = torch::tensor(indices, torch::kInt64);
  return Dataset{features.index_select(0, index), labels.index_select(0, index), schema, origin, labeled};
}

std::vector<std::int64_t> Dataset::label_vector() const {
  auto contiguous = labels.contiguous();
  const auto* p = contiguous.data_ptr<std::int64_t>();
  return {p, p + contiguous.numel()};
}

TrainValidation split_train_validation(const Dataset& dataset, double fraction, std::uint64_t seed) {
  const SplitIndices split =
      stratified_split(dataset.label_vector(), dataset.schema.num_classes(), fraction, seed);
  return {dataset.subset(split.train), dataset.subset(split.validation)};
}

void validate(const Dataset& d) {
  auto fail = [&](const std::string& what) {
    throw std::logic_error(fmt::format("dataset '{}' is malformed: {}", d.origin, what));
  };
  if (!d.features.defined() || !d.labels.defined()) fail("tensors not set");
  if (d.features.scalar_type() != torch::kFloat32) fail("features are not float32");
  if (d.labels.scalar_type() != torch::kInt64) fail("labels are not int64");
  if (!d.features.is_contiguous()) fail("features are not contiguous");
  if (d.labels.dim() != 1) fail("labels are not one-dimensional");
  std::vector<std::int64_t> expected{d.labels.size(0)};
  expected.insert(expected.end(), d.schema.sample_shape.begin(), d.schema.sample_shape.end());
  if (d.features.sizes().vec() != expected)
    fail(fmt::format("features shaped {} but expected {}", d.features.sizes().vec(), expected));
  if (d.size() > 0) {
    auto lo = d.labels.min().item<std::int64_t>();
    auto hi = d.labels.max().item<std::int64_t>();
    if (lo < 0 || hi >= d.schema.num_classes())
      fail(fmt::format("labels span [{}, {}] but there are {} classes", lo, hi, d.schema.num_classes()));
  }
  if (!d.schema.feature_names.empty() &&
      static_cast<std::int64_t>(d.schema.feature_names.size()) != d.schema.num_features())
    fail("feature_names does not match the feature count");
}

namespace {

// FNV-1a over 64-bit words (the tail byte by byte): fast enough to hash a data set at each worker's start.
class Hash64 {
public:
  void add(const void* data, std::size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    std::size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
      std::uint64_t word;
      std::memcpy(&word, p + i, 8);
      m_h = (m_h ^ word) * k_prime;
    }
    for (; i < bytes; ++i) m_h = (m_h ^ p[i]) * k_prime;
    m_h = (m_h ^ bytes) * k_prime; // field boundaries count
  }
  void add(const std::string& s) { add(s.data(), s.size()); }
  std::uint64_t value() const { return m_h; }

private:
  static constexpr std::uint64_t k_prime = 1099511628211ULL;
  std::uint64_t m_h = 1469598103934665603ULL;
};

} // namespace

std::string fingerprint(const Dataset& dataset) {
  Hash64 h;
  h.add(to_string(dataset.schema.kind));
  h.add(dataset.schema.sample_shape.data(), dataset.schema.sample_shape.size() * sizeof(std::int64_t));
  for (const auto& name : dataset.schema.class_names) h.add(name);
  if (dataset.size() > 0) {
    const auto features = dataset.features.to(torch::kCPU, torch::kFloat32).contiguous();
    const auto labels = dataset.labels.to(torch::kCPU, torch::kInt64).contiguous();
    h.add(features.data_ptr<float>(), static_cast<std::size_t>(features.numel()) * sizeof(float));
    h.add(labels.data_ptr<std::int64_t>(), static_cast<std::size_t>(labels.numel()) * sizeof(std::int64_t));
  }
  return fmt::format("{:016x}", h.value());
}

} // namespace automl::data
