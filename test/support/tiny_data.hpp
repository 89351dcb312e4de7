#pragma once
// Small synthetic data sets for training tests: separable Gaussian blobs and tiny images.

#include "data/dataset.hpp"

namespace automl::test {

// `n` samples of `features` features in `classes` well-separated Gaussian blobs (seeded).
data::Dataset blobs(std::int64_t n, std::int64_t features, std::int64_t classes, std::uint64_t seed = 1);

// `n` images of 1 x size x size, 8-bit values, whose class is the quadrant holding a bright square.
data::Dataset quadrant_images(std::int64_t n, std::int64_t size = 8, std::uint64_t seed = 1);

} // namespace automl::test
