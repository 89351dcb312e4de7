#pragma once
// Ensembles of trained trials, as Auto-PyTorch and auto-sklearn build them: ensemble selection (Caruana et al.,
// "Ensemble Selection from Libraries of Models", ICML 2004) over the validation probabilities each trial stored
// with its checkpoint, and one TorchScript module that averages its members with the selected weights. The
// module has the interface of a single exported model: forward(x) takes raw inputs and returns log-probabilities
// (logits whose softmax is the weighted average of the members' softmax), so `automl predict` and Python's
// torch.jit.load use it unchanged.

#include <torch/script.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace automl::export_ {

// The file in a trial's checkpoint directory holding its softmax probabilities on the whole validation set
// (float32 [validation samples, classes], torch::pickle_save), written by trials validated on the whole set.
inline constexpr const char* k_validation_probabilities_file = "validation_probabilities.pt";
// Trials store their probabilities only up to this many values (samples x classes, 16 MB): larger validation sets
// would make every checkpoint, and its copy in the study's database, that much larger.
inline constexpr std::int64_t k_max_stored_probabilities = std::int64_t{4} << 20;

void save_probabilities(const torch::Tensor& probabilities, const std::filesystem::path& file);
// Throws Error naming the file when it is missing or not a float [rows, columns] tensor of that size.
torch::Tensor load_probabilities(const std::filesystem::path& file, std::int64_t rows, std::int64_t columns);

struct EnsembleSelection {
  std::vector<int> counts;     // per candidate: how often it was selected (0 = not a member)
  std::vector<double> weights; // per candidate: counts / their sum
  double accuracy = 0;         // validation accuracy of the weighted average
  double log_loss = 0;         // its mean negative log-likelihood
  std::vector<double> candidate_accuracy; // per candidate, alone
  std::vector<double> candidate_log_loss; // per candidate, alone
  int best_candidate = 0;      // the best candidate alone (accuracy, then log-loss)
  int members() const;         // candidates with a weight
};

// The equal-weight average of `probabilities` (one [N, C] tensor each) on `labels` (int64 [N]): its accuracy and
// log-loss, as EnsembleSelection's. Throws Error for none or mismatched shapes.
struct AverageScore {
  std::int64_t correct = 0;
  double accuracy = 0;
  double log_loss = 0;
};
AverageScore score_average(const std::vector<torch::Tensor>& probabilities, const torch::Tensor& labels);

// Greedy forward selection with replacement: `size` rounds, each adding the candidate (again, possibly) whose
// addition gives the best validation accuracy of the average, ties broken by the lower log-loss; at most
// `max_members` distinct candidates. The result is the best of the rounds' ensembles, so it is never worse than
// the best candidate alone (the first round's choice). `probabilities`: one [N, C] tensor per candidate, rows in
// the order of `labels` (int64 [N]). Throws Error for no candidates, mismatched shapes, size < 1 or
// max_members < 1.
EnsembleSelection select_ensemble(const std::vector<torch::Tensor>& probabilities, const torch::Tensor& labels, int size,
                                  int max_members);

// Ensemble selection against picking the best candidate alone, each judged on samples it was not chosen on:
// the rows are dealt into `folds` folds (row i into fold i mod folds); for each fold, select_ensemble runs on the
// other folds' rows, and both its ensemble and its best candidate alone are scored on the fold's rows. Every row
// is scored once. A selection fitted to the validation set's chance agreements (MNIST ConvNets: 7-9 more of 6000
// validation images right, 6-14 fewer of 10,000 test images) gains nothing on rows it did not see.
struct HeldOutComparison {
  int folds = 0;
  std::int64_t samples = 0;
  std::int64_t ensemble_correct = 0;
  std::int64_t single_correct = 0;
  std::int64_t only_ensemble_correct = 0; // rows the ensemble gets right and the best alone wrong
  std::int64_t only_single_correct = 0;   // and the other way round
  double ensemble_log_loss = 0; // mean over the rows, as EnsembleSelection's
  double single_log_loss = 0;
};
// Throws Error as select_ensemble does, and when `folds` < 2 or there are fewer rows than folds.
HeldOutComparison compare_held_out(const std::vector<torch::Tensor>& probabilities, const torch::Tensor& labels, int size,
                                   int max_members, int folds);

// One module from the TorchScript files of the members (exported pipelines: forward(x) -> logits), weighted by
// `weights` (positive, normalised here): forward(x) = log(sum_i w_i softmax(member_i(x))). Loaded on the CPU,
// in eval mode. Throws Error when a file does not load or the counts differ.
torch::jit::Module ensemble_module(const std::vector<std::filesystem::path>& member_files, const std::vector<double>& weights);
// The same from members already loaded (switched to eval mode here); Error when the counts differ.
torch::jit::Module ensemble_of(std::vector<torch::jit::Module> members, const std::vector<double>& weights);

} // namespace automl::export_
