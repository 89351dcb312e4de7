#include "train/runtime.hpp"

#include "core/cpus.hpp"
#include "core/error.hpp"

#include <fmt/format.h>

#include <torch/cuda.h>
#include <torch/utils.h>

#include <dlfcn.h>

#include <thread>

namespace automl::train {

int configure_threads(int threads) {
  if (threads < 0 || threads > k_max_threads)
    throw InputError(fmt::format("--threads: must be between 0 and {}, got {}", k_max_threads, threads));
  // A short sample of /proc/stat: long enough to see a process that keeps a core busy.
  constexpr double k_sample_s = 0.15;
  const int n = threads > 0 ? threads : core::default_threads(core::read_cpus(k_sample_s), 0);
  torch::set_num_threads(n);
  using SetThreads = void (*)(int);
  if (auto set_blas = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set_blas(1);
  return n;
}

torch::Device parse_device(const std::string& name) {
  const bool indexed = name.rfind("cuda:", 0) == 0;
  const bool cuda = name == "cuda" || indexed;
  int index = 0;
  if (indexed) {
    // The index by hand: torch::Device would throw its own error (or take "cuda:01") for what a user typed.
    const std::string digits = name.substr(5);
    const bool number = !digits.empty() && digits.size() <= 4 && (digits == "0" || digits[0] != '0') &&
                        digits.find_first_not_of("0123456789") == std::string::npos;
    if (!number) throw InputError("--device " + name + ": expected cuda:<index>, a GPU number such as cuda:0");
    index = std::stoi(digits);
  }
  if (name != "auto" && name != "cpu" && !cuda)
    throw InputError("--device: unknown '" + name + "'; valid: auto, cpu, cuda, cuda:<index>");
  const bool have_cuda = torch::cuda::is_available();
  if (name == "auto") return have_cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::kCPU;
  if (!have_cuda) throw InputError("--device " + name + ": this LibTorch has no CUDA or no GPU is visible");
  if (index >= static_cast<int>(torch::cuda::device_count()))
    throw InputError("--device " + name + ": only " + std::to_string(torch::cuda::device_count()) + " GPU(s) visible");
  return {torch::kCUDA, static_cast<torch::DeviceIndex>(index)};
}

} // namespace automl::train
