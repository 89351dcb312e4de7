#include "models/builder.hpp"

#include "core/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace automl::models {

namespace {

// TorchScript for the shake regularisers. The value is computed with alpha and the gradient with beta:
// y = f(beta) + (f(alpha) - f(beta)).detach().
constexpr const char* k_shake_shake = R"(
def shake_shake(self, a: Tensor, b: Tensor) -> Tensor:
    if self.training:
        alpha = torch.rand([1], dtype=a.dtype, device=a.device)
        beta = torch.rand([1], dtype=a.dtype, device=a.device)
        return a * beta + b * (1.0 - beta) + ((alpha - beta) * (a - b)).detach()
    return 0.5 * (a + b)
)";

constexpr const char* k_shake_drop = R"(
def shake_drop(self, x: Tensor, p_keep: float) -> Tensor:
    if self.training:
        gate = torch.bernoulli(torch.full([1], p_keep, dtype=x.dtype, device=x.device))
        alpha = torch.rand([1], dtype=x.dtype, device=x.device) * 2.0 - 1.0
        beta = torch.rand([1], dtype=x.dtype, device=x.device)
        forward = gate + alpha - gate * alpha
        backward = gate + beta - gate * beta
        return x * backward + (x * (forward - backward)).detach()
    return x * p_keep
)";

std::string number(double v) { return fmt::format("{:.17g}", v); }

} // namespace

NetBuilder::NetBuilder(torch::jit::Module& module, std::string prefix, c10::optional<at::Generator> generator)
    : m_module(module), m_prefix(std::move(prefix)), m_generator(std::move(generator)) {}

const std::vector<std::string>& NetBuilder::activation_names() {
  static const std::vector<std::string> k_names{"relu", "tanh", "sigmoid", "leaky_relu"};
  return k_names;
}

std::string NetBuilder::assign(const std::string& expression) {
  const std::string v = fmt::format("h{}", m_vars++);
  m_lines.push_back(fmt::format("    {} = {}", v, expression));
  return v;
}

std::string NetBuilder::param(const std::string& kind, const torch::Tensor& value, bool buffer) {
  const std::string name = fmt::format("{}{}_{}", m_prefix, m_layers, kind);
  if (buffer)
    m_module.register_buffer(name, value);
  else
    m_module.register_parameter(name, value.requires_grad_(true), /*is_buffer=*/false);
  return "self." + name;
}

void NetBuilder::describe(const std::string& line) {
  m_description.push_back(std::string(static_cast<std::size_t>(2 * m_depth), ' ') + line);
}

std::string NetBuilder::linear(const std::string& x, std::int64_t in, std::int64_t out) {
  // torch.nn.Linear's default: kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), same for the bias.
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  const auto w = param("weight", torch::empty({out, in}).uniform_(-bound, bound, m_generator));
  const auto b = param("bias", torch::empty({out}).uniform_(-bound, bound, m_generator));
  ++m_layers;
  describe(fmt::format("Linear(in_features={}, out_features={}, bias=True)", in, out));
  return assign(fmt::format("torch.linear({}, {}, {})", x, w, b));
}

std::string NetBuilder::batch_norm(const std::string& x, std::int64_t features, bool image) {
  const auto w = param("weight", torch::ones({features}));
  const auto b = param("bias", torch::zeros({features}));
  const auto mean = param("running_mean", torch::zeros({features}), true);
  const auto var = param("running_var", torch::ones({features}), true);
  ++m_layers;
  describe(fmt::format("BatchNorm{}d({}, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)",
                       image ? 2 : 1, features));
  return assign(fmt::format("torch.batch_norm({}, {}, {}, {}, {}, self.training, 0.1, 1e-05, False)", x, w, b, mean, var));
}

