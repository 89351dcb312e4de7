#pragma once
// Optimizers by name (hyperparameter `optimizer`, case-insensitive so that Optuna-style "Adam" works):
//   sgd       optimizer:sgd:lr, momentum (0), nesterov (false), weight_decay (0)
//   adam      optimizer:adam:lr, beta1 (0.9), beta2 (0.999), weight_decay (0)
//   adamw     optimizer:adamw:lr, beta1, beta2, weight_decay (0.01)
//   rmsprop   optimizer:rmsprop:lr, alpha (0.99), momentum (0), weight_decay (0)
//   adadelta  optimizer:adadelta:lr (1.0), rho (0.9), eps (1e-6), weight_decay (0)
// Each value is looked up as "optimizer:<name>:<key>", then "<key>" (so a flat `lr` works).

#include "core/hyperparameters.hpp"

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace automl::train {

class Optimizer {
public:
  virtual ~Optimizer() = default;
  virtual void zero_grad() = 0;
  virtual void step() = 0;
  virtual void set_lr(double lr) = 0;
  // The configured learning rate that schedules scale.
  virtual double base_lr() const = 0;
  virtual void save(torch::serialize::OutputArchive& archive) const = 0;
  virtual void load(torch::serialize::InputArchive& archive) = 0;
};

std::vector<std::string> optimizer_names();

// Throws InputError for an unknown name or an invalid value (lr <= 0, ...).
std::unique_ptr<Optimizer> make_optimizer(const core::Hyperparameters& hp, std::vector<torch::Tensor> parameters);

} // namespace automl::train
