#include "train/trainer.hpp"

#include "core/files.hpp"
#include "core/error.hpp"
#include "train/preprocessing.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/csrc/jit/serialization/export.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <mutex>

namespace automl::train {

namespace fs = std::filesystem;

namespace {

// A checkpoint's optimizer state (Trainer::save_checkpoint); absent from a checkpoint that is a model only.
constexpr const char* k_optimizer_file = "optimizer.pt";

using Clock = std::chrono::steady_clock;

// How often (in batches) the training loss is read back from the device and checked for NaN.
constexpr std::int64_t k_check_every = 16;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::uint64_t epoch_seed(std::uint64_t seed, std::int64_t epoch) {
  // splitmix64 of (seed, epoch): independent streams per epoch.
  std::uint64_t z = seed * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(epoch) + 1;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (z ^ (z >> 31)) >> 1; // torch seeds are taken as int64 in places
}

// Dropout and the shake regularisers draw from the device's default generator inside TorchScript (1.13's
// TorchScript cannot take a Generator argument). A trial whose network draws swaps its own generator state in
// for its forward pass, under this lock, so that trials running at once each see their own stream; networks
// that draw nothing never take it.
std::mutex& noise_mutex() {
  static std::mutex m;
  return m;
}

bool block_draws(const torch::jit::Block* block) {
  for (const auto* node : block->nodes()) {
    const std::string kind = node->kind().toQualString();
    if (kind.rfind("aten::rand", 0) == 0 || kind.rfind("aten::bernoulli", 0) == 0 || kind.find("dropout") != std::string::npos)
      return true;
    for (const auto* inner : node->blocks())
      if (block_draws(inner)) return true;
  }
  return false;
}

// Whether any method of `module` (the forward pass and the helpers it calls) draws random numbers.
bool draws_random_numbers(const torch::jit::Module& module) {
  for (const auto& method : module.get_methods())
    if (block_draws(method.graph()->block())) return true;
  return false;
}

// The state of the device's default generator after seeding it with `seed` (the generator itself is left as
// it was).
torch::Tensor seeded_state(torch::Device device, std::uint64_t seed) {
  std::lock_guard<std::mutex> lock(noise_mutex());
  auto generator = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> generator_lock(generator.mutex());
  const auto saved = generator.get_state();
  generator.set_current_seed(seed);
  auto state = generator.get_state();
  generator.set_state(saved);
  return state;
}

torch::Tensor preprocess(torch::jit::Module& module, const data::Dataset& d, torch::Device device) {
  if (d.size() == 0) return torch::empty({0}, device);
  return preprocess_cached(module, d.features, device);
}

std::vector<torch::Tensor> parameters_of(const torch::jit::Module& module) {
  std::vector<torch::Tensor> params;
  for (const auto& p : module.parameters()) params.push_back(p);
  return params;
}

} // namespace

// One padding and one gather, on any device.
torch::Tensor shift_images(const torch::Tensor& x, std::int64_t shift, const torch::Tensor& offsets) {
  namespace F = torch::nn::functional;
  const auto b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const auto padded = F::pad(x, F::PadFuncOptions({shift, shift, shift, shift}).mode(torch::kReplicate));
  const auto ints = torch::TensorOptions().dtype(torch::kInt64).device(x.device());
  const auto rows = torch::arange(h, ints).view({1, h, 1}) + (offsets[0] + shift).view({b, 1, 1});
  const auto cols = torch::arange(w, ints).view({1, 1, w}) + (offsets[1] + shift).view({b, 1, 1});
  const auto index = (rows * (w + 2 * shift) + cols).view({b, 1, h * w}).expand({b, c, h * w});
  return padded.reshape({b, c, -1}).gather(2, index).view({b, c, h, w});
}

Trainer::Trainer(const core::Hyperparameters& hp, const data::Dataset& train, const data::Dataset& validation,
                 std::uint64_t seed, torch::Device device)
    : Trainer(build_pipeline(hp, train, seed), hp, train, validation, seed, device) {}

Trainer::Trainer(Pipeline pipeline, const core::Hyperparameters& hp, const data::Dataset& train,
                 const data::Dataset& validation, std::uint64_t seed, torch::Device device)
    : m_pipeline(std::move(pipeline)), m_hp(hp), m_seed(seed), m_device(device) {
  m_pipeline.module.to(device);
  m_draws_noise = draws_random_numbers(m_pipeline.module);
  // Run TorchScript as a plain interpreter over eager ops: autograd records every op as in eager mode, with
  // no profiling runs or graph specialisation between the first epochs and the rest.
  torch::jit::setGraphExecutorOptimize(false);
  if (train.size() == 0) throw InputError("the training set is empty");
  m_batch_size = hp.get_int("", "batch_size", 128);
  if (m_batch_size < 1) throw InputError(fmt::format("batch_size: must be >= 1, got {}", m_batch_size));
  // Mixup as Auto-PyTorch spells it (batch_loss_computation: mixup, with :mixup:alpha) or as mixup_alpha.
  const auto batch_loss = hp.get_string("", "batch_loss_computation", "standard");
  if (batch_loss == "mixup")
    m_mixup_alpha = hp.get_double("batch_loss_computation:mixup", "alpha", 1.0);
  else if (batch_loss == "standard")
    m_mixup_alpha = hp.get_double("", "mixup_alpha", 0.0);
  else
    throw InputError("batch_loss_computation: unknown '" + batch_loss + "'; valid: standard, mixup");
  if (m_mixup_alpha < 0) throw InputError(fmt::format("mixup_alpha: must be >= 0, got {}", m_mixup_alpha));
  const auto loss = hp.get_string("", "loss", "cross_entropy");
  if (loss == "cross_entropy_weighted") {
    // scikit-learn's "balanced" weights: n / (classes * count); absent classes get weight 0.
    const auto counts = torch::bincount(train.labels, {}, train.schema.num_classes()).to(torch::kFloat32);
    m_class_weights = torch::where(counts > 0, static_cast<double>(train.size()) / (counts.numel() * counts),
                                   torch::zeros_like(counts))
                          .to(device);
  } else if (loss != "cross_entropy") {
    throw InputError("loss: unknown '" + loss + "'; valid: cross_entropy, cross_entropy_weighted");
  }
  m_train_x = preprocess(m_pipeline.module, train, device);
  m_train_y = train.labels.to(device).contiguous();
  m_val_x = preprocess(m_pipeline.module, validation, device);
  m_val_y = validation.labels.to(device).contiguous();
  m_random_shift = hp.get_int("", "random_shift", 0);
  if (m_random_shift < 0) throw InputError(fmt::format("random_shift: must be >= 0, got {}", m_random_shift));
  if (m_random_shift > 0 && m_train_x.dim() != 4)
    throw InputError("random_shift: moves images, but this network takes flattened or tabular samples; set it to 0");
  if (m_random_shift > 0 && 2 * m_random_shift >= std::min(m_train_x.size(2), m_train_x.size(3))) {
    const auto side = std::min(m_train_x.size(2), m_train_x.size(3));
    throw InputError(fmt::format("random_shift: {} pixels is too far for images of {} x {}; at most {}", m_random_shift,
                                 m_train_x.size(2), m_train_x.size(3), (side - 1) / 2));
  }
  m_optimizer = make_optimizer(hp, parameters_of(m_pipeline.module));
  m_schedule = std::make_unique<LrSchedule>(hp, m_optimizer->base_lr());
}

Evaluation Trainer::evaluate_preprocessed(const torch::Tensor& x, const torch::Tensor& y, std::int64_t batch_size) {
  torch::NoGradGuard no_grad;
  m_pipeline.module.train(false);
  auto net = m_pipeline.module.get_method("net");
  Evaluation e;
  const auto n = y.size(0);
  if (n == 0) {
    e.accuracy = e.loss = std::numeric_limits<double>::quiet_NaN();
    e.predictions = torch::empty({0}, torch::kInt64);
    e.probabilities = torch::empty({0, 0});
    return e;
  }
  std::vector<torch::Tensor> predictions, probabilities;
  // Sums stay on the device: one transfer at the end instead of one per batch.
  auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(m_device));
  auto correct = torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(m_device));
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const auto len = std::min(batch_size, n - start);
    torch::Tensor logits;
    {
      AutocastGuard autocast(m_device, m_precision);
      logits = net({x.narrow(0, start, len)}).toTensor();
    }
    logits = logits.to(torch::kFloat32);
    const auto target = y.narrow(0, start, len);
    loss_sum += torch::nn::functional::cross_entropy(
        logits, target, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    const auto pred = logits.argmax(1);
    correct += pred.eq(target).sum();
    predictions.push_back(pred);
    probabilities.push_back(torch::softmax(logits, 1));
  }
  e.accuracy = static_cast<double>(correct.item<std::int64_t>()) / static_cast<double>(n);
  e.loss = loss_sum.item<double>() / static_cast<double>(n);
  e.predictions = torch::cat(predictions);
  e.probabilities = torch::cat(probabilities);
  return e;
}

