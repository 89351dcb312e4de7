#include "core/rng.hpp"

#include <limits>
#include <stdexcept>

namespace automl::core {

std::uint64_t Rng::uniform_index(std::uint64_t n) {
  if (n == 0) throw std::invalid_argument("Rng::uniform_index: n must be > 0");
  // Largest multiple of n that fits; draws at or above it are rejected so that every residue is equally likely.
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
  std::uint64_t x = m_engine();
  while (x >= limit) x = m_engine();
  return x % n;
}

double Rng::uniform01() {
  return static_cast<double>(m_engine() >> 11) * 0x1.0p-53;
}

} // namespace automl::core
