#pragma once
// Threads and devices, set explicitly by every command that trains or predicts.

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

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

// --device for a search or a worker: one device as parse_device takes it, or several GPUs, "cuda:0,1" (or
// "cuda:0,cuda:1"), over which the trials are spread (commands/trial_objective.hpp). Throws InputError naming
// --device for a bad element (every element is read before CUDA is asked), a GPU named twice, cpu or auto
// among several, and what parse_device refuses.
std::vector<torch::Device> parse_devices(const std::string& list);
// "cpu", "cuda:0", ... for the logs.
std::vector<std::string> device_names(const std::vector<torch::Device>& devices);

// Gives the memory LibTorch's caching allocator holds but no tensor uses back to the GPU (after a trial ran out
// of memory, so that the next one starts with all of it). Nothing on the CPU or without CUDA.
void release_cached_memory(torch::Device device);

// True when `e` is a device running out of memory (LibTorch's OutOfMemoryError, or an error saying so, as
// TorchScript and cuBLAS report it).
bool is_out_of_memory(const std::exception& e);

// The arithmetic of the forward passes: fp32, or autocast to bf16 or fp16 (matrix products and convolutions in
// 16 bits, the rest and the weights in fp32; fp16 with a dynamic loss scale). The exported weights stay fp32.
enum class Precision { fp32, bf16, fp16 };
// "fp32", "bf16" or "fp16"; else InputError naming --precision.
Precision parse_precision(const std::string& name);
const char* precision_name(Precision p);
// InputError naming --precision when this LibTorch cannot autocast to `p` on `device` (LibTorch 1.x autocasts
// the CPU to bf16 only).
void check_precision(Precision p, torch::Device device);

// Autocast to `precision` on `device` for this thread while it lives (nothing for fp32); restores the previous
// state after.
class AutocastGuard {
public:
  AutocastGuard(torch::Device device, Precision precision);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

private:
  bool m_active = false;
  bool m_cuda = false;
  bool m_was_enabled = false;
  std::int8_t m_old_dtype = 0;
};

} // namespace automl::train