torch::Tensor Trainer::forward_training(torch::jit::Method& net, const torch::Tensor& x) {
  AutocastGuard autocast(m_device, m_precision);
  if (!m_draws_noise) return net({x}).toTensor().to(torch::kFloat32);
  std::lock_guard<std::mutex> lock(noise_mutex());
  auto generator = at::globalContext().defaultGenerator(m_device);
  {
    std::lock_guard<std::mutex> generator_lock(generator.mutex());
    generator.set_state(m_noise_state);
  }
  auto logits = net({x}).toTensor();
  std::lock_guard<std::mutex> generator_lock(generator.mutex());
  m_noise_state = generator.get_state();
  return logits.to(torch::kFloat32);
}

void Trainer::backward_and_step(const torch::Tensor& loss) {
  m_optimizer->zero_grad();
  if (m_precision != Precision::fp16) {
    loss.backward();
    m_optimizer->step();
    return;
  }
  constexpr std::int64_t k_growth_interval = 2000;
  loss.mul(m_loss_scale).backward();
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> overflow;
  for (const auto p : m_pipeline.module.parameters()) {
    if (!p.grad().defined()) continue;
    p.grad().mul_(1.0 / m_loss_scale);
    overflow.push_back(p.grad().isfinite().logical_not().any());
  }
  const bool overflowed = !overflow.empty() && torch::stack(overflow).any().item<bool>();
  if (overflowed) {
    m_optimizer->zero_grad();
    m_loss_scale = std::max(1.0, m_loss_scale / 2);
    m_good_steps = 0;
    return;
  }
  m_optimizer->step();
  if (++m_good_steps == k_growth_interval) {
    m_loss_scale *= 2;
    m_good_steps = 0;
  }
}

