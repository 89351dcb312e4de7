#include "core/error.hpp"

namespace automl {

Error::Error(const std::string& message, ExitCode code) : std::runtime_error(message), m_code(code) {}

Error Error::with_context(const std::string& context) const {
  return Error(context + ": " + what(), m_code);
}

} // namespace automl
