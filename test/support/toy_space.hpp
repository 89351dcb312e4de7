#pragma once
// Small unit-cube spaces for optimizer tests: a list of dimensions (numerical or categorical), optionally one
// condition "dimension `child` is active only when categorical `parent` has choice `choice`".

#include "space/unit_cube.hpp"

#include <optional>
#include <string>
#include <vector>

namespace automl::test {

class ToySpace : public space::UnitCubeSpace {
public:
  struct Condition {
    std::size_t child = 0;
    std::size_t parent = 0;
    std::size_t choice = 0;
  };

  // cardinalities[i]: 0 numerical, k categorical. Names are x0, x1, ...
  explicit ToySpace(std::vector<std::size_t> cardinalities, std::optional<Condition> condition = std::nullopt);

  std::size_t dimension() const override { return m_cardinalities.size(); }
  std::string dimension_name(std::size_t i) const override { return "x" + std::to_string(i); }
  std::size_t cardinality(std::size_t i) const override { return m_cardinalities[i]; }
  space::UnitVector sample_prior(core::Rng& rng) const override;
  std::optional<space::UnitVector> make_valid(const space::UnitVector& proposal) const override;

private:
  std::vector<std::size_t> m_cardinalities;
  std::optional<Condition> m_condition;
};

// Counting Ones on `categorical` binary and `numerical` dimensions: the sum of the categorical choices and of
// the numerical values, negated (minimum -(categorical + numerical)).
double counting_ones_value(const ToySpace& space, const space::UnitVector& unit);

} // namespace automl::test
