#pragma once
// Trains a Pipeline on preprocessed tensors: mini-batches drawn with index_select from one contiguous
// tensor through a shuffled index, cross-entropy (optionally class-weighted, optionally mixup), an
// optimizer and a learning-rate schedule from the configuration, a report after each epoch, a budget in
// epochs (fractions allowed) or seconds, and checkpoints to continue with more budget.
//
// Training hyperparameters besides the optimizer (train/optimizer.hpp) and schedule (train/scheduler.hpp):
//   batch_size (128), loss (cross_entropy | cross_entropy_weighted), batch_loss_computation (standard |
//   mixup, with batch_loss_computation:mixup:alpha), or mixup_alpha (0 = off); random_shift (0 = off; images
//   only): each training image moved by up to this many pixels along each axis, drawn anew every epoch, the
//   border filled with its edge pixels (the validation and test passes and the exported model see the images
//   as they are).
//
// Determinism: with the same seed and one thread, the same weights, bit for bit. The shuffle and the
// dropout noise of epoch e depend only on (seed, e), so a run continued from a checkpoint at an epoch
// boundary equals an uninterrupted one. Threads are the caller's to set (torch::set_num_threads).
// Not thread-safe: one Trainer per thread.

#include "core/hyperparameters.hpp"
#include "data/dataset.hpp"
#include "train/optimizer.hpp"
#include "train/pipeline.hpp"
#include "train/runtime.hpp"
#include "train/scheduler.hpp"

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

namespace automl::train {

struct EpochReport {
  double epoch = 0;          // epochs trained so far (total, fractional)
  double train_loss = 0;     // mean loss over this epoch's batches
  double val_accuracy = 0;   // NaN without a validation set
  double val_loss = 0;       // NaN without a validation set
  double lr = 0;
  double seconds = 0;        // training seconds so far (total)
  double eval_seconds = 0;   // seconds of this epoch's validation pass (included in `seconds`)
};

// Total budget over the run's life: a continued run trains until it reaches it. Exactly one is > 0.
struct TrainBudget {
  double epochs = 0;
  double seconds = 0;
};

struct TrainCallbacks {
  std::function<bool(const EpochReport&)> on_epoch; // return false to stop after this epoch
  std::function<bool()> should_stop;                // polled between batches (deadline, cancellation)
  // Asked when should_stop() cut an epoch short: whether the partial epoch is still evaluated on the validation
  // set (and reported). None: it is. A search out of time evaluates only a trial that got further than any
  // finished one (its weights may be the best model there is); a full validation pass can take longer than the
  // batches did.
  std::function<bool()> evaluate_on_stop = nullptr;
};

enum class TrainStatus {
  budget_reached, // trained up to the budget
  stopped,        // on_epoch returned false, or should_stop() turned true
  failed          // NaN/infinite loss: see message
};

struct TrainResult {
  TrainStatus status = TrainStatus::budget_reached;
  std::string message;
  std::vector<EpochReport> history; // this call's epochs
  double val_accuracy = std::numeric_limits<double>::quiet_NaN(); // after the last epoch
  double val_loss = std::numeric_limits<double>::quiet_NaN();
};

struct Evaluation {
  double accuracy = 0;
  double loss = 0;
  torch::Tensor predictions;   // int64 [N]
  torch::Tensor probabilities; // float [N, classes]: softmax of the logits
};

// The trained pipeline of a checkpoint written by Trainer::save_checkpoint(), without the optimizer or any
// data (for exporting a trial's own weights). Throws Error when `dir` is not a checkpoint.
Pipeline load_checkpoint_pipeline(const std::filesystem::path& dir, torch::Device device = torch::kCPU);

// Each image of the batch [B, C, H, W] moved by its offsets (int64 [2, B]: rows, columns; each in [-shift, shift]),
// all its channels alike, the uncovered border filled with the edge's pixels.
torch::Tensor shift_images(const torch::Tensor& x, std::int64_t shift, const torch::Tensor& offsets);

class Trainer {
public:
  // Builds the pipeline (preprocessing fitted on `train`) and preprocesses both sets once.
  // `device`: where the module and the (preprocessed) data live while training.
  Trainer(const core::Hyperparameters& hp, const data::Dataset& train, const data::Dataset& validation,
          std::uint64_t seed, torch::Device device = torch::kCPU);

