#include "support/expect_error.hpp"
#include "train/optimizer.hpp"
#include "train/scheduler.hpp"

#include <cmath>

using automl::core::Hyperparameters;
using namespace automl::train;

namespace {

// Minimises ||w - target||^2 for `steps` steps and returns the final loss.
double minimise(const nlohmann::json& config, int steps) {
  auto w = torch::zeros({3}, torch::requires_grad());
  const auto target = torch::tensor({1.0f, -2.0f, 0.5f});
  auto opt = make_optimizer(Hyperparameters(config), {w});
  double loss_value = 0;
  for (int i = 0; i < steps; ++i) {
    opt->zero_grad();
    auto loss = (w - target).pow(2).sum();
    loss.backward();
    opt->step();
    loss_value = loss.item<double>();
  }
  return loss_value;
}

} // namespace

TEST(Optimizers, EachOneMinimisesAQuadratic) {
  const double start = 5.25; // ||target||^2
  EXPECT_LT(minimise({{"optimizer", "sgd"}, {"optimizer:sgd:lr", 0.1}, {"optimizer:sgd:momentum", 0.5},
                      {"optimizer:sgd:nesterov", true}},
                     50),
            1e-3 * start);
  EXPECT_LT(minimise({{"optimizer", "adam"}, {"optimizer:adam:lr", 0.1}}, 200), 1e-2 * start);
  EXPECT_LT(minimise({{"optimizer", "adamw"}, {"optimizer:adamw:lr", 0.1}, {"optimizer:adamw:weight_decay", 0.0}}, 200),
            1e-2 * start);
  EXPECT_LT(minimise({{"optimizer", "rmsprop"}, {"optimizer:rmsprop:lr", 0.01}}, 300), 1e-2 * start);
  // Adadelta's effective step starts tiny (sqrt(eps)); with lr 1.0 it still makes progress.
  EXPECT_LT(minimise({{"optimizer", "adadelta"}, {"optimizer:adadelta:lr", 1.0}}, 300), 0.9 * start);
  // Optuna-style names: capitalised optimizer, flat lr.
  EXPECT_LT(minimise({{"optimizer", "SGD"}, {"lr", 0.1}}, 50), 1e-3 * start);
}

TEST(Optimizers, AdadeltaMatchesItsDefinition) {
  // One step by hand: sq = (1-rho) g^2; delta = sqrt(0 + eps) / sqrt(sq + eps) * g; w -= lr * delta.
  auto w = torch::tensor({1.0}, torch::requires_grad());
  auto opt = make_optimizer(Hyperparameters(nlohmann::json{{"optimizer", "adadelta"}, {"lr", 0.5}, {"rho", 0.9}, {"eps", 1e-6}}), {w});
  opt->zero_grad();
  (w * w).sum().backward(); // g = 2
  opt->step();
  const double sq = 0.1 * 4.0;
  const double delta = std::sqrt(1e-6) / std::sqrt(sq + 1e-6) * 2.0;
  EXPECT_NEAR(w.item<double>(), 1.0 - 0.5 * delta, 1e-7); // float32 arithmetic
}

TEST(Optimizers, SetLr) {
  auto w = torch::ones({2}, torch::requires_grad());
  auto opt = make_optimizer(Hyperparameters(nlohmann::json{{"optimizer", "adam"}, {"lr", 0.1}}), {w});
  EXPECT_DOUBLE_EQ(opt->base_lr(), 0.1);
  opt->set_lr(0.0);
  opt->zero_grad();
  (w * w).sum().backward();
  opt->step();
  EXPECT_TRUE(torch::equal(w, torch::ones({2}))); // lr 0: no change
}

// Saving after one step and loading into a fresh optimizer continues exactly as the original does.
TEST(Optimizers, SavedStateContinuesExactly) {
  for (const std::string name : {"sgd", "adam", "adamw", "rmsprop", "adadelta"}) {
    const Hyperparameters hp(nlohmann::json{{"optimizer", name}, {"lr", 0.1}, {"momentum", 0.9}});
    auto step = [](Optimizer& opt, torch::Tensor& w) {
      opt.zero_grad();
      (w * w * w).sum().backward();
      opt.step();
    };
    auto a = torch::tensor({1.0f, -0.5f}, torch::requires_grad());
    auto opt_a = make_optimizer(hp, {a});
    step(*opt_a, a);
    torch::serialize::OutputArchive out;
    opt_a->save(out);
    std::ostringstream buffer;
    out.save_to(buffer);
    auto b = a.detach().clone().requires_grad_(true);
    auto opt_b = make_optimizer(hp, {b});
    torch::serialize::InputArchive in;
    std::istringstream read(buffer.str());
    in.load_from(read);
    opt_b->load(in);
    step(*opt_a, a);
    step(*opt_b, b);
    EXPECT_TRUE(torch::equal(a, b)) << name;
  }
}

