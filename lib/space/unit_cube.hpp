#pragma once
// The contract between search spaces (lib/space) and optimizers (lib/hpo): the optimizer sees every
// configuration only as a point of the unit cube [0,1]^d. No torch here.
//
// Encoding conventions (shared by every implementation):
//   - numerical dimension (float or int, log-aware): a value in [0, 1];
//   - categorical dimension with k choices (bool = 2): choice i is encoded as (i + 0.5) / k, and a value x
//     decodes to min(floor(x * k), k - 1);
//   - an inactive dimension (its condition does not hold) is NaN;
//   - constants are not dimensions.

#include "core/rng.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace automl::space {

using UnitVector = std::vector<double>;

class UnitCubeSpace {
public:
  virtual ~UnitCubeSpace() = default;

  virtual std::size_t dimension() const = 0;
  // Name of dimension i, for messages and logs.
  virtual std::string dimension_name(std::size_t i) const = 0;
  // 0 for a numerical dimension, k >= 2 for a categorical one with k choices.
  virtual std::size_t cardinality(std::size_t i) const = 0;

  // A random configuration from the prior: conditions respected (inactive dimensions NaN), forbidden
  // combinations rejected. Deterministic for a given Rng state.
  virtual UnitVector sample_prior(core::Rng& rng) const = 0;

  // Snaps a proposed point (e.g. drawn from a KDE, where every dimension got a value) to a valid
  // configuration: ints and categoricals rounded to their grid, values clamped to [0, 1], dimensions whose
  // condition does not hold set to NaN, dimensions that are active but NaN in the input filled from the
  // prior mean/default. Returns nothing when the result violates a forbidden combination.
  virtual std::optional<UnitVector> make_valid(const UnitVector& proposal) const = 0;
};

} // namespace automl::space