std::string NetBuilder::conv2d(const std::string& x, std::int64_t in, std::int64_t out, std::int64_t kernel,
                               std::int64_t stride, std::int64_t padding, bool bias) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in * kernel * kernel));
  const auto w = param("weight", torch::empty({out, in, kernel, kernel}).uniform_(-bound, bound, m_generator));
  const std::string b = bias ? param("bias", torch::empty({out}).uniform_(-bound, bound, m_generator)) : "None";
  ++m_layers;
  describe(fmt::format("Conv2d({}, {}, kernel_size=({}, {}), stride=({}, {}), padding=({}, {}){})", in, out, kernel,
                       kernel, stride, stride, padding, padding, bias ? "" : ", bias=False"));
  return assign(fmt::format("torch.conv2d({}, {}, {}, [{}, {}], [{}, {}], [1, 1], 1)", x, w, b, stride, stride, padding,
                            padding));
}

std::string NetBuilder::activation(const std::string& x, const std::string& name) {
  if (name == "relu") {
    describe("ReLU()");
    return assign(fmt::format("torch.relu({})", x));
  }
  if (name == "tanh") {
    describe("Tanh()");
    return assign(fmt::format("torch.tanh({})", x));
  }
  if (name == "sigmoid") {
    describe("Sigmoid()");
    return assign(fmt::format("torch.sigmoid({})", x));
  }
  if (name == "leaky_relu") {
    describe("LeakyReLU(negative_slope=0.01)");
    return assign(fmt::format("torch.leaky_relu({}, 0.01)", x));
  }
  throw InputError("unknown activation '" + name + "'; valid: relu, tanh, sigmoid, leaky_relu");
}

std::string NetBuilder::dropout(const std::string& x, double p) {
  if (!(p >= 0.0 && p < 1.0)) throw InputError(fmt::format("dropout must be in [0, 1), got {}", p));
  if (p == 0.0) return x;
  describe(fmt::format("Dropout(p={:g}, inplace=False)", p));
  return assign(fmt::format("torch.dropout({}, {}, self.training)", x, number(p)));
}

std::string NetBuilder::max_pool2d(const std::string& x, std::int64_t kernel) {
  describe(fmt::format("MaxPool2d(kernel_size={}, stride={}, padding=0, dilation=1, ceil_mode=False)", kernel, kernel));
  return assign(fmt::format("torch.max_pool2d({}, [{}, {}], [{}, {}], [0, 0], [1, 1], False)", x, kernel, kernel,
                            kernel, kernel));
}

std::string NetBuilder::global_avg_pool(const std::string& x) {
  describe("AdaptiveAvgPool2d(output_size=1)");
  return assign(fmt::format("torch.mean({}, [2, 3])", x));
}

std::string NetBuilder::flatten(const std::string& x) {
  describe("Flatten(start_dim=1, end_dim=-1)");
  return assign(fmt::format("torch.flatten({}, 1)", x));
}

std::string NetBuilder::add(const std::string& a, const std::string& b) {
  return assign(fmt::format("{} + {}", a, b));
}

std::string NetBuilder::shake_shake(const std::string& a, const std::string& b) {
  if (std::find(m_helpers.begin(), m_helpers.end(), k_shake_shake) == m_helpers.end()) m_helpers.push_back(k_shake_shake);
  describe("ShakeShake()");
  return assign(fmt::format("self.shake_shake({}, {})", a, b));
}

std::string NetBuilder::shake_drop(const std::string& x, double p_keep) {
  if (std::find(m_helpers.begin(), m_helpers.end(), k_shake_drop) == m_helpers.end()) m_helpers.push_back(k_shake_drop);
  describe(fmt::format("ShakeDrop(p_keep={:.4g})", p_keep));
  return assign(fmt::format("self.shake_drop({}, {})", x, number(p_keep)));
}

void NetBuilder::open(const std::string& name) {
  describe(name + "(");
  ++m_depth;
}

void NetBuilder::close() {
  --m_depth;
  describe(")");
}

void NetBuilder::define(const std::string& method, const std::string& input, const std::string& output) {
  std::string source;
  for (const auto& helper : m_helpers) source += helper;
  source += fmt::format("\ndef {}(self, {}: Tensor) -> Tensor:\n", method, input);
  for (const auto& line : m_lines) source += line + "\n";
  source += fmt::format("    return {}\n", output);
  m_module.define(source);
}

} // namespace automl::models