// The fused Adam and AdamW steps (train/adam_kernel) follow torch::optim's, step by step, on sizes that cover
// the vectorised loop and its remainder, with and without weight decay; their saved state is torch's own.
TEST(Optimizers, FusedAdamFollowsTorchOptim) {
  struct Case {
    std::string name;
    double weight_decay;
  };
  for (const Case& c : {Case{"adam", 0.0}, Case{"adam", 0.05}, Case{"adamw", 0.01}, Case{"adamw", 0.3}}) {
    torch::manual_seed(7);
    std::vector<torch::Tensor> ours{torch::randn({1037}), torch::randn({3, 7}), torch::randn({1})};
    std::vector<torch::Tensor> theirs;
    for (auto& t : ours) {
      theirs.push_back(t.clone().requires_grad_(true));
      t.requires_grad_(true);
    }
    auto opt = make_optimizer(Hyperparameters(nlohmann::json{{"optimizer", c.name}, {"lr", 0.01}, {"beta1", 0.8},
                                                             {"beta2", 0.99}, {"weight_decay", c.weight_decay}}),
                              ours);
    std::unique_ptr<torch::optim::Optimizer> reference;
    if (c.name == "adam")
      reference = std::make_unique<torch::optim::Adam>(
          theirs, torch::optim::AdamOptions(0.01).betas({0.8, 0.99}).weight_decay(c.weight_decay));
    else
      reference = std::make_unique<torch::optim::AdamW>(
          theirs, torch::optim::AdamWOptions(0.01).betas({0.8, 0.99}).weight_decay(c.weight_decay));
    for (int step = 0; step < 30; ++step) {
      opt->zero_grad();
      reference->zero_grad();
      for (std::size_t i = 0; i < ours.size(); ++i) {
        (ours[i].pow(3).sum() + ours[i].sin().sum()).backward();
        (theirs[i].pow(3).sum() + theirs[i].sin().sum()).backward();
      }
      opt->step();
      reference->step();
    }
    for (std::size_t i = 0; i < ours.size(); ++i)
      EXPECT_TRUE(torch::allclose(ours[i], theirs[i], 1e-5, 1e-6))
          << c.name << " weight_decay " << c.weight_decay << " tensor " << i << ": largest difference "
          << (ours[i] - theirs[i]).abs().max().item<double>();
    if (c.name != "adam") continue;
    // The state saved by the fused optimizer continues in torch's own.
    torch::serialize::OutputArchive out;
    opt->save(out);
    std::ostringstream buffer;
    out.save_to(buffer);
    torch::serialize::InputArchive in;
    std::istringstream read(buffer.str());
    in.load_from(read);
    std::vector<torch::Tensor> copies;
    for (const auto& t : ours) copies.push_back(t.detach().clone().requires_grad_(true));
    torch::optim::Adam resumed(copies, torch::optim::AdamOptions(0.01).betas({0.8, 0.99}).weight_decay(c.weight_decay));
    resumed.load(in);
    opt->zero_grad();
    for (std::size_t i = 0; i < ours.size(); ++i) {
      ours[i].pow(2).sum().backward();
      copies[i].pow(2).sum().backward();
    }
    opt->step();
    resumed.step();
    for (std::size_t i = 0; i < ours.size(); ++i)
      EXPECT_TRUE(torch::allclose(ours[i], copies[i], 1e-5, 1e-6)) << "resumed, tensor " << i;
  }
}

// zero_grad drops the gradients (PyTorch 2's set_to_none); the next backward pass writes fresh ones.
TEST(Optimizers, ZeroGradDropsTheGradients) {
  for (const std::string name : {"sgd", "adam", "adamw", "rmsprop"}) {
    auto w = torch::ones({4}, torch::requires_grad());
    auto opt = make_optimizer(Hyperparameters(nlohmann::json{{"optimizer", name}, {"lr", 0.1}}), {w});
    (w * w).sum().backward();
    opt->zero_grad();
    EXPECT_FALSE(w.grad().defined()) << name;
    opt->step(); // no gradient: no change
    EXPECT_TRUE(torch::equal(w, torch::ones({4}))) << name;
    (w * 3).sum().backward();
    EXPECT_TRUE(torch::equal(w.grad(), torch::full({4}, 3.0F))) << name;
  }
}

