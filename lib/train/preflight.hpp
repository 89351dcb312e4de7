#pragma once
// The check a search runs before it trains anything: can the space's configurations be built at all? A
// misspelt network family, a space without `network`, or a misspelt hyperparameter key would otherwise pass
// the YAML checks and then fail (or be silently ignored by) every trial for the whole budget.

#include "data/dataset.hpp"
#include "space/search_space.hpp"

namespace automl::train {

// Builds what a trial builds (preprocessing, network, loss, optimizer, learning-rate schedule) on a few
// synthetic samples shaped like `schema`, for the space's default configuration and, for each categorical or
// bool hyperparameter, the default configuration with each of its choices. Throws InputError, naming the
// configuration, when one cannot be built (an unknown network family, no `network`, a value a component
// refuses), or when a hyperparameter of a built configuration is read by no component (a misspelt key such as
// `optimizer:adam:lrr`, with the closest name a component asked for). Draws nothing from torch's global
// generator (a pipeline has its own; the synthetic data is deterministic).
void check_space_trainable(const space::SearchSpace& space, const data::Schema& schema);

} // namespace automl::train
