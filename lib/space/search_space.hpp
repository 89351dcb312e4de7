#pragma once
// A search space: hyperparameters in definition order, their conditions and forbidden combinations, and the
// mapping of configurations to and from the unit cube (see unit_cube.hpp for the encoding). No torch here.
//
// Component choices follow Auto-PyTorch's naming: a hyperparameter named `P:C:rest` (for example
// `network:shapedresnet:max_units`), where `P` is a categorical or constant already in the space that has
// the choice `C`, is active only when `P == C`. SearchSpace adds that condition itself.
//
// Thread safety: const member functions may be called from several threads at once.

#include "space/config.hpp"
#include "space/hyperparameter.hpp"
#include "space/unit_cube.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace automl::space {

// The (component, choice) pairs that a name of the form `P:C:rest` could belong to, longest `P` first:
// "a:b:c:d" gives ("a:b", "c"), then ("a", "b"). The component is the first `P` that is defined.
std::vector<std::pair<std::string, std::string>> component_candidates(const std::string& name);

class SearchSpace final : public UnitCubeSpace {
public:
  // Adds a hyperparameter after those already added. Its conditions may only refer to hyperparameters
  // added before it, which keeps the conditions acyclic and lets sampling go in one pass.
  // Throws SpaceError ("NAME: ...", with the field at fault) for an invalid definition, a duplicate name, a
  // condition on an unknown parent or with a value the parent cannot take, or a component choice that does
  // not exist.
  void add(Hyperparameter hp);

  // Adds a forbidden combination. Throws SpaceError (field "forbidden") when it names an unknown
  // hyperparameter or a value it cannot take, or when it forbids the default configuration.
  void add_forbidden(ForbiddenClause clause);

  // For building a space after updates (fixing `network` to a constant, removing a choice): the definition
  // with the condition values that can no longer hold removed, or nothing when it can never be active here
  // (a parent is missing, no value of a condition remains, or the component it belongs to by its name is in
  // `removed`: pruned before it). Does not change the space.
  std::optional<Hyperparameter> prune(Hyperparameter hp, const std::set<std::string>& removed) const;
  std::optional<ForbiddenClause> prune(ForbiddenClause clause) const;

  const std::vector<Hyperparameter>& hyperparameters() const { return m_hyperparameters; }
  const std::vector<ForbiddenClause>& forbidden() const { return m_forbidden; }
  const Hyperparameter* find(const std::string& name) const;
  std::vector<std::string> names() const;

  // UnitCubeSpace. Dimensions are the non-constant hyperparameters, in definition order.
  std::size_t dimension() const override { return m_dimension_of.size(); }
  std::string dimension_name(std::size_t i) const override;
  std::size_t cardinality(std::size_t i) const override;
  UnitVector sample_prior(core::Rng& rng) const override;
  std::optional<UnitVector> make_valid(const UnitVector& proposal) const override;

  // The hyperparameter behind dimension i.
  const Hyperparameter& dimension_hyperparameter(std::size_t i) const { return m_hyperparameters[m_dimension_of.at(i)]; }

  // The configuration a point stands for: active hyperparameters only, constants included. A dimension that
  // is NaN while its conditions hold is a caller error (std::invalid_argument); pass the point through
  // make_valid() first when unsure. Values of inactive dimensions are ignored.
  Config decode(const UnitVector& point) const;
  // The point of a configuration. Throws InputError listing check()'s problems when it does not fit.
  // decode(encode(c)) == c exactly for ints, categoricals, bools and constants; floats to rounding.
  UnitVector encode(const Config& config) const;
  // What is wrong with a configuration, one line each ("NAME: 2000 is out of range [10, 1024] log",
  // "NAME: inactive: network == mlpnet does not hold", "NAME: unknown hyperparameter", "NAME: missing"):
  // empty when it is valid.
  std::vector<std::string> check(const Config& config) const;

  Config default_config() const;
  // A configuration from some of its values: the given ones, and the default of every other hyperparameter
  // that is active under them (a portfolio entry names only what differs from the defaults). Throws
  // InputError listing check()'s problems ("NAME: unknown hyperparameter", "NAME: inactive: ...") when the
  // result is not valid.
  Config complete(const Config& partial) const;
  Config sample(core::Rng& rng) const { return decode(sample_prior(rng)); }

  // Every field of every hyperparameter and clause, in order.
  nlohmann::json to_json() const;
  // 16 hex digits that change whenever the space does (any name, domain, default, condition, clause or
  // their order) and are the same on every machine: a study refuses to resume under another space.
  std::string fingerprint() const;

private:
  // Values of the hyperparameters (by index) that are active at `point` (nothing for inactive ones),
  // snapping each dimension to its grid first; NaN in an active dimension takes its default when
  // `fill_defaults`, else throws std::invalid_argument.
  std::vector<std::optional<Value>> values_at(const UnitVector& point, bool fill_defaults) const;
  // The point of per-hyperparameter values (NaN where there is none).
  UnitVector point_of(const std::vector<std::optional<Value>>& values) const;
  bool active(std::size_t index, const std::vector<std::optional<Value>>& values) const;
  bool clause_holds(const ForbiddenClause& clause, const std::vector<std::optional<Value>>& values) const;
  bool violates_forbidden(const std::vector<std::optional<Value>>& values) const;
  double encode_value(const Hyperparameter& hp, const Value& v) const;
  Value decode_value(const Hyperparameter& hp, double x) const;
  std::optional<std::size_t> index_of(const std::string& name) const;
  void check_condition(const Hyperparameter& child, const Condition& c) const;
  // The stored choice of categorical `parent` that `v` is (same text, equal, both bool or neither), found in
  // m_choice_position; nullptr when there is none or `parent` is not categorical.
  const Value* stored_choice(std::size_t parent, const Value& v) const;

  std::vector<Hyperparameter> m_hyperparameters;
  std::vector<ForbiddenClause> m_forbidden;
  std::map<std::string, std::size_t> m_index;
  // For each hyperparameter, the indices of the parents of its conditions (same order as its conditions).
  std::vector<std::vector<std::size_t>> m_parents;
  std::vector<std::optional<std::size_t>> m_dimension; // hyperparameter index -> dimension
  std::vector<std::size_t> m_dimension_of;             // dimension -> hyperparameter index
  // Categorical hyperparameter index -> to_string(choice) -> its position (empty for other types): the
  // children of a component with k choices are added in O(log k) each, not O(k), so a space loads in
  // time linear in its size.
  std::vector<std::map<std::string, std::size_t>> m_choice_position;
};

} // namespace automl::space
