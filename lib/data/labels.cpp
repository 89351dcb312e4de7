#include "data/labels.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

namespace automl::data {

namespace {

bool parse_int(const std::string& s, std::int64_t& out) {
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && ptr == end && !s.empty();
}

bool parse_number(const std::string& s, double& out) {
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && ptr == end && !s.empty() && std::isfinite(out);
}

// Names the classes of `enc` by the first spelling of each in `labels` ("007" stays "007").
LabelEncoding spelled_as_first(LabelEncoding enc, const std::vector<std::string>& labels) {
  std::vector<bool> named(enc.class_names.size(), false);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto c = static_cast<std::size_t>(enc.indices[i]);
    if (!named[c]) enc.class_names[c] = labels[i];
    named[c] = true;
  }
  return enc;
}

template <typename Key, typename Name>
LabelEncoding encode_sorted(const std::vector<Key>& keys, Name name_of) {
  std::map<Key, std::int64_t> index; // sorted distinct labels
  for (const auto& k : keys) index.emplace(k, 0);
  LabelEncoding enc;
  for (auto& [key, i] : index) {
    i = static_cast<std::int64_t>(enc.class_names.size());
    enc.class_names.push_back(name_of(key));
  }
  enc.indices.reserve(keys.size());
  for (const auto& k : keys) enc.indices.push_back(index.at(k));
  return enc;
}

} // namespace

LabelEncoding encode_labels(const std::vector<std::int64_t>& labels) {
  return encode_sorted(labels, [](std::int64_t v) { return std::to_string(v); });
}

LabelEncoding encode_labels(const std::vector<std::string>& labels) {
  std::vector<std::int64_t> integers(labels.size());
  bool all_integers = true;
  for (std::size_t i = 0; i < labels.size() && all_integers; ++i) all_integers = parse_int(labels[i], integers[i]);
  if (all_integers) return spelled_as_first(encode_labels(integers), labels);
  // Numbers written differently ("1", "1.0", "1e0") are one class, as when scikit-learn reads the column as floats.
  std::vector<double> numbers(labels.size());
  bool all_numbers = true;
  for (std::size_t i = 0; i < labels.size() && all_numbers; ++i) all_numbers = parse_number(labels[i], numbers[i]);
  if (all_numbers) return spelled_as_first(encode_sorted(numbers, [](double) { return std::string(); }), labels);
  return encode_sorted(labels, [](const std::string& s) { return s; });
}

bool same_label(const std::string& a, const std::string& b) {
  if (a == b) return true;
  double x = 0, y = 0;
  return parse_number(a, x) && parse_number(b, y) && x == y;
}

std::vector<std::int64_t> class_counts(const std::vector<std::int64_t>& indices, std::int64_t num_classes) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(std::max<std::int64_t>(num_classes, 0)), 0);
  for (auto i : indices)
    if (i >= 0 && i < num_classes) ++counts[static_cast<std::size_t>(i)];
  return counts;
}

} // namespace automl::data