  // Continues from a checkpoint written by save_checkpoint() with the same configuration and data, and with the
  // optimizer's state (Error otherwise, naming the checkpoint).
  static Trainer resume(const std::filesystem::path& checkpoint, const core::Hyperparameters& hp,
                        const data::Dataset& train, const data::Dataset& validation,
                        torch::Device device = torch::kCPU);

  TrainResult train(const TrainBudget& budget, const TrainCallbacks& callbacks = {});

  // Model (pipeline.pt), optimizer state and progress, in a directory, written whole or not at all (a
  // temporary directory renamed to `dir`, replacing an older checkpoint there). Without the optimizer's state
  // (`with_optimizer` false) for a checkpoint that is a model only: nothing can continue from it, and a search
  // writes half as much (an SGD optimizer with momentum holds one more copy of the weights, Adam two).
  void save_checkpoint(const std::filesystem::path& dir, bool with_optimizer = true) const;

  // Accuracy and mean cross-entropy of the pipeline's forward() on raw inputs (eval mode).
  Evaluation evaluate(const data::Dataset& dataset, std::int64_t batch_size = 1024);

  // Batch size of the validation passes (default 1024; convolutional networks evaluate faster on ~256 on CPUs).
  void set_eval_batch_size(std::int64_t batch_size);
  // One epoch of the learning-rate schedule lasts `scale` epochs of training (default 1: the schedule steps once
  // an epoch, as PyTorch's schedulers stepped per epoch). A search that shrinks its rungs to fit its time
  // shrinks the schedule with them (scale < 1): the rate is then set at every batch, from the fractional point
  // the training has reached, so that a schedule meant for 10 epochs anneals within a fraction of one.
  void set_schedule_scale(double scale);
  // The forward passes' arithmetic (runtime.hpp; default fp32). fp16 scales the loss dynamically, as PyTorch's
  // GradScaler does: a step whose gradients overflow is skipped and the scale halved; 2000 good steps double it.
  // Throws InputError where this LibTorch cannot autocast to it on this trainer's device.
  void set_precision(Precision precision);

  Pipeline& pipeline() { return m_pipeline; }
  double epochs_done() const { return m_epochs_done; }
  double seconds_trained() const { return m_seconds; }
  // Softmax probabilities [validation samples, classes] of the last validation pass (on this trainer's device);
  // undefined before the first.
  const torch::Tensor& validation_probabilities() const { return m_val_probabilities; }

private:
  // The training forward pass; draws (dropout, shakes) come from this trial's own generator state.
  torch::Tensor forward_training(torch::jit::Method& net, const torch::Tensor& x);
  // loss.backward() and the optimizer's step; with fp16, the loss scaled and the step skipped on overflow.
  void backward_and_step(const torch::Tensor& loss);
  void write_checkpoint_files(const std::filesystem::path& dir, bool with_optimizer) const;
  Trainer(Pipeline pipeline, const core::Hyperparameters& hp, const data::Dataset& train,
          const data::Dataset& validation, std::uint64_t seed, torch::Device device);
  Evaluation evaluate_preprocessed(const torch::Tensor& x, const torch::Tensor& y, std::int64_t batch_size);

  Pipeline m_pipeline;
  core::Hyperparameters m_hp;
  std::uint64_t m_seed;
  torch::Device m_device;
  bool m_draws_noise = false;  // the network draws random numbers in training (dropout, shake-shake, shake-drop)
  torch::Tensor m_noise_state; // this trial's generator state for them (see forward_training)
  torch::Tensor m_train_x, m_train_y, m_val_x, m_val_y, m_class_weights, m_val_probabilities;
  std::int64_t m_batch_size;
  std::int64_t m_eval_batch_size = 1024;
  double m_schedule_scale = 1.0;
  double m_mixup_alpha;
  std::int64_t m_random_shift = 0; // images: training batches moved by up to this many pixels (0 = off)
  Precision m_precision = Precision::fp32;
  double m_loss_scale = 65536.0;   // fp16 only
  std::int64_t m_good_steps = 0;   // fp16: steps since the scale last changed
  std::unique_ptr<Optimizer> m_optimizer;
  std::unique_ptr<LrSchedule> m_schedule;
  double m_epochs_done = 0;
  double m_seconds = 0;
};

} // namespace automl::train
