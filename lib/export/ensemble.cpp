#include "export/ensemble.hpp"

#include "core/error.hpp"
#include "core/files.hpp"

#include <fmt/format.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <fstream>
#include <iterator>
#include <limits>
#include <numeric>

namespace automl::export_ {

namespace {

// Probabilities below this count as this in the log-loss and in the ensemble's log (log(0) = -inf would make
// every average with a confident mistake equally bad).
constexpr double k_min_probability = 1e-12;

struct Score {
  std::int64_t correct = 0;
  double log_loss = std::numeric_limits<double>::infinity();
  bool better_than(const Score& other) const {
    return correct != other.correct ? correct > other.correct : log_loss < other.log_loss;
  }
};

// `sum` holds the members' probabilities added up `rounds` times.
Score score(const torch::Tensor& sum, double rounds, const torch::Tensor& labels) {
  const auto average = sum / rounds;
  Score s;
  s.correct = average.argmax(1).eq(labels).sum().item<std::int64_t>();
  s.log_loss = -average.gather(1, labels.unsqueeze(1)).clamp_min(k_min_probability).log().mean().item<double>();
  return s;
}

// `probabilities` in float64, each checked to be [n, classes of the first]; Error naming `what` otherwise.
std::vector<torch::Tensor> checked_float64(const std::vector<torch::Tensor>& probabilities, std::int64_t n, const char* what) {
  if (probabilities.empty()) throw Error(fmt::format("{}: no candidates", what));
  const auto classes = probabilities.front().dim() == 2 ? probabilities.front().size(1) : 0;
  std::vector<torch::Tensor> result;
  for (const auto& p : probabilities) {
    if (p.dim() != 2 || p.size(0) != n || p.size(1) != classes)
      throw Error(fmt::format("{}: candidate probabilities of shape {}, expected [{}, {}]", what, c10::str(p.sizes()), n,
                              classes));
    result.push_back(p.to(torch::kFloat64));
  }
  return result;
}

} // namespace

int EnsembleSelection::members() const {
  int n = 0;
  for (const int c : counts) n += c > 0;
  return n;
}

void save_probabilities(const torch::Tensor& probabilities, const std::filesystem::path& file) {
  const auto bytes = torch::pickle_save(probabilities.detach().to(torch::kCPU, torch::kFloat32).contiguous());
  core::write_file_atomic(file, std::string(bytes.begin(), bytes.end()));
}

torch::Tensor load_probabilities(const std::filesystem::path& file, std::int64_t rows, std::int64_t columns) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot read", file.string()));
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  torch::Tensor t;
  try {
    const auto value = torch::pickle_load(bytes);
    if (value.isTensor()) t = value.toTensor();
  } catch (const c10::Error& e) {
    throw Error(fmt::format("{}: not a probability file ({})", file.string(), e.what_without_backtrace()));
  }
  if (!t.defined() || t.dim() != 2 || t.size(0) != rows || t.size(1) != columns || t.scalar_type() != torch::kFloat32)
    throw Error(fmt::format("{}: expected float32 probabilities of shape [{}, {}]", file.string(), rows, columns));
  return t;
}

AverageScore score_average(const std::vector<torch::Tensor>& probabilities, const torch::Tensor& labels) {
  const auto n = labels.size(0);
  const auto members = checked_float64(probabilities, n, "ensemble score");
  auto sum = torch::zeros_like(members.front());
  for (const auto& p : members) sum += p;
  const Score s = score(sum, static_cast<double>(members.size()), labels);
  return {s.correct, n > 0 ? static_cast<double>(s.correct) / static_cast<double>(n) : 0.0, s.log_loss};
}

EnsembleSelection select_ensemble(const std::vector<torch::Tensor>& probabilities, const torch::Tensor& labels, int size,
                                  int max_members) {
  if (probabilities.empty()) throw Error("ensemble selection: no candidates");
  if (size < 1 || max_members < 1)
    throw Error(fmt::format("ensemble selection: size and member limit must be >= 1, got {} and {}", size, max_members));
  const auto n = labels.size(0);
  const auto candidates = checked_float64(probabilities, n, "ensemble selection");
  const auto classes = candidates.front().size(1);
  const auto k = candidates.size();
  EnsembleSelection result;
  result.counts.assign(k, 0);
  std::vector<Score> alone(k);
  for (std::size_t j = 0; j < k; ++j) {
    alone[j] = score(candidates[j], 1, labels);
    result.candidate_accuracy.push_back(static_cast<double>(alone[j].correct) / static_cast<double>(n));
    result.candidate_log_loss.push_back(alone[j].log_loss);
    if (alone[j].better_than(alone[static_cast<std::size_t>(result.best_candidate)])) result.best_candidate = static_cast<int>(j);
  }

  auto sum = torch::zeros({n, classes}, torch::kFloat64);
  std::vector<int> counts(k, 0);
  int distinct = 0;
  Score best;
  best.correct = -1;
  for (int round = 1; round <= size; ++round) {
    std::size_t chosen = k;
    Score chosen_score;
    chosen_score.correct = -1;
    for (std::size_t j = 0; j < k; ++j) {
      if (counts[j] == 0 && distinct >= max_members) continue;
      const Score s = score(sum + candidates[j], round, labels);
      if (chosen == k || s.better_than(chosen_score)) {
        chosen = j;
        chosen_score = s;
      }
    }
    sum += candidates[chosen];
    distinct += counts[chosen] == 0;
    ++counts[chosen];
    if (chosen_score.better_than(best)) {
      best = chosen_score;
      result.counts = counts;
    }
  }
  const double total = static_cast<double>(std::accumulate(result.counts.begin(), result.counts.end(), 0));
  for (const int c : result.counts) result.weights.push_back(static_cast<double>(c) / total);
  result.accuracy = static_cast<double>(best.correct) / static_cast<double>(n);
  result.log_loss = best.log_loss;
  return result;
}

