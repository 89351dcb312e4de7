#pragma once
// A seeded random generator whose streams are the same on every platform and standard library:
// std::mt19937_64 is fully specified, but std::uniform_int_distribution and std::shuffle are not, so the
// helpers that turn its bits into indices are written here.

#include <cstdint>
#include <random>
#include <vector>

namespace automl::core {

class Rng {
public:
  explicit Rng(std::uint64_t seed) : m_engine(seed) {}

  // Uniform integer in [0, n), unbiased (rejection sampling). n must be > 0.
  std::uint64_t uniform_index(std::uint64_t n);

  // Uniform double in [0, 1) with 53 random bits.
  double uniform01();

  // Fisher-Yates shuffle in place.
  template <typename T> void shuffle(std::vector<T>& values) {
    for (std::size_t i = values.size(); i > 1; --i) {
      std::size_t j = static_cast<std::size_t>(uniform_index(i));
      std::swap(values[i - 1], values[j]);
    }
  }

  std::uint64_t next() { return m_engine(); }

private:
  std::mt19937_64 m_engine;
};

} // namespace automl::core
