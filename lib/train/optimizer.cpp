#include "train/optimizer.hpp"

#include "core/error.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>

namespace automl::train {

namespace {

// Any torch::optim optimizer whose param groups carry options with set_lr().
template <typename TorchOptimizer, typename Options> class TorchAdapter : public Optimizer {
public:
  TorchAdapter(std::vector<torch::Tensor> params, Options options)
      : m_lr(options.lr()), m_optimizer(std::move(params), options) {}
  void zero_grad() override { m_optimizer.zero_grad(); }
  void step() override { m_optimizer.step(); }
  void set_lr(double lr) override {
    for (auto& group : m_optimizer.param_groups()) static_cast<Options&>(group.options()).lr(lr);
  }
  double base_lr() const override { return m_lr; }
  void save(torch::serialize::OutputArchive& archive) const override { m_optimizer.save(archive); }
  void load(torch::serialize::InputArchive& archive) override { m_optimizer.load(archive); }

private:
  double m_lr;
  TorchOptimizer m_optimizer;
};

// Adadelta (Zeiler 2012) as torch.optim.Adadelta computes it; LibTorch 1.13's C++ API has none.
class Adadelta : public Optimizer {
public:
  Adadelta(std::vector<torch::Tensor> params, double lr, double rho, double eps, double weight_decay)
      : m_params(std::move(params)), m_base_lr(lr), m_lr(lr), m_rho(rho), m_eps(eps), m_weight_decay(weight_decay) {
    for (const auto& p : m_params) {
      m_square_avg.push_back(torch::zeros_like(p));
      m_acc_delta.push_back(torch::zeros_like(p));
    }
  }
  void zero_grad() override {
    for (auto& p : m_params)
      if (p.grad().defined()) p.mutable_grad().zero_();
  }
  void step() override {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < m_params.size(); ++i) {
      auto& p = m_params[i];
      if (!p.grad().defined()) continue;
      auto grad = p.grad();
      if (m_weight_decay != 0) grad = grad.add(p, m_weight_decay);
      m_square_avg[i].mul_(m_rho).addcmul_(grad, grad, 1 - m_rho);
      const auto std = m_square_avg[i].add(m_eps).sqrt_();
      const auto delta = m_acc_delta[i].add(m_eps).sqrt_().div_(std).mul_(grad);
      m_acc_delta[i].mul_(m_rho).addcmul_(delta, delta, 1 - m_rho);
      p.add_(delta, -m_lr);
    }
  }
  void set_lr(double lr) override { m_lr = lr; }
  double base_lr() const override { return m_base_lr; }
  void save(torch::serialize::OutputArchive& archive) const override {
    for (std::size_t i = 0; i < m_params.size(); ++i) {
      archive.write(fmt::format("square_avg_{}", i), m_square_avg[i], true);
      archive.write(fmt::format("acc_delta_{}", i), m_acc_delta[i], true);
    }
  }
  void load(torch::serialize::InputArchive& archive) override {
    for (std::size_t i = 0; i < m_params.size(); ++i) {
      archive.read(fmt::format("square_avg_{}", i), m_square_avg[i], true);
      archive.read(fmt::format("acc_delta_{}", i), m_acc_delta[i], true);
    }
  }

private:
  std::vector<torch::Tensor> m_params;
  std::vector<torch::Tensor> m_square_avg;
  std::vector<torch::Tensor> m_acc_delta;
  double m_base_lr, m_lr, m_rho, m_eps, m_weight_decay;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

} // namespace

std::vector<std::string> optimizer_names() { return {"sgd", "adam", "adamw", "rmsprop", "adadelta"}; }

std::unique_ptr<Optimizer> make_optimizer(const core::Hyperparameters& hp, std::vector<torch::Tensor> params) {
  const std::string raw = hp.get_string("", "optimizer", "adam");
  const std::string name = lower(raw);
  // Values are found under the name as written ("optimizer:SGD:lr") or lower-cased ("optimizer:sgd:lr").
  const std::string scope = "optimizer:" + (hp.contains("optimizer:" + raw + ":lr") ? raw : name);
  auto value = [&](const std::string& key, double fallback, double lo, double hi) {
    const double v = hp.get_double(scope, key, fallback);
    if (!(v >= lo && v <= hi)) throw InputError(fmt::format("{}:{}: must be in [{:g}, {:g}], got {:g}", scope, key, lo, hi, v));
    return v;
  };
  auto lr = [&](double fallback) {
    const double v = hp.get_double(scope, "lr", fallback);
    if (!(v > 0 && v <= 100)) throw InputError(fmt::format("{}:lr: must be in (0, 100], got {:g}", scope, v));
    return v;
  };
  if (name == "sgd") {
    const double momentum = value("momentum", 0.0, 0.0, 1.0);
    const bool nesterov = hp.get_bool(scope, "nesterov", false) && momentum > 0;
    return std::make_unique<TorchAdapter<torch::optim::SGD, torch::optim::SGDOptions>>(
        std::move(params), torch::optim::SGDOptions(lr(0.01)).momentum(momentum).nesterov(nesterov).weight_decay(
                               value("weight_decay", 0.0, 0.0, 1.0)));
  }
  if (name == "adam" || name == "adamw") {
    const auto betas = std::make_tuple(value("beta1", 0.9, 0.0, 1.0), value("beta2", 0.999, 0.0, 1.0));
    if (name == "adam")
      return std::make_unique<TorchAdapter<torch::optim::Adam, torch::optim::AdamOptions>>(
          std::move(params), torch::optim::AdamOptions(lr(1e-3)).betas(betas).weight_decay(value("weight_decay", 0.0, 0.0, 1.0)));
    return std::make_unique<TorchAdapter<torch::optim::AdamW, torch::optim::AdamWOptions>>(
        std::move(params), torch::optim::AdamWOptions(lr(1e-3)).betas(betas).weight_decay(value("weight_decay", 0.01, 0.0, 1.0)));
  }
  if (name == "rmsprop")
    return std::make_unique<TorchAdapter<torch::optim::RMSprop, torch::optim::RMSpropOptions>>(
        std::move(params), torch::optim::RMSpropOptions(lr(0.01))
                               .alpha(value("alpha", 0.99, 0.0, 1.0))
                               .momentum(value("momentum", 0.0, 0.0, 1.0))
                               .weight_decay(value("weight_decay", 0.0, 0.0, 1.0)));
  if (name == "adadelta")
    return std::make_unique<Adadelta>(std::move(params), lr(1.0), value("rho", 0.9, 0.0, 1.0),
                                      value("eps", 1e-6, 0.0, 1.0), value("weight_decay", 0.0, 0.0, 1.0));
  throw InputError(fmt::format("optimizer: unknown '{}'; valid: {}", raw, fmt::join(optimizer_names(), ", ")));
}

} // namespace automl::train
