#include "study/claim_cache.hpp"

#include <algorithm>

namespace automl::study {

bool is_settled(TrialState state) { return state == TrialState::complete || state == TrialState::fail; }

ClaimCache::ToRead ClaimCache::to_read(std::int64_t study_id) const {
  const auto it = m_studies.find(study_id);
  if (it == m_studies.end() || it->second.trials.empty()) return {};
  return ToRead{it->second.trials.back().id, it->second.unsettled};
}

const std::vector<Trial>& ClaimCache::merge(std::int64_t study_id, std::vector<Trial> read) {
  Study& study = m_studies[study_id];
  auto& trials = study.trials;
  const std::int64_t known = trials.empty() ? 0 : trials.back().id;
  for (Trial& t : read) {
    if (t.id > known) {
      trials.push_back(std::move(t)); // new: above every known id, in ascending order
      continue;
    }
    const auto at =
        std::lower_bound(trials.begin(), trials.end(), t.id, [](const Trial& a, std::int64_t id) { return a.id < id; });
    if (at != trials.end() && at->id == t.id) *at = std::move(t);
    else trials.insert(at, std::move(t));
  }
  study.unsettled.clear();
  for (const Trial& t : trials)
    if (!is_settled(t.state)) study.unsettled.push_back(t.id);
  return trials;
}

} // namespace automl::study