TEST(Optimizers, BadValues) {
  using automl::test::expect_input_error;
  auto w = torch::ones({1}, torch::requires_grad());
  expect_input_error([&] { make_optimizer(Hyperparameters(nlohmann::json{{"optimizer", "lbfgs"}}), {w}); },
                     {"optimizer: unknown 'lbfgs'; valid: sgd, adam, adamw, rmsprop, adadelta"});
  expect_input_error([&] { make_optimizer(Hyperparameters(nlohmann::json{{"optimizer", "sgd"}, {"optimizer:sgd:lr", -1}}), {w}); },
                     {"optimizer:sgd:lr: must be in (0, 100], got -1"});
  expect_input_error([&] { make_optimizer(Hyperparameters(nlohmann::json{{"optimizer", "sgd"}, {"lr", 0.1}, {"momentum", 2}}), {w}); },
                     {"optimizer:sgd:momentum: must be in [0, 1], got 2"});
}

TEST(Schedulers, ClosedForms) {
  auto lr = [](const nlohmann::json& config, std::int64_t epoch) { return LrSchedule(Hyperparameters(config), 1.0).lr(epoch); };
  EXPECT_DOUBLE_EQ(lr({{"lr_scheduler", "none"}}, 7), 1.0);
  EXPECT_NEAR(lr({{"lr_scheduler", "cosine_annealing"}, {"lr_scheduler:cosine_annealing:T_max", 10}}, 5), 0.5, 1e-12);
  EXPECT_NEAR(lr({{"lr_scheduler", "cosine_annealing"}, {"T_max", 10}}, 10), 0.0, 1e-12);
  EXPECT_NEAR(lr({{"lr_scheduler", "cosine_annealing"}, {"T_max", 4}, {"eta_min", 0.2}}, 2), 0.6, 1e-12);
  // Restarts with T_0 = 2, T_mult = 2: cycles [0, 2), [2, 6), [6, 14).
  const nlohmann::json sgdr{{"lr_scheduler", "cosine_annealing_with_restarts"}, {"T_0", 2}, {"T_mult", 2}};
  EXPECT_NEAR(lr(sgdr, 0), 1.0, 1e-12);
  EXPECT_NEAR(lr(sgdr, 1), 0.5, 1e-12);
  EXPECT_NEAR(lr(sgdr, 2), 1.0, 1e-12);
  EXPECT_NEAR(lr(sgdr, 4), 0.5, 1e-12);
  EXPECT_NEAR(lr(sgdr, 6), 1.0, 1e-12);
  // A real T_mult, as legacy Auto-PyTorch's full_cs samples it: T_0 = 2, T_mult = 1.5: cycles [0, 2), [2, 5).
  const nlohmann::json real_mult{{"lr_scheduler", "cosine_annealing_with_restarts"}, {"T_0", 2}, {"T_mult", 1.5}};
  EXPECT_NEAR(lr(real_mult, 2), 1.0, 1e-12);
  EXPECT_NEAR(lr(real_mult, 5), 1.0, 1e-12);
  EXPECT_NEAR(LrSchedule(Hyperparameters(real_mult), 1.0).lr_at(3.5), 0.5, 1e-12);
  // Auto-PyTorch's name for the first period, T_max, is honoured too.
  EXPECT_NEAR(lr({{"lr_scheduler", "cosine_annealing_with_restarts"}, {"T_max", 4}, {"T_mult", 1}}, 2), 0.5, 1e-12);
  EXPECT_NEAR(lr({{"lr_scheduler", "step"}, {"step_size", 3}, {"gamma", 0.5}}, 7), 0.25, 1e-12);
  EXPECT_NEAR(lr({{"lr_scheduler", "exponential"}, {"gamma", 0.9}}, 2), 0.81, 1e-12);
}

