#include "train/scheduler.hpp"

#include "core/error.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

namespace automl::train {

namespace {
constexpr double k_pi = 3.14159265358979323846;
// torch's ReduceLROnPlateau default: an improvement must beat the best by this relative margin.
constexpr double k_plateau_threshold = 1e-4;
} // namespace

std::vector<std::string> LrSchedule::names() {
  return {"none", "cosine_annealing", "cosine_annealing_with_restarts", "step", "exponential", "plateau"};
}

LrSchedule::LrSchedule(const core::Hyperparameters& hp, double base_lr)
    : m_name(hp.get_string("", "lr_scheduler", "none")), m_base_lr(base_lr) {
  const std::string scope = "lr_scheduler:" + m_name;
  auto positive_int = [&](const std::string& key, std::int64_t fallback) {
    const auto v = hp.get_int(scope, key, fallback);
    if (v < 1) throw InputError(fmt::format("{}:{}: must be >= 1, got {}", scope, key, v));
    return v;
  };
  auto fraction = [&](const std::string& key, double fallback) {
    const auto v = hp.get_double(scope, key, fallback);
    if (!(v > 0 && v <= 1)) throw InputError(fmt::format("{}:{}: must be in (0, 1], got {:g}", scope, key, v));
    return v;
  };
  if (m_name == "cosine_annealing") {
    m_period = positive_int("T_max", 10);
    m_eta_min = hp.get_double(scope, "eta_min", 0.0);
  } else if (m_name == "cosine_annealing_with_restarts") {
    // The first period: T_0 as PyTorch's CosineAnnealingWarmRestarts spells it, or T_max as legacy Auto-PyTorch's
    // full_cs does (before the preflight check, full_cs's T_max was silently ignored).
    m_period = positive_int("T_0", positive_int("T_max", 1));
    // A real factor, as in legacy Auto-PyTorch's space (T_mult in [1, 2]); PyTorch's own takes integers only.
    m_mult = hp.get_double(scope, "T_mult", 2.0);
    if (!(m_mult >= 1 && std::isfinite(m_mult)))
      throw InputError(fmt::format("{}:T_mult: must be a number >= 1, got {:g}", scope, m_mult));
    m_eta_min = hp.get_double(scope, "eta_min", 0.0);
  } else if (m_name == "step") {
    m_period = positive_int("step_size", 10);
    m_gamma = fraction("gamma", 0.1);
  } else if (m_name == "exponential") {
    m_gamma = fraction("gamma", 0.9);
  } else if (m_name == "plateau") {
    m_patience = positive_int("patience", 10);
    m_gamma = fraction("factor", 0.1);
  } else if (m_name != "none") {
    throw InputError(fmt::format("lr_scheduler: unknown '{}'; valid: {}", m_name, fmt::join(names(), ", ")));
  }
}

double LrSchedule::lr(std::int64_t e) const { return lr_at(static_cast<double>(e)); }

double LrSchedule::lr_at(double epoch) const {
  if (m_name == "cosine_annealing")
    return m_eta_min + (m_base_lr - m_eta_min) * (1 + std::cos(k_pi * epoch / static_cast<double>(m_period))) / 2;
  if (m_name == "cosine_annealing_with_restarts") {
    // Find the position inside the current cycle; cycles grow by T_mult.
    double cycle = static_cast<double>(m_period);
    double t = epoch;
    while (t >= cycle) {
      t -= cycle;
      cycle *= m_mult;
    }
    return m_eta_min + (m_base_lr - m_eta_min) * (1 + std::cos(k_pi * t / cycle)) / 2;
  }
  if (m_name == "step") return m_base_lr * std::pow(m_gamma, std::floor(epoch / static_cast<double>(m_period) + 1e-9));
  if (m_name == "exponential") return m_base_lr * std::pow(m_gamma, epoch);
  if (m_name == "plateau") return m_base_lr * m_scale;
  return m_base_lr;
}

void LrSchedule::observe(double loss) {
  if (m_name != "plateau" || !std::isfinite(loss)) return;
  if (!m_has_best || loss < m_best * (1 - k_plateau_threshold)) {
    m_best = loss;
    m_has_best = true;
    m_bad_epochs = 0;
  } else if (++m_bad_epochs > m_patience) {
    m_scale *= m_gamma;
    m_bad_epochs = 0;
  }
}

nlohmann::json LrSchedule::state() const {
  return {{"best", m_best}, {"has_best", m_has_best}, {"bad_epochs", m_bad_epochs}, {"scale", m_scale}};
}

void LrSchedule::restore(const nlohmann::json& s) {
  m_best = s.at("best").get<double>();
  m_has_best = s.at("has_best").get<bool>();
  m_bad_epochs = s.at("bad_epochs").get<std::int64_t>();
  m_scale = s.at("scale").get<double>();
}

double shrunk_schedule_scale(const core::Hyperparameters& hp, double scale, double max_budget) {
  if (scale == 1 || !(scale > 0) || !(max_budget > 0) || hp.get_string("", "lr_scheduler", "none") != "cosine_annealing") return scale;
  const auto period = static_cast<double>(hp.get_int("lr_scheduler:cosine_annealing", "T_max", 10));
  const double preset_max = max_budget / scale;
  return period >= 1 && period < preset_max ? max_budget / period : scale;
}

} // namespace automl::train
