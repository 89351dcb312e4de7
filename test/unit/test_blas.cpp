#include "core/blas.hpp"

#include <gtest/gtest.h>

#include <strings.h>

#include <cstdlib>

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
