#include "train/optimizer.hpp"

#include "core/error.hpp"
#include "train/adam_kernel.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>
#include <string>
#include <type_traits>

namespace automl::train {

namespace {

// torch::optim's key for a parameter's state: its TensorImpl's address, printed (LibTorch 1.x) or as it is (2.x).
template <typename Key> Key state_key(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;
    s << p.unsafeGetTensorImpl();
    return s.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

// Any torch::optim optimizer whose param groups carry options with set_lr().
template <typename TorchOptimizer, typename Options> class TorchAdapter : public Optimizer {
public:
  TorchAdapter(std::vector<torch::Tensor> params, Options options)
      : m_lr(options.lr()), m_optimizer(std::move(params), options) {}
  // Gradients are dropped rather than zeroed (PyTorch 2's default): the backward pass then writes them instead
  // of adding to zeros, and no pass clears them.
  void zero_grad() override {
    for (auto& group : m_optimizer.param_groups())
      for (auto& p : group.params()) p.mutable_grad().reset();
  }
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

// torch::optim::Adam or AdamW whose step runs adam_update on each parameter when all of them are contiguous
// float32 CPU tensors (else torch's own step). The state is torch's (the same AdamParamState, saved and loaded
// by torch), so checkpoints are those of torch::optim.
template <typename Base, typename Options, typename State, bool Decoupled> class FusedAdam : public Base {
public:
  FusedAdam(std::vector<torch::Tensor> params, Options options) : Base(std::move(params), options) {}

  // One lookup of each parameter's state per step: the checks that the fused kernel applies (CPU, float32,
  // contiguous, dense; no amsgrad) are made as the work is gathered, and torch's own step runs when any fails.
  torch::Tensor step(torch::optim::Optimizer::LossClosure closure = nullptr) override {
    if (closure) return Base::step(std::move(closure));
    torch::NoGradGuard no_grad;
    m_work.clear();
    for (auto& group : this->param_groups_) {
      const auto& o = static_cast<const Options&>(group.options());
      if (o.amsgrad()) return Base::step();
      for (auto& p : group.params()) {
        if (!p.grad().defined()) continue;
        if (!plain(p) || !plain(p.grad())) return Base::step();
        auto& slot = this->state_[state_key<typename decltype(this->state_)::key_type>(p)];
        if (!slot) { // as torch's step creates it
          auto fresh = std::make_unique<State>();
          fresh->step(0);
          fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Contiguous));
          fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Contiguous));
          slot = std::move(fresh);
        }
        auto& st = static_cast<State&>(*slot);
        if (!plain(st.exp_avg()) || !plain(st.exp_avg_sq())) return Base::step();
        m_work.push_back(Work{&o, p, &st});
      }
    }
    for (auto& w : m_work) {
      auto& st = *w.state;
      st.step(st.step() + 1);
      const double beta1 = std::get<0>(w.options->betas()), beta2 = std::get<1>(w.options->betas());
      const double lr = w.options->lr(), weight_decay = w.options->weight_decay();
      const auto t = static_cast<double>(st.step());
      const AdamScalars s{static_cast<float>(beta1),
                          static_cast<float>(beta2),
                          Decoupled ? 0.0F : static_cast<float>(weight_decay),
                          Decoupled ? static_cast<float>(1.0 - lr * weight_decay) : 1.0F,
                          static_cast<float>(lr / (1.0 - std::pow(beta1, t))),
                          static_cast<float>(std::sqrt(1.0 - std::pow(beta2, t))),
                          static_cast<float>(w.options->eps())};
      float* pp = w.param.template data_ptr<float>();
      const float* gp = w.param.grad().template data_ptr<float>();
      float* mp = st.exp_avg().template data_ptr<float>();
      float* vp = st.exp_avg_sq().template data_ptr<float>();
      at::parallel_for(0, w.param.numel(), 1 << 15, [&](std::int64_t begin, std::int64_t end) {
        adam_update(pp + begin, gp + begin, mp + begin, vp + begin, end - begin, s);
      });
    }
    m_work.clear();
    return {};
  }

private:
  static bool plain(const torch::Tensor& t) {
    return t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.is_contiguous() && !t.is_sparse();
  }
  struct Work {
    const Options* options;
    torch::Tensor param;
    State* state;
  };
  std::vector<Work> m_work; // kept between steps for its capacity
};

using FastAdam = FusedAdam<torch::optim::Adam, torch::optim::AdamOptions, torch::optim::AdamParamState, false>;
using FastAdamW = FusedAdam<torch::optim::AdamW, torch::optim::AdamWOptions, torch::optim::AdamWParamState, true>;

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
      return std::make_unique<TorchAdapter<FastAdam, torch::optim::AdamOptions>>(
          std::move(params), torch::optim::AdamOptions(lr(1e-3)).betas(betas).weight_decay(value("weight_decay", 0.0, 0.0, 1.0)));
    return std::make_unique<TorchAdapter<FastAdamW, torch::optim::AdamWOptions>>(
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
