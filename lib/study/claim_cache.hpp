#pragma once
// What a storage's claims have read of each study, so that the next claim reads only what may have changed.
//
// A COMPLETE or FAIL trial is settled: nothing writes to it again (finish() and set_metrics() need a RUNNING
// attempt, and claims run again only RUNNING or PRUNED trials). New trials are inserted only by claims, which
// hold the study's lock while they read and write. So, inside a claim, the study's trials are: the settled ones
// read before (unchanged), those read before unsettled (read again), and those with an id above the highest
// read before (new). A claim reads those two sets instead of every trial of the study, as Optuna's cached RDB
// storage keeps finished trials.
//
// Thread safety: none; a storage uses it under its own mutex.

#include "study/trial.hpp"

#include <cstdint>
#include <map>
#include <vector>

namespace automl::study {

// Whether a trial in this state never changes again.
bool is_settled(TrialState state);

class ClaimCache {
public:
  // What the next claim must read of the study: every trial with an id above `after_id`, and the trials in
  // `unsettled` (ascending ids, all <= after_id). Nothing was read yet: after_id 0, none unsettled.
  struct ToRead {
    std::int64_t after_id = 0;
    std::vector<std::int64_t> unsettled;
  };
  ToRead to_read(std::int64_t study_id) const;

  // Takes what was read as ToRead asked (by ascending id) and returns every trial of the study by ascending id.
  // The reference stays valid until the next call for this study.
  const std::vector<Trial>& merge(std::int64_t study_id, std::vector<Trial> read);

  // Forgets the study (after a failed read, or when its trials can no longer be trusted).
  void forget(std::int64_t study_id) { m_studies.erase(study_id); }

private:
  struct Study {
    std::vector<Trial> trials; // by ascending id
    std::vector<std::int64_t> unsettled;
  };
  std::map<std::int64_t, Study> m_studies;
};

} // namespace automl::study
