#include "data/labels.hpp"

#include <algorithm>
#include <charconv>
#include <map>

namespace automl::data {

namespace {

bool parse_int(const std::string& s, std::int64_t& out) {
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && ptr == end && !s.empty();
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
  std::vector<std::int64_t> numeric(labels.size());
  bool all_integers = true;
  for (std::size_t i = 0; i < labels.size() && all_integers; ++i) all_integers = parse_int(labels[i], numeric[i]);
  if (all_integers) {
    // Keep the spelling from the source ("007" stays "007") for names; order by value.
    auto enc = encode_labels(numeric);
    for (std::size_t i = 0; i < labels.size(); ++i) enc.class_names[static_cast<std::size_t>(enc.indices[i])] = labels[i];
    return enc;
  }
  return encode_sorted(labels, [](const std::string& s) { return s; });
}

std::vector<std::int64_t> class_counts(const std::vector<std::int64_t>& indices, std::int64_t num_classes) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(std::max<std::int64_t>(num_classes, 0)), 0);
  for (auto i : indices)
    if (i >= 0 && i < num_classes) ++counts[static_cast<std::size_t>(i)];
  return counts;
}

} // namespace automl::data