Evaluation Trainer::evaluate(const data::Dataset& dataset, std::int64_t batch_size) {
  return evaluate_preprocessed(preprocess(m_pipeline.module, dataset, m_device), dataset.labels.to(m_device),
                               batch_size);
}

TrainResult Trainer::train(const TrainBudget& budget, const TrainCallbacks& callbacks) {
  if ((budget.epochs > 0) == (budget.seconds > 0))
    throw InputError("the training budget needs exactly one of epochs or seconds > 0");
  TrainResult result;
  const auto n = m_train_y.size(0);
  const auto batches_per_epoch = (n + m_batch_size - 1) / m_batch_size;
  auto net = m_pipeline.module.get_method("net");
  namespace F = torch::nn::functional;
  const auto ce = F::CrossEntropyFuncOptions().weight(m_class_weights);

  auto budget_left = [&] {
    return budget.epochs > 0 ? budget.epochs - m_epochs_done > 1e-9 : m_seconds < budget.seconds;
  };
  bool stop = false;
  while (!stop && budget_left()) {
    const auto start = Clock::now();
    const auto epoch = static_cast<std::int64_t>(std::floor(m_epochs_done + 1e-9));
    const auto first_batch = std::llround((m_epochs_done - static_cast<double>(epoch)) * static_cast<double>(batches_per_epoch));
    std::int64_t last_batch = batches_per_epoch;
    if (budget.epochs > 0)
      last_batch = std::min<std::int64_t>(
          batches_per_epoch,
          static_cast<std::int64_t>(std::ceil((budget.epochs - static_cast<double>(epoch)) * static_cast<double>(batches_per_epoch) - 1e-6)));
    const bool per_batch_lr = m_schedule_scale != 1.0;
    double lr = m_schedule->lr(epoch);
    if (!per_batch_lr) m_optimizer->set_lr(lr);

    const auto seed = epoch_seed(m_seed, epoch);
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    const auto order = torch::randperm(n, generator, torch::kInt64).to(m_device);
    // random_shift: each position of this epoch's order gets its offsets here, so that an epoch continued from
    // a checkpoint moves its remaining images as an uninterrupted one does.
    const auto offsets = m_random_shift > 0
                             ? torch::randint(-m_random_shift, m_random_shift + 1, {2, n}, generator, torch::kInt64).to(m_device)
                             : torch::Tensor();
    if (m_draws_noise) m_noise_state = seeded_state(m_device, seed); // dropout and shake noise of this epoch
    m_pipeline.module.train(true);

    // The loss is summed on the device and read back (and checked for NaN) every k_check_every batches
    // and at the end: reading it after every batch would make a GPU wait for the host each time.
    auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(m_device));
    std::int64_t batches = 0;
    std::int64_t b = first_batch;
    auto diverged = [&] {
      const double total = loss_sum.item<double>();
      if (std::isfinite(total)) return false;
      result.status = TrainStatus::failed;
      result.message = fmt::format("training diverged: loss is {} at epoch {}, by batch {} (learning rate {:g})", total,
                                   epoch + 1, b, lr);
      m_seconds += seconds_since(start);
      return true;
    };
    for (; b < last_batch; ++b) {
      const bool out_of_time = budget.seconds > 0 && m_seconds + seconds_since(start) >= budget.seconds;
      if (out_of_time || (callbacks.should_stop && callbacks.should_stop())) {
        stop = true;
        result.status = out_of_time ? TrainStatus::budget_reached : TrainStatus::stopped;
        break;
      }
      if (per_batch_lr) {
        lr = m_schedule->lr_at((static_cast<double>(epoch) + static_cast<double>(b) / static_cast<double>(batches_per_epoch)) /
                               m_schedule_scale);
        m_optimizer->set_lr(lr);
      }
      const auto idx = order.narrow(0, b * m_batch_size, std::min(m_batch_size, n - b * m_batch_size));
      auto xb = m_train_x.index_select(0, idx);
      if (m_random_shift > 0) xb = shift_images(xb, m_random_shift, offsets.narrow(1, b * m_batch_size, idx.size(0)));
      const auto yb = m_train_y.index_select(0, idx);
      torch::Tensor loss;
      if (m_mixup_alpha > 0) {
        const auto g = torch::_standard_gamma(torch::full({2}, m_mixup_alpha, torch::kFloat64), generator);
        const double lam = (g[0] / (g[0] + g[1])).item<double>();
        const auto perm = torch::randperm(idx.size(0), generator, torch::kInt64).to(m_device);
        const auto logits = forward_training(net, xb.mul(lam).add(xb.index_select(0, perm), 1 - lam));
        loss = F::cross_entropy(logits, yb, ce).mul(lam) + F::cross_entropy(logits, yb.index_select(0, perm), ce).mul(1 - lam);
      } else {
        loss = F::cross_entropy(forward_training(net, xb), yb, ce);
      }
      backward_and_step(loss);
      loss_sum += loss.detach();
      ++batches;
      if (batches % k_check_every == 0 && diverged()) return result;
    }
    if (batches > 0 && diverged()) return result;
    m_epochs_done = static_cast<double>(epoch) + static_cast<double>(b) / static_cast<double>(batches_per_epoch);
    const bool interrupted = stop && result.status == TrainStatus::stopped;
    if (stop && (batches == 0 || (interrupted && callbacks.evaluate_on_stop && !callbacks.evaluate_on_stop()))) {
      m_seconds += seconds_since(start);
      break;
    }
    const auto eval_start = Clock::now();
    const auto eval = evaluate_preprocessed(m_val_x, m_val_y, m_eval_batch_size);
    const double eval_seconds = seconds_since(eval_start);
    if (b == batches_per_epoch) m_schedule->observe(eval.loss);
    m_seconds += seconds_since(start);
    EpochReport report{m_epochs_done, batches ? loss_sum.item<double>() / static_cast<double>(batches) : 0.0, eval.accuracy,
                       eval.loss,      lr,                                                   m_seconds,
                       eval_seconds};
    result.history.push_back(report);
    result.val_accuracy = eval.accuracy;
    result.val_loss = eval.loss;
    m_val_probabilities = eval.probabilities;
    if (callbacks.on_epoch && !callbacks.on_epoch(report) && !stop) {
      stop = true;
      result.status = TrainStatus::stopped;
    }
  }
  m_pipeline.module.train(false);
  return result;
}

