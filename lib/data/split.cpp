#include "data/split.hpp"

#include "core/error.hpp"
#include "core/rng.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace automl::data {

SplitIndices stratified_split(const std::vector<std::int64_t>& labels, std::int64_t num_classes, double fraction,
                              std::uint64_t seed) {
  if (!(fraction >= 0.0 && fraction < 1.0))
    throw InputError(fmt::format("validation_split must be in [0, 1), got {}", fraction));

  std::vector<std::vector<std::int64_t>> by_class(static_cast<std::size_t>(num_classes));
  for (std::size_t i = 0; i < labels.size(); ++i) by_class.at(static_cast<std::size_t>(labels[i])).push_back(static_cast<std::int64_t>(i));

  // Proportional allocation with largest remainders, capped so that every class keeps a training sample.
  const auto total = static_cast<std::int64_t>(std::llround(fraction * static_cast<double>(labels.size())));
  std::vector<std::int64_t> take(by_class.size(), 0);
  std::vector<std::pair<double, std::size_t>> remainders;
  std::int64_t assigned = 0;
  for (std::size_t c = 0; c < by_class.size(); ++c) {
    const auto n = static_cast<std::int64_t>(by_class[c].size());
    const double exact = fraction * static_cast<double>(n);
    take[c] = std::min<std::int64_t>(static_cast<std::int64_t>(std::floor(exact)), std::max<std::int64_t>(n - 1, 0));
    assigned += take[c];
    remainders.emplace_back(exact - std::floor(exact), c);
  }
  // Largest remainder first; ties go to the lower class index so the result does not depend on sort stability.
  std::sort(remainders.begin(), remainders.end(),
            [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  for (const auto& [remainder, c] : remainders) {
    if (assigned >= total) break;
    if (take[c] + 1 < static_cast<std::int64_t>(by_class[c].size())) {
      ++take[c];
      ++assigned;
    }
  }

  core::Rng rng(seed);
  SplitIndices out;
  for (std::size_t c = 0; c < by_class.size(); ++c) {
    auto& members = by_class[c];
    rng.shuffle(members);
    const auto cut = members.begin() + take[c];
    out.validation.insert(out.validation.end(), members.begin(), cut);
    out.train.insert(out.train.end(), cut, members.end());
  }
  std::sort(out.train.begin(), out.train.end());
  std::sort(out.validation.begin(), out.validation.end());
  return out;
}

} // namespace automl::data