HeldOutComparison compare_held_out(const std::vector<torch::Tensor>& probabilities, const torch::Tensor& labels, int size,
                                   int max_members, int folds) {
  const auto n = labels.size(0);
  if (folds < 2 || n < folds)
    throw Error(fmt::format("ensemble selection: {} folds for {} samples (2 folds at least, one sample each)", folds, n));
  HeldOutComparison result;
  result.folds = folds;
  result.samples = n;
  // In float64 once, as select_ensemble would convert them in each fold.
  std::vector<torch::Tensor> candidates;
  for (const auto& p : probabilities) candidates.push_back(p.to(torch::kFloat64));
  const auto rows = torch::arange(n, torch::kLong);
  for (int fold = 0; fold < folds; ++fold) {
    const auto held = rows.remainder(folds).eq(fold);
    const auto seen_rows = rows.masked_select(held.logical_not());
    const auto held_rows = rows.masked_select(held);
    std::vector<torch::Tensor> seen;
    for (const auto& p : candidates) seen.push_back(p.index_select(0, seen_rows));
    const auto s = select_ensemble(seen, labels.index_select(0, seen_rows), size, max_members);
    const auto held_labels = labels.index_select(0, held_rows);
    auto average = torch::zeros({held_rows.size(0), candidates.front().size(1)}, torch::kFloat64);
    for (std::size_t j = 0; j < candidates.size(); ++j)
      if (s.counts[j] > 0) average += s.weights[j] * candidates[j].index_select(0, held_rows);
    const auto single = candidates[static_cast<std::size_t>(s.best_candidate)].index_select(0, held_rows);
    const auto ensemble_right = average.argmax(1).eq(held_labels);
    const auto single_right = single.argmax(1).eq(held_labels);
    result.only_ensemble_correct += ensemble_right.logical_and(single_right.logical_not()).sum().item<std::int64_t>();
    result.only_single_correct += single_right.logical_and(ensemble_right.logical_not()).sum().item<std::int64_t>();
    const auto ensemble_score = score(average, 1, held_labels);
    const auto single_score = score(single, 1, held_labels);
    const auto rows_held = static_cast<double>(held_rows.size(0));
    result.ensemble_correct += ensemble_score.correct;
    result.single_correct += single_score.correct;
    result.ensemble_log_loss += ensemble_score.log_loss * rows_held;
    result.single_log_loss += single_score.log_loss * rows_held;
  }
  result.ensemble_log_loss /= static_cast<double>(n);
  result.single_log_loss /= static_cast<double>(n);
  return result;
}

torch::jit::Module ensemble_module(const std::vector<std::filesystem::path>& member_files, const std::vector<double>& weights) {
  if (member_files.size() != weights.size())
    throw Error(fmt::format("ensemble: {} member files for {} weights", member_files.size(), weights.size()));
  std::vector<torch::jit::Module> members;
  for (const auto& file : member_files) {
    try {
      members.push_back(torch::jit::load(file.string(), torch::Device(torch::kCPU)));
    } catch (const c10::Error& e) {
      throw Error(fmt::format("{}: cannot load as an ensemble member: {}", file.string(), e.what_without_backtrace()));
    }
  }
  return ensemble_of(std::move(members), weights);
}

torch::jit::Module ensemble_of(std::vector<torch::jit::Module> members, const std::vector<double>& weights) {
  if (members.empty() || members.size() != weights.size())
    throw Error(fmt::format("ensemble: {} members for {} weights", members.size(), weights.size()));
  double total = 0;
  for (const double w : weights) {
    if (!(w > 0)) throw Error(fmt::format("ensemble: member weights must be > 0, got {}", w));
    total += w;
  }
  // Each member keeps the compilation unit it was loaded into: they all define an AutoMLPipeline, which one unit
  // would refuse twice; saving gives types of the same name distinct names (the serializer's type-name uniquer).
  torch::jit::Module ensemble(c10::QualifiedName("AutoMLEnsemble"));
  ensemble.register_attribute("training", c10::BoolType::get(), false);
  std::string source = "def forward(self, x: Tensor) -> Tensor:\n";
  for (std::size_t i = 0; i < members.size(); ++i) {
    members[i].eval();
    const auto name = fmt::format("member{}", i);
    ensemble.register_module(name, members[i]);
    source += fmt::format("    {} torch.softmax(self.{}.forward(x), 1) * {:.17g}\n", i == 0 ? "p =" : "p = p +", name,
                          weights[i] / total);
  }
  source += fmt::format("    return torch.log(torch.clamp(p, min={:g}))\n", k_min_probability);
  ensemble.define(source);
  ensemble.eval();
  return ensemble;
}

} // namespace automl::export_
