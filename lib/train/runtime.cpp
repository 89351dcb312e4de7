#include "train/runtime.hpp"

#include "core/cpus.hpp"
#include "core/error.hpp"

#include <fmt/format.h>

#include <ATen/autocast_mode.h>
#include <c10/util/Exception.h>
#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>
#ifdef AUTOML_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

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

namespace {

// What a device's name asks for, read without asking CUDA: a GPU (and its index), auto, or else the CPU.
struct DeviceName {
  bool cuda = false;
  bool automatic = false;
  int index = 0;
};

DeviceName read_device_name(const std::string& name) {
  const bool indexed = name.rfind("cuda:", 0) == 0;
  DeviceName d;
  d.cuda = name == "cuda" || indexed;
  d.automatic = name == "auto";
  if (indexed) {
    // The index by hand: torch::Device would throw its own error (or take "cuda:01") for what a user typed.
    const std::string digits = name.substr(5);
    const bool number = !digits.empty() && digits.size() <= 4 && (digits == "0" || digits[0] != '0') &&
                        digits.find_first_not_of("0123456789") == std::string::npos;
    if (!number) throw InputError("--device " + name + ": expected cuda:<index>, a GPU number such as cuda:0");
    d.index = std::stoi(digits);
  }
  if (!d.automatic && name != "cpu" && !d.cuda)
    throw InputError("--device: unknown '" + name + "'; valid: auto, cpu, cuda, cuda:<index>");
  return d;
}

torch::Device resolve(const std::string& name, const DeviceName& d) {
  const bool have_cuda = torch::cuda::is_available();
  if (d.automatic) return have_cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (!d.cuda) return torch::kCPU;
  if (!have_cuda) throw InputError("--device " + name + ": this LibTorch has no CUDA or no GPU is visible");
  if (d.index >= static_cast<int>(torch::cuda::device_count()))
    throw InputError("--device " + name + ": only " + std::to_string(torch::cuda::device_count()) + " GPU(s) visible");
  return {torch::kCUDA, static_cast<torch::DeviceIndex>(d.index)};
}

} // namespace

torch::Device parse_device(const std::string& name) { return resolve(name, read_device_name(name)); }

std::vector<torch::Device> parse_devices(const std::string& list) {
  if (list.find(',') == std::string::npos) return {parse_device(list)};
  std::vector<std::string> names;
  std::vector<DeviceName> read;
  for (std::size_t start = 0;;) {
    const auto comma = list.find(',', start);
    std::string name = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    // "cuda:0,1": a bare number after the first names another GPU.
    if (!names.empty() && !name.empty() && name.find_first_not_of("0123456789") == std::string::npos) name = "cuda:" + name;
    const DeviceName d = read_device_name(name);
    if (!d.cuda || name == "cuda")
      throw InputError(fmt::format("--device {}: several devices are GPUs by number (cuda:0,1), not '{}'", list, name));
    for (const auto& earlier : read)
      if (earlier.index == d.index) throw InputError(fmt::format("--device {}: {} is named twice", list, name));
    names.push_back(name);
    read.push_back(d);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::vector<torch::Device> devices;
  for (std::size_t i = 0; i < names.size(); ++i) devices.push_back(resolve(names[i], read[i]));
  return devices;
}

std::vector<std::string> device_names(const std::vector<torch::Device>& devices) {
  std::vector<std::string> names;
  for (const auto& d : devices) names.push_back(d.str());
  return names;
}

void release_cached_memory(torch::Device device) {
#ifdef AUTOML_WITH_CUDA
  if (device.is_cuda()) {
    torch::cuda::synchronize(device.index());
    c10::cuda::CUDACachingAllocator::emptyCache();
  }
#else
  (void)device;
#endif
}

bool is_out_of_memory(const std::exception& e) {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e)) return true;
  const std::string what = e.what();
  return what.find("out of memory") != std::string::npos || what.find("CUBLAS_STATUS_ALLOC_FAILED") != std::string::npos;
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "bf16") return Precision::bf16;
  if (name == "fp16") return Precision::fp16;
  throw InputError("--precision: unknown '" + name + "'; valid: fp32, bf16, fp16");
}

const char* precision_name(Precision p) {
  switch (p) {
  case Precision::bf16: return "bf16";
  case Precision::fp16: return "fp16";
  case Precision::fp32: break;
  }
  return "fp32";
}

namespace {

// LibTorch 2.4 made autocast's switches per device type; 1.x (Debian's) has one for CUDA and one for the CPU.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define AUTOML_AUTOCAST_BY_DEVICE_TYPE 1
#else
#define AUTOML_AUTOCAST_BY_DEVICE_TYPE 0
#endif
constexpr bool k_autocast_by_device_type = AUTOML_AUTOCAST_BY_DEVICE_TYPE;

bool autocast_enabled(bool cuda) {
#if AUTOML_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

at::ScalarType autocast_dtype(bool cuda) {
#if AUTOML_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

void set_autocast(bool cuda, bool enabled, at::ScalarType dtype) {
#if AUTOML_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, dtype);
  at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, enabled);
#else
  if (cuda) {
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(enabled);
  }
#endif
}

} // namespace

void check_precision(Precision p, torch::Device device) {
  if (p == Precision::fp16 && !device.is_cuda() && !k_autocast_by_device_type)
    throw InputError(fmt::format("--precision fp16: this LibTorch ({}) autocasts the CPU to bf16 only; use bf16, or "
                                 "fp16 on a GPU (--device cuda)", TORCH_VERSION));
}

AutocastGuard::AutocastGuard(torch::Device device, Precision precision)
    : m_active(precision != Precision::fp32), m_cuda(device.is_cuda()) {
  if (!m_active) return;
  m_was_enabled = autocast_enabled(m_cuda);
  m_old_dtype = static_cast<std::int8_t>(autocast_dtype(m_cuda));
  set_autocast(m_cuda, true, precision == Precision::bf16 ? at::kBFloat16 : at::kHalf);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!m_active) return;
  // The casts of the weights are cached while autocast is on; dropped as the outermost guard ends (the
  // weights change at every step).
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast(m_cuda, m_was_enabled, static_cast<at::ScalarType>(m_old_dtype));
}

} // namespace automl::train
