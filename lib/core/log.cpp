#include "core/log.hpp"

#include "core/error.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <utility>

namespace automl::core {

void set_log_level(const std::string& level) {
  static const std::array<std::pair<const char*, spdlog::level::level_enum>, 6> k_levels{{
      {"trace", spdlog::level::trace},
      {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},
      {"off", spdlog::level::off},
  }};
  for (const auto& [name, value] : k_levels) {
    if (level == name) {
      static const auto logger = [] {
        auto l = spdlog::stderr_color_mt("automl");
        l->set_pattern("[%H:%M:%S] %^%l%$ %v");
        spdlog::set_default_logger(l);
        return l;
      }();
      logger->set_level(value);
      return;
    }
  }
  throw InputError("unknown log level '" + level + "'; valid: trace, debug, info, warn, error, off");
}

} // namespace automl::core