void Trainer::set_schedule_scale(double scale) {
  if (!(scale > 0)) throw InputError(fmt::format("schedule scale: must be > 0, got {}", scale));
  m_schedule_scale = scale;
}

void Trainer::set_precision(Precision precision) {
  check_precision(precision, m_device);
  m_precision = precision;
}

void Trainer::set_eval_batch_size(std::int64_t batch_size) {
  if (batch_size < 1) throw InputError(fmt::format("eval_batch_size: must be >= 1, got {}", batch_size));
  m_eval_batch_size = batch_size;
}

void Trainer::save_checkpoint(const fs::path& dir, bool with_optimizer) const {
  // Written whole into a temporary directory and renamed: a kill leaves no half checkpoint to resume from.
  if (dir.has_parent_path()) fs::create_directories(dir.parent_path());
  const auto tmp = core::temporary_path_for(dir);
  fs::create_directory(tmp);
  try {
    write_checkpoint_files(tmp, with_optimizer);
  } catch (...) {
    std::error_code ignored;
    core::remove_tree(tmp, ignored);
    throw;
  }
  core::commit_path(tmp, dir);
}

void Trainer::write_checkpoint_files(const fs::path& dir, bool with_optimizer) const {
  // Through core::FileSink: a full disk is an Error naming the file, not an abort inside LibTorch's writer.
  core::FileSink pipeline_file(dir / "pipeline.pt");
  torch::jit::ExportModule(m_pipeline.module, [&](const void* p, std::size_t n) { return pipeline_file.write(p, n); });
  pipeline_file.close();
  if (with_optimizer) {
    torch::serialize::OutputArchive archive;
    m_optimizer->save(archive);
    core::FileSink optimizer_file(dir / k_optimizer_file);
    archive.save_to([&](const void* p, std::size_t n) { return optimizer_file.write(p, n); });
    optimizer_file.close();
  }
  const nlohmann::json state{{"epochs_done", m_epochs_done},
                             {"seconds", m_seconds},
                             {"seed", m_seed},
                             {"schedule", m_schedule->state()},
                             {"family", m_pipeline.family},
                             {"preprocessing", m_pipeline.preprocessing},
                             {"network", m_pipeline.network},
                             {"network_input", m_pipeline.network_input},
                             {"config", m_hp.json()}};
  core::write_file_atomic(dir / "state.json", state.dump(2) + "\n");
}

