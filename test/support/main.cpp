// The test programs' main: GoogleTest's, after the BLAS kernel check that the automl binary makes
// (core/blas.hpp), so that in-process training runs with the kernels automl would use.
#include "core/blas.hpp"

#include <gtest/gtest.h>

int main(int argc, char** argv) {
  automl::core::use_best_blas_kernel(argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
