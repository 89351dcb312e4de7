#include "core/blas.hpp"

#include <gtest/gtest.h>

#include <strings.h>

#include <chrono>
#include <cstdlib>
#include <thread>

using namespace automl::core;

TEST(Blas, OnlyOpenBlasFallbackKernelIsReplaced) {
  const CpuFeatures avx512{true, true, true}, avx2{true, true, false}, avx{true, false, false}, none{};
  EXPECT_EQ(better_blas_kernel("Prescott", avx512), "SkylakeX");
  EXPECT_EQ(better_blas_kernel("Prescott", avx2), "Haswell");
  EXPECT_EQ(better_blas_kernel("Prescott", avx), "Sandybridge");
  EXPECT_EQ(better_blas_kernel("Prescott", none), std::nullopt); // an old CPU: Prescott is right
  // A kernel OpenBLAS chose itself is kept, even on a CPU that could run another.
  EXPECT_EQ(better_blas_kernel("Haswell", avx512), std::nullopt);
  EXPECT_EQ(better_blas_kernel("SkylakeX", avx512), std::nullopt);
  EXPECT_EQ(better_blas_kernel("Zen", avx2), std::nullopt);
  EXPECT_EQ(better_blas_kernel("", avx512), std::nullopt);
}

// The test programs' main makes automl's check (use_best_blas_kernel): this process never runs on OpenBLAS's
// fallback kernel when the CPU has a better one, unless the user asked for a kernel.
TEST(Blas, TheProcessRunsTheBestKernelForThisCpu) {
  const auto description = blas_description();
  if (description.rfind("OpenBLAS ", 0) != 0) GTEST_SKIP() << "the BLAS loaded is not OpenBLAS: " << description;
  const std::string loaded = description.substr(9);
  if (const char* asked = std::getenv("OPENBLAS_CORETYPE")) {
    // Set by the user or by the check itself, which then ran this program again: OpenBLAS took it.
    EXPECT_EQ(strcasecmp(loaded.c_str(), asked), 0) << "asked for " << asked << ", loaded " << loaded;
    return;
  }
  EXPECT_EQ(better_blas_kernel(loaded, cpu_features()), std::nullopt) << "loaded " << loaded;
}

// The test programs' main calls use_best_blas_kernel, which starts the clock of seconds_since_main (carried over
// a re-run) and leaves no AUTOML_STARTED_AT for child processes to inherit.
TEST(Blas, TheClockStartsAtMainAndTheVariableIsNotPassedOn) {
  const double first = seconds_since_main();
  EXPECT_GT(first, 0.0);
  EXPECT_LT(first, 3600.0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_GE(seconds_since_main() - first, 0.09);
  EXPECT_EQ(std::getenv("AUTOML_STARTED_AT"), nullptr);
}