namespace {

nlohmann::json checkpoint_state(const fs::path& dir) {
  std::ifstream in(dir / "state.json");
  if (!in) throw Error(fmt::format("{}: not a checkpoint (no state.json)", dir.string()));
  return nlohmann::json::parse(in);
}

Pipeline pipeline_of(const fs::path& dir, const nlohmann::json& state, torch::Device device) {
  return Pipeline{torch::jit::load((dir / "pipeline.pt").string(), device), state.at("family").get<std::string>(),
                  state.at("preprocessing").get<std::vector<std::string>>(),
                  state.at("network").get<std::vector<std::string>>(),
                  state.at("network_input").get<std::vector<std::int64_t>>()};
}

} // namespace

Pipeline load_checkpoint_pipeline(const fs::path& dir, torch::Device device) {
  return pipeline_of(dir, checkpoint_state(dir), device);
}

Trainer Trainer::resume(const fs::path& dir, const core::Hyperparameters& hp, const data::Dataset& train,
                        const data::Dataset& validation, torch::Device device) {
  const auto state = checkpoint_state(dir);
  if (state.at("config") != hp.json())
    throw Error(fmt::format("{}: the checkpoint was written for another configuration", dir.string()));
  if (!fs::exists(dir / k_optimizer_file))
    throw Error(fmt::format("{}: the checkpoint holds a model only (no {}): it cannot be continued", dir.string(),
                            k_optimizer_file));
  Trainer t(pipeline_of(dir, state, device), hp, train, validation, state.at("seed").get<std::uint64_t>(), device);
  torch::serialize::InputArchive archive;
  archive.load_from((dir / k_optimizer_file).string(), device);
  t.m_optimizer->load(archive);
  t.m_schedule->restore(state.at("schedule"));
  t.m_epochs_done = state.at("epochs_done").get<double>();
  t.m_seconds = state.at("seconds").get<double>();
  return t;
}

} // namespace automl::train