TEST(Schedulers, FractionalPointsOfTheSchedule) {
  const LrSchedule cosine(Hyperparameters(nlohmann::json{{"lr_scheduler", "cosine_annealing"}, {"T_max", 10}}), 1.0);
  EXPECT_DOUBLE_EQ(cosine.lr_at(5.0), cosine.lr(5));
  EXPECT_NEAR(cosine.lr_at(2.5), (1 + std::cos(3.14159265358979323846 / 4)) / 2, 1e-12);
  const LrSchedule step(Hyperparameters(nlohmann::json{{"lr_scheduler", "step"}, {"step_size", 3}, {"gamma", 0.5}}), 1.0);
  EXPECT_DOUBLE_EQ(step.lr_at(2.99), 1.0);
  EXPECT_DOUBLE_EQ(step.lr_at(3.0), 0.5);
  EXPECT_DOUBLE_EQ(step.lr_at(6.5), step.lr(6));
}

// Shrunk rungs shrink the schedule with them, except a cosine annealing shorter than the preset's largest budget,
// which is shrunk onto the top rung: its minimum comes as the top rung ends, not a third of the way in.
TEST(Schedulers, AShrunkCosineShorterThanThePresetsRungsAnnealsOverTheTopRung) {
  const Hyperparameters cosine(nlohmann::json{{"lr_scheduler", "cosine_annealing"}, {"lr_scheduler:cosine_annealing:T_max", 10}});
  // Rungs of a preset up to 27 epochs shrunk to end at 1 epoch.
  const double scale = shrunk_schedule_scale(cosine, 1.0 / 27, 1.0);
  EXPECT_DOUBLE_EQ(scale, 0.1);
  const LrSchedule schedule(cosine, 1.0);
  EXPECT_NEAR(schedule.lr_at(1.0 / scale), 0.0, 1e-12);           // at the end of the top rung
  EXPECT_GT(schedule.lr_at(0.9 / scale), schedule.lr_at(1.0 / scale)); // still falling before it
  // Other schedules, a cosine as long as the preset's rungs, and the preset's own rungs keep the rungs' scale.
  EXPECT_DOUBLE_EQ(shrunk_schedule_scale(Hyperparameters(nlohmann::json{{"lr_scheduler", "step"}}), 1.0 / 27, 1.0), 1.0 / 27);
  EXPECT_DOUBLE_EQ(shrunk_schedule_scale(cosine, 1.0 / 9, 1.0), 1.0 / 9); // preset up to 9 epochs: T_max 10 covers it
  EXPECT_DOUBLE_EQ(shrunk_schedule_scale(cosine, 1.0, 27.0), 1.0);
  // Rungs grown 27x for small data (27 to 729 epochs): the cosine spans the top rung, not 270 epochs of it.
  const double grown = shrunk_schedule_scale(cosine, 27.0, 729.0);
  EXPECT_DOUBLE_EQ(grown, 72.9);
  EXPECT_NEAR(schedule.lr_at(729.0 / grown), 0.0, 1e-12);
  EXPECT_GT(schedule.lr_at(600.0 / grown), schedule.lr_at(729.0 / grown));
}

TEST(Schedulers, PlateauReducesAfterPatienceAndRestores) {
  LrSchedule s(Hyperparameters(nlohmann::json{{"lr_scheduler", "plateau"}, {"patience", 2}, {"factor", 0.5}}), 1.0);
  s.observe(1.0);
  s.observe(0.5); // better
  s.observe(0.6);
  s.observe(0.6);
  EXPECT_DOUBLE_EQ(s.lr(4), 1.0); // two bad epochs: not more than patience yet
  s.observe(0.7);
  EXPECT_DOUBLE_EQ(s.lr(5), 0.5);
  LrSchedule copy(Hyperparameters(nlohmann::json{{"lr_scheduler", "plateau"}, {"patience", 2}, {"factor", 0.5}}), 1.0);
  copy.restore(s.state());
  EXPECT_DOUBLE_EQ(copy.lr(5), 0.5);
}

TEST(Schedulers, BadValues) {
  using automl::test::expect_input_error;
  expect_input_error([] { LrSchedule(Hyperparameters(nlohmann::json{{"lr_scheduler", "cyclic"}}), 1.0); },
                     {"lr_scheduler: unknown 'cyclic'; valid: none, cosine_annealing"});
  expect_input_error([] { LrSchedule(Hyperparameters(nlohmann::json{{"lr_scheduler", "step"}, {"step_size", 0}}), 1.0); },
                     {"lr_scheduler:step:step_size: must be >= 1, got 0"});
}
