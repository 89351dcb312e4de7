#pragma once
// OpenBLAS's kernels for this CPU. OpenBLAS (DYNAMIC_ARCH, as Debian builds it) picks its kernels from the CPU
// model when it loads; a model newer than its table falls back to "Prescott", an SSE3 kernel. Debian bookworm's
// 0.3.21 does not know Intel's Emerald Rapids (family 6, model 207): there a 784-256-256-10 MLP trained 2.4x
// slower (17.2k against 41.3k samples/s, bench/train_throughput, 1 thread). The kernel is chosen once, from the
// environment variable OPENBLAS_CORETYPE, before main runs; so when the loaded kernel is that fallback and the
// CPU has AVX2 or AVX-512, the program runs itself again with OPENBLAS_CORETYPE naming the kernel for them.
// A user's own OPENBLAS_CORETYPE is always kept.

#include <optional>
#include <string>

namespace automl::core {

struct CpuFeatures {
  bool avx = false;
  bool avx2_fma = false;  // AVX2 and FMA: OpenBLAS's Haswell kernels
  bool avx512 = false;    // AVX-512 F, CD, BW, DQ and VL: its SkylakeX kernels
};

// What this CPU (and the operating system, which must save the registers) supports.
CpuFeatures cpu_features();

// The OPENBLAS_CORETYPE to ask for when OpenBLAS loaded `loaded` (its core name) on a CPU with `cpu`, or none
// when `loaded` is not the fallback or the CPU has nothing better.
std::optional<std::string> better_blas_kernel(const std::string& loaded, const CpuFeatures& cpu);

// "OpenBLAS <core name>" (e.g. "OpenBLAS SkylakeX") for the BLAS this process loaded, or "" when it is not
// OpenBLAS.
std::string blas_description();

// Called first in main: when better_blas_kernel finds one and OPENBLAS_CORETYPE is unset, sets it and replaces
// this process by a new run of the same executable with the same arguments (/proc/self/exe). Returns when
// nothing is to be done or the new run could not start (the process then goes on with the kernel it has).
// The first run's start travels to the new one (AUTOML_STARTED_AT, CLOCK_MONOTONIC seconds, removed from the
// environment as soon as it is read, so that child processes do not inherit it).
void use_best_blas_kernel(char** argv);

// Seconds since main() began (the first run's main when use_best_blas_kernel ran the program again): what a
// command's time budget counts besides its own. 0 when use_best_blas_kernel was not called.
double seconds_since_main();

} // namespace automl::core
