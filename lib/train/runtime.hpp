#pragma once
// Threads and devices, set explicitly by every command that trains or predicts.

#include <torch/types.h>

#include <string>

namespace automl::train {

// Sets LibTorch's intra-op threads to `threads` (0 = one per free core: core/cpus.hpp; more threads than free
// cores make every operation wait for the slowest, and a busy core makes training ~3x slower) and, when LibTorch uses OpenBLAS, pins
// OpenBLAS to 1 thread: LibTorch already parallelises around its BLAS calls, and two thread pools on the
// same cores fight (measured: bench/train_throughput). Returns the thread count in effect. `threads` outside
// [0, k_max_threads] is an InputError naming --threads.
int configure_threads(int threads);
// More intra-op threads than any machine has cores: a typo, not a setting.
constexpr int k_max_threads = 1024;

// "auto" (CUDA when this LibTorch has it and a GPU is visible, else CPU), "cpu", "cuda" (cuda:0) or "cuda:<i>"
// (i a number without leading zeros). Throws InputError naming --device for anything else, and for CUDA when
// it is not available or has no GPU i.
torch::Device parse_device(const std::string& name);

} // namespace automl::train
