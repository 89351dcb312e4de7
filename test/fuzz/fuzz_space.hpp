#pragma once
// What `automl space` does with a built space, for the space targets.

#include "core/rng.hpp"
#include "space/search_space.hpp"

namespace automl::fuzz {

inline void exercise_space(const space::SearchSpace& space) {
  space.fingerprint();
  const auto defaults = space.default_config();
  space.check(defaults);
  core::Rng rng(0);
  for (int i = 0; i < 3; ++i) space.check(space.sample(rng));
}

} // namespace automl::fuzz
