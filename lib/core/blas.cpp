#include "core/blas.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace automl::core {

namespace {

using CoreName = char* (*)();

constexpr const char* k_started_variable = "AUTOML_STARTED_AT";
double g_main_started = -1; // CLOCK_MONOTONIC seconds

double monotonic_seconds() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

std::optional<std::string> loaded_openblas_core() {
  const auto core_name = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (!core_name) return std::nullopt;
  const char* name = core_name();
  return std::string(name ? name : "");
}

} // namespace

CpuFeatures cpu_features() {
  __builtin_cpu_init();
  CpuFeatures f;
  // GCC's checks include the operating system's support (XGETBV) for the AVX and AVX-512 registers.
  f.avx = __builtin_cpu_supports("avx");
  f.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  f.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl");
  return f;
}

std::optional<std::string> better_blas_kernel(const std::string& loaded, const CpuFeatures& cpu) {
  if (loaded != "Prescott") return std::nullopt;
  if (cpu.avx512 && cpu.avx2_fma) return "SkylakeX";
  if (cpu.avx2_fma) return "Haswell";
  if (cpu.avx) return "Sandybridge";
  return std::nullopt;
}

std::string blas_description() {
  const auto core = loaded_openblas_core();
  return core ? "OpenBLAS " + *core : "";
}

void use_best_blas_kernel(char** argv) {
  const double now = monotonic_seconds();
  g_main_started = now;
  if (const char* started = std::getenv(k_started_variable)) {
    // Set by the run that ran this one again, a moment ago (a stale or foreign value is ignored).
    char* end = nullptr;
    const double t = std::strtod(started, &end);
    if (end != started && t <= now && now - t < 60) g_main_started = t;
    unsetenv(k_started_variable);
  }
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  const auto loaded = loaded_openblas_core();
  if (!loaded) return;
  const auto kernel = better_blas_kernel(*loaded, cpu_features());
  if (!kernel) return;
  char started[32];
  std::snprintf(started, sizeof started, "%.6f", g_main_started);
  if (setenv("OPENBLAS_CORETYPE", kernel->c_str(), 1) != 0 || setenv(k_started_variable, started, 1) != 0) return;
  execv("/proc/self/exe", argv);
  unsetenv("OPENBLAS_CORETYPE"); // the new run did not start: go on as we are
  unsetenv(k_started_variable);
}

double seconds_since_main() { return g_main_started < 0 ? 0.0 : monotonic_seconds() - g_main_started; }

} // namespace automl::core
