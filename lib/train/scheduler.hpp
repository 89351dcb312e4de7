#pragma once
// Learning-rate schedules over epochs (hyperparameter `lr_scheduler`), the closed forms of torch.optim's:
//   none                            constant
//   cosine_annealing                lr_scheduler:cosine_annealing:T_max (10), eta_min (0)
//   cosine_annealing_with_restarts  lr_scheduler:cosine_annealing_with_restarts:T_0 (1), T_mult (2), eta_min (0)
//   step                            lr_scheduler:step:step_size (10), gamma (0.1)
//   exponential                     lr_scheduler:exponential:gamma (0.9)
//   plateau                         lr_scheduler:plateau:patience (10), factor (0.1): multiply by factor after
//                                   `patience` epochs without a better validation loss
// No torch here. The schedule's state is JSON so that a continued run picks up where it stopped.

#include "core/hyperparameters.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace automl::train {

class LrSchedule {
public:
  // Throws InputError for an unknown name or an invalid value.
  LrSchedule(const core::Hyperparameters& hp, double base_lr);

  // The learning rate for the epoch that starts after `epochs_done` full epochs.
  double lr(std::int64_t epochs_done) const;
  // The same schedule at a fractional point of its time axis (for a schedule compressed into less than an
  // epoch: Trainer::set_schedule_scale). lr_at(e) == lr(e) for whole e.
  double lr_at(double epoch) const;
  // Called after each epoch with the validation loss (only plateau uses it).
  void observe(double validation_loss);

  nlohmann::json state() const;
  void restore(const nlohmann::json& state);

  static std::vector<std::string> names();

private:
  std::string m_name;
  double m_base_lr;
  double m_eta_min = 0;
  std::int64_t m_period = 10; // T_max, T_0 or step_size
  double m_mult = 2;          // T_mult
  double m_gamma = 0.1;       // gamma or factor
  std::int64_t m_patience = 10;
  // Plateau state.
  double m_best = 0;
  bool m_has_best = false;
  std::int64_t m_bad_epochs = 0;
  double m_scale = 1;
};

// The schedule scale (Trainer::set_schedule_scale) of one configuration in a search whose rungs were shrunk to
// `scale` x the preset's (rungs ending at `max_budget` epochs instead of max_budget / scale). The schedule
// shrinks with the rungs, except a cosine annealing (without restarts) whose T_max is shorter than the preset's
// largest budget: shrunk by the same factor, it would reach its minimum early in the top rung and then rise again
// (the closed form is periodic; a promoted trial of a 90 s search lost 6 points of validation accuracy on the
// way up). It is shrunk onto the top rung instead, reaching its minimum as the top rung ends. Rungs grown for
// small data (hpo/fidelity.hpp, `scale` > 1) likewise: a cosine of 10 epochs stretched 27x with them would anneal
// within 270 epochs of a 729-epoch top rung and rise again. `scale` 1 (the preset's own rungs) is kept as it is.
double shrunk_schedule_scale(const core::Hyperparameters& hp, double scale, double max_budget);

} // namespace automl::train
