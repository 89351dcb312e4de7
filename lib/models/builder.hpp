#pragma once
// Builds a network directly as TorchScript: each layer registers its parameters on a torch::jit::Module and
// appends one statement to the source of a method. The same module is trained (autograd runs through the
// TorchScript interpreter) and exported, so the file a user loads is exactly what was trained: no second
// implementation of the forward pass, no weight copying. It also keeps a PyTorch-style description of the
// layers for `automl model`.

#include <torch/script.h>

#include <cstdint>
#include <string>
#include <vector>

namespace automl::models {

class NetBuilder {
public:
  // Parameters are initialised like torch.nn's defaults, from `generator` (a trial's own, so that trials
  // running at once do not share a stream), or from torch's global generator when none is given.
  explicit NetBuilder(torch::jit::Module& module, std::string prefix = "net",
                      c10::optional<at::Generator> generator = c10::nullopt);

  // Each op appends `v = <op>(x)` and returns the new variable's name.
  std::string linear(const std::string& x, std::int64_t in, std::int64_t out);
  std::string batch_norm(const std::string& x, std::int64_t features, bool image); // BatchNorm2d when image
  std::string conv2d(const std::string& x, std::int64_t in, std::int64_t out, std::int64_t kernel,
                     std::int64_t stride, std::int64_t padding, bool bias = true);
  std::string activation(const std::string& x, const std::string& name); // relu, tanh, sigmoid, leaky_relu
  std::string dropout(const std::string& x, double p);                   // no-op (and no line) when p == 0
  std::string max_pool2d(const std::string& x, std::int64_t kernel);
  std::string global_avg_pool(const std::string& x);
  std::string flatten(const std::string& x);
  std::string add(const std::string& a, const std::string& b);
  // Shake-shake of two branches (Gastaldi 2017): random convex combination in training, the mean in eval.
  std::string shake_shake(const std::string& a, const std::string& b);
  // ShakeDrop (Yamada 2018) with survival probability p_keep.
  std::string shake_drop(const std::string& x, double p_keep);

  // Structure of the printed description: open("ResBlock") ... close().
  void open(const std::string& name);
  void close();

  // Defines `def <method>(self, <input>) -> Tensor` returning `output` on the module.
  void define(const std::string& method, const std::string& input, const std::string& output);

  // The PyTorch-style description, one line per layer, indented by nesting.
  const std::vector<std::string>& description() const { return m_description; }

  static const std::vector<std::string>& activation_names();

private:
  std::string assign(const std::string& expression);
  std::string param(const std::string& kind, const torch::Tensor& value, bool buffer = false);
  void describe(const std::string& line);

  torch::jit::Module& m_module;
  std::string m_prefix;
  c10::optional<at::Generator> m_generator;
  std::vector<std::string> m_lines;
  std::vector<std::string> m_description;
  std::vector<std::string> m_helpers; // extra methods (shake functions) to define once
  int m_depth = 0;
  int m_vars = 0;
  int m_layers = 0;
};

} // namespace automl::models
