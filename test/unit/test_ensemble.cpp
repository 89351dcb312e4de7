// Ensemble selection (export/ensemble.hpp) and the ensemble's module: its export round trip, its Python load.

#include "commands/search_ensemble.hpp"
#include "core/error.hpp"
#include "data/split.hpp"
#include "exec/search.hpp"
#include "export/ensemble.hpp"
#include "export/inference.hpp"
#include "export/model_file.hpp"
#include "study/sqlite_storage.hpp"
#include "support/test_files.hpp"
#include "support/tiny_data.hpp"
#include "support/toy_space.hpp"
#include "train/trainer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <memory>
#include <numeric>
#include <random>

using namespace automl;
using automl::test::TempDir;

namespace {

// Probabilities [n, 2] that put `right` on the true class of the rows in `correct` and 0.4 elsewhere.
torch::Tensor probabilities(const torch::Tensor& labels, const std::vector<bool>& correct, float right = 0.8F) {
  const auto n = labels.size(0);
  auto p = torch::empty({n, 2});
  for (std::int64_t i = 0; i < n; ++i) {
    const auto y = labels[i].item<std::int64_t>();
    const float on_true = correct[static_cast<std::size_t>(i)] ? right : 0.4F;
    p[i][y] = on_true;
    p[i][1 - y] = 1 - on_true;
  }
  return p;
}

double sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

struct Member {
  std::filesystem::path file;
  torch::jit::Module module;
};

// A small network trained on `data` with its own seed, saved as a checkpoint's pipeline.pt would be.
Member trained_member(const data::Dataset& data, std::uint64_t seed, const std::filesystem::path& file) {
  const auto tv = data::split_train_validation(data, 0.25, 1);
  train::Trainer trainer(core::Hyperparameters(nlohmann::json{{"network", "shapedmlpnet"}, {"num_layers", 2},
                                                              {"max_units", 8}, {"optimizer", "sgd"}, {"lr", 0.05},
                                                              {"momentum", 0.9}}),
                         tv.train, tv.validation, seed);
  trainer.train({1, 0});
  trainer.pipeline().module.save(file.string());
  return {file, trainer.pipeline().module};
}

// Probabilities [n, classes] of a network whose logits are noise plus 1.5 on the true class, then `count - 1`
// copies of it with as much noise again, noise that owes nothing to the labels: the first is the best network,
// and what selection finds by adding copies to it is chance agreements with the labels. std::mt19937's output is
// fixed by the standard, so the draws are the same everywhere.
std::vector<torch::Tensor> noisy_copies(const torch::Tensor& labels, std::int64_t classes, int count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  const auto noise = [&] { // about normal: four uniforms, centred and scaled to variance 1
    double s = 0;
    for (int i = 0; i < 4; ++i) s += static_cast<double>(rng()) / 4294967296.0;
    return (s - 2) * std::sqrt(3.0);
  };
  const auto n = labels.size(0);
  auto base = torch::empty({n, classes}, torch::kFloat64);
  auto b = base.accessor<double, 2>();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < classes; ++c) b[i][c] = noise() + (c == labels[i].item<std::int64_t>() ? 1.5 : 0);
  std::vector<torch::Tensor> copies{torch::softmax(base, 1).to(torch::kFloat32)};
  for (int k = 1; k < count; ++k) {
    auto copy = base.clone();
    auto a = copy.accessor<double, 2>();
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t c = 0; c < classes; ++c) a[i][c] += noise();
    copies.push_back(torch::softmax(copy, 1).to(torch::kFloat32));
  }
  return copies;
}

// Labels 0..classes-1 drawn with std::mt19937.
torch::Tensor random_labels(std::int64_t n, std::int64_t classes, std::uint32_t seed) {
  std::mt19937 rng(seed);
  auto labels = torch::empty({n}, torch::kInt64);
  for (std::int64_t i = 0; i < n; ++i) labels[i] = static_cast<std::int64_t>(rng() % static_cast<std::uint32_t>(classes));
  return labels;
}

// The network whose checkpoint each trial of study_with_probabilities() saves: a small MLP trained one epoch.
std::unique_ptr<train::Trainer> checkpoint_trainer(const data::TrainValidation& split) {
  auto trainer = std::make_unique<train::Trainer>(
      core::Hyperparameters(nlohmann::json{{"network", "shapedmlpnet"}, {"num_layers", 2}, {"max_units", 8},
                                           {"optimizer", "sgd"}, {"lr", 0.05}}),
      split.train, split.validation, 1);
  trainer->train({1, 0});
  return trainer;
}

// Three-class probabilities over `validation`: 0.6 on the true class and 0.2 on each other class on the rows where
// `wrong(row)` is false; 0.3 on the true class, 0.5 on the next and 0.2 on the third where it is true.
torch::Tensor right_or_wrong(const data::Dataset& validation, const std::function<bool(std::int64_t)>& wrong) {
  const auto n = validation.size();
  auto p = torch::empty({n, 3});
  for (std::int64_t i = 0; i < n; ++i) {
    const auto y = validation.labels[i].item<std::int64_t>();
    p[i][y] = wrong(i) ? 0.3F : 0.6F;
    p[i][(y + 1) % 3] = wrong(i) ? 0.5F : 0.2F;
    p[i][(y + 2) % 3] = 0.2F;
  }
  return p;
}

// A study of `trials` trials at one budget: trial k saves `trainer`'s checkpoint, the validation probabilities
// probabilities_of(k) beside it, and reports loss_of(k).
std::unique_ptr<study::SqliteStorage> study_with_probabilities(const std::filesystem::path& db,
                                                               const std::filesystem::path& checkpoints,
                                                               train::Trainer& trainer,
                                                               const std::function<torch::Tensor(std::int64_t)>& probabilities_of,
                                                               const std::function<double(std::int64_t)>& loss_of, int trials) {
  const test::ToySpace space({2, 2, 0, 0});
  auto storage = std::make_unique<study::SqliteStorage>(db.string());
  exec::SearchTask task;
  task.space = &space;
  task.space_fingerprint = exec::unit_space_fingerprint(space);
  task.objective = [&](const exec::TrialContext& ctx) {
    trainer.save_checkpoint(ctx.checkpoint_dir);
    export_::save_probabilities(probabilities_of(ctx.trial_id),
                                std::filesystem::path(ctx.checkpoint_dir) / export_::k_validation_probabilities_file);
    exec::TrialResult r;
    r.loss = loss_of(ctx.trial_id);
    r.checkpoint = ctx.checkpoint_dir;
    return r;
  };
  exec::SearchOptions o;
  o.optimizer = "random";
  o.optimizer_options.hyperband.min_budget = 1;
  o.optimizer_options.hyperband.max_budget = 1;
  o.max_iterations = trials;
  o.seed = 7;
  o.checkpoint_dir = checkpoints.string();
  exec::run_search(*storage, task, o);
  return storage;
}

} // namespace

TEST(EnsembleSelection, ComplementaryModelsBeatTheBestAloneAndWeightsSumToOne) {
  // Six validation rows; a is right on rows 0-3, b on 2-5, c on 0,1,4,5 (0.8 on the true class when right, 0.4
  // when wrong): each alone 4/6, any two averaged 6/6 (no row where both are wrong).
  const auto labels = torch::tensor({0, 1, 0, 1, 0, 1}, torch::kInt64);
  const auto a = probabilities(labels, {true, true, true, true, false, false});
  const auto b = probabilities(labels, {false, false, true, true, true, true});
  const auto c = probabilities(labels, {true, true, false, false, true, true});
  const auto s = export_::select_ensemble({a, b, c}, labels, 10, 10);
  EXPECT_NEAR(sum(s.weights), 1.0, 1e-12);
  EXPECT_GE(s.members(), 2);
  EXPECT_DOUBLE_EQ(s.accuracy, 1.0);
  for (const double alone : s.candidate_accuracy) EXPECT_GT(s.accuracy, alone);
  EXPECT_EQ(s.counts.size(), 3u);
}

TEST(EnsembleSelection, NeverWorseThanItsBestMemberAndRespectsTheMemberLimit) {
  const auto labels = torch::tensor({0, 1, 0, 1, 0, 1, 0, 1}, torch::kInt64);
  const auto good = probabilities(labels, {true, true, true, true, true, true, true, false}, 0.9F);
  const auto bad = probabilities(labels, {false, false, false, true, true, false, false, true}, 0.99F);
  const auto worse = probabilities(labels, {false, false, false, false, false, false, false, true}, 0.99F);
  const auto s = export_::select_ensemble({bad, good, worse}, labels, 20, 3);
  EXPECT_EQ(s.best_candidate, 1);
  EXPECT_GE(s.accuracy, s.candidate_accuracy[1]);
  EXPECT_NEAR(sum(s.weights), 1.0, 1e-12);
  // With one member allowed, the ensemble is the best candidate alone.
  const auto one = export_::select_ensemble({bad, good, worse}, labels, 20, 1);
  EXPECT_EQ(one.members(), 1);
  EXPECT_DOUBLE_EQ(one.weights[1], 1.0);
  EXPECT_DOUBLE_EQ(one.accuracy, one.candidate_accuracy[1]);
  // Each candidate's log-loss alone, for the export's comparison: the mean -log of its probability of the truth.
  ASSERT_EQ(one.candidate_log_loss.size(), 3u);
  EXPECT_NEAR(one.candidate_log_loss[1], -(7 * std::log(0.9) + std::log(0.4)) / 8, 1e-6);
  EXPECT_NEAR(one.log_loss, one.candidate_log_loss[1], 1e-12);
}

// Held-out folds: the selection made on four fifths of the rows, judged on the fifth left out.
TEST(EnsembleSelection, HeldOutFoldsTellRealGainsFromChanceOnes) {
  // Chance: noisy copies of one network. On the rows it is made on, selection gets more right than the best copy
  // alone; on held-out rows it does not.
  std::int64_t seen_gain = 0;
  std::int64_t held_out_gain = 0;
  for (std::uint32_t seed = 1; seed <= 5; ++seed) {
    const auto labels = random_labels(500, 3, seed);
    const auto copies = noisy_copies(labels, 3, 8, seed);
    const auto s = export_::select_ensemble(copies, labels, 25, 25);
    seen_gain += std::llround((s.accuracy - s.candidate_accuracy[static_cast<std::size_t>(s.best_candidate)]) * 500);
    const auto h = export_::compare_held_out(copies, labels, 25, 25, 5);
    EXPECT_EQ(h.folds, 5);
    EXPECT_EQ(h.samples, 500);
    held_out_gain += h.ensemble_correct - h.single_correct;
  }
  EXPECT_GE(seen_gain, 5 * 5) << "the draws no longer show selection's chance gains";
  EXPECT_LE(held_out_gain, 0);

  // Real: the six-row complementary pattern of the test above, five times over (each fold holds all six kinds of
  // rows): any two together are right everywhere, on held-out rows too.
  std::vector<bool> a_right;
  std::vector<bool> b_right;
  std::vector<bool> c_right;
  std::vector<std::int64_t> y;
  for (int i = 0; i < 30; ++i) {
    a_right.push_back(i % 6 < 4);
    b_right.push_back(i % 6 >= 2);
    c_right.push_back(i % 6 < 2 || i % 6 >= 4);
    y.push_back(i % 2);
  }
  const auto labels = torch::tensor(y, torch::kInt64);
  const auto h = export_::compare_held_out(
      {probabilities(labels, a_right), probabilities(labels, b_right), probabilities(labels, c_right)}, labels, 10, 10, 5);
  EXPECT_EQ(h.ensemble_correct, 30);
  EXPECT_EQ(h.single_correct, 20);
  EXPECT_EQ(h.only_ensemble_correct, 10);
  EXPECT_EQ(h.only_single_correct, 0);
  EXPECT_LT(h.ensemble_log_loss, h.single_log_loss);

  EXPECT_THROW(export_::compare_held_out({probabilities(labels, a_right)}, labels, 10, 10, 1), Error);
  EXPECT_THROW(export_::compare_held_out({probabilities(labels, a_right)}, labels, 10, 10, 31), Error);
}

TEST(EnsembleSelection, BadArgumentsAreErrors) {
  const auto labels = torch::tensor({0, 1}, torch::kInt64);
  EXPECT_THROW(export_::select_ensemble({}, labels, 5, 5), Error);
  EXPECT_THROW(export_::select_ensemble({torch::rand({3, 2})}, labels, 5, 5), Error);
  EXPECT_THROW(export_::select_ensemble({torch::rand({2, 2})}, labels, 0, 5), Error);
  EXPECT_THROW(export_::select_ensemble({torch::rand({2, 2})}, labels, 5, 0), Error);
}

TEST(EnsembleSelection, ProbabilityFilesRoundTripAndBadOnesAreNamed) {
  TempDir dir;
  const auto p = torch::rand({5, 3});
  export_::save_probabilities(p, dir / "p.pt");
  EXPECT_TRUE(torch::equal(export_::load_probabilities(dir / "p.pt", 5, 3), p));
  try {
    export_::load_probabilities(dir / "p.pt", 6, 3);
    ADD_FAILURE() << "a file of another shape was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("p.pt"), std::string::npos) << e.what();
  }
  test::write_file(dir / "junk.pt", "junk");
  EXPECT_THROW(export_::load_probabilities(dir / "junk.pt", 5, 3), Error);
  EXPECT_THROW(export_::load_probabilities(dir / "none.pt", 5, 3), Error);
}

// The ensemble is one TorchScript file with a single model's interface: raw inputs in, logits out (the log of
// the weighted average of the members' probabilities), its description in automl/ensemble.json.
TEST(EnsembleModule, AveragesItsMembersAndRoundTripsThroughTheModelFile) {
  TempDir dir;
  const auto data = test::blobs(120, 4, 3);
  auto a = trained_member(data, 1, dir / "a.pt");
  auto b = trained_member(data, 2, dir / "b.pt");
  auto ensemble = export_::ensemble_module({a.file, b.file}, {3, 1});
  torch::NoGradGuard no_grad;
  a.module.eval();
  b.module.eval();
  const auto x = data.features;
  const auto expected = (0.75 * torch::softmax(a.module.forward({x}).toTensor(), 1) +
                         0.25 * torch::softmax(b.module.forward({x}).toTensor(), 1));
  const auto logits = ensemble.forward({x}).toTensor();
  EXPECT_LE((torch::softmax(logits, 1) - expected).abs().max().item<double>(), 1e-5);

  const nlohmann::json description{{"val_accuracy", 0.9}, {"members", {{{"trial_id", 1}, {"weight", 0.75}}, {{"trial_id", 2}, {"weight", 0.25}}}}};
  export_::ModelInfo info{nlohmann::json::object(), data.schema, "ensemble", nlohmann::json::object(), {}, description};
  export_::save_model(ensemble, info, dir / "ensemble.pt", x.narrow(0, 0, 8));
  auto loaded = export_::load_model(dir / "ensemble.pt");
  EXPECT_EQ(loaded.info.ensemble, description);
  EXPECT_LE((export_::predict_probabilities(loaded.module, x) - expected).abs().max().item<double>(), 1e-5);
  // A single model has no ensemble description.
  export_::save_model(a.module, {nlohmann::json::object(), data.schema, "", nlohmann::json::object(), {}, {}},
                      dir / "single.pt", x.narrow(0, 0, 8));
  EXPECT_TRUE(export_::load_model(dir / "single.pt").info.ensemble.is_null());

  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3-torch is not installed";
  const auto raw = x.contiguous();
  test::write_file(dir / "x.f32", std::string(static_cast<const char*>(raw.data_ptr()), raw.numel() * sizeof(float)));
  test::write_file(dir / "check.py",
                   "import json, sys, numpy as np, torch\n"
                   "extra = {'automl/ensemble.json': ''}\n"
                   "m = torch.jit.load(sys.argv[1], _extra_files=extra)\n"
                   "assert len(json.loads(extra['automl/ensemble.json'])['members']) == 2\n"
                   "x = torch.from_numpy(np.fromfile(sys.argv[2], dtype=np.float32).reshape(-1, 4))\n"
                   "with torch.no_grad():\n"
                   "    m.eval(); p = torch.softmax(m(x), 1)\n"
                   "p.numpy().astype(np.float32).tofile(sys.argv[3])\n");
  const auto r = test::run_command("/usr/bin/python3 " + (dir / "check.py").string() + " " + (dir / "ensemble.pt").string() +
                                   " " + (dir / "x.f32").string() + " " + (dir / "out.f32").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto bytes = test::read_file(dir / "out.f32");
  const auto python = torch::from_blob(const_cast<char*>(bytes.data()), {x.size(0), 3}, torch::kFloat32).clone();
  EXPECT_LE((python - expected).abs().max().item<double>(), 1e-5);
}

TEST(EnsembleModule, BadMembersAreErrors) {
  TempDir dir;
  test::write_file(dir / "junk.pt", "junk");
  EXPECT_THROW(export_::ensemble_module({dir / "junk.pt", dir / "junk.pt"}, {1, 1}), Error);
  EXPECT_THROW(export_::ensemble_module({dir / "junk.pt"}, {1, 1}), Error);
  EXPECT_THROW(export_::ensemble_module({}, {}), Error);
}

// The time the export keeps for its evaluations: one model's without an ensemble, up to
// k_ensemble_reserve_members models' with one, the extra members' part capped at a share of the budget.
TEST(SearchEnsemble, TheExportKeepsTimeToEvaluateSeveralMembers) {
  static_assert(commands::k_ensemble_reserve_members == 4);
  EXPECT_DOUBLE_EQ(commands::export_evaluation_seconds(20, 0, 2000), 20);  // --ensemble-size 0: one model
  EXPECT_DOUBLE_EQ(commands::export_evaluation_seconds(20, 1, 2000), 20);  // one round: one member
  EXPECT_DOUBLE_EQ(commands::export_evaluation_seconds(20, 2, 2000), 40);  // two rounds: two members at most
  EXPECT_DOUBLE_EQ(commands::export_evaluation_seconds(20, 25, 2000), 80); // k_ensemble_reserve_members
  // The extra members' part is at most 5% of the budget: 3 x 20 s against 0.05 x 600 s.
  EXPECT_DOUBLE_EQ(commands::export_evaluation_seconds(20, 25, 600), 20 + 30);
  EXPECT_DOUBLE_EQ(commands::export_evaluation_seconds(0.01, 25, 3), 0.04); // small models: the share does not bind
}

// The export's ensemble step over a study whose trials stored complementary validation probabilities: trial k is
// right on the validation rows whose index is not k modulo 3 (0.6 on the true class), wrong on the others (0.5 on
// another class, 0.3 on the true one), so any two with different residues together are right everywhere.
TEST(SearchEnsemble, CombinesStoredTrialsThatBeatTheBestAloneWithinTheTime) {
  TempDir dir;
  const auto data = test::blobs(120, 4, 3);
  const auto split = data::split_train_validation(data, 0.25, 1);
  const auto& validation = split.validation;
  const auto trainer_ptr = checkpoint_trainer(split);
  auto& trainer = *trainer_ptr;
  const auto n = validation.size();
  // kind 0: all alike; 1: complementary; 3: one diverged trial (below); 2: all right, trial k unsure (0.4 on the true class) where the index is k
  // modulo 3 and sure (0.9) elsewhere, so that any two with different residues are as accurate and surer together.
  const auto pattern = [&](std::int64_t trial_id, int kind) {
    auto p = torch::empty({n, 3});
    for (std::int64_t i = 0; i < n; ++i) {
      const auto y = validation.labels[i].item<std::int64_t>();
      if (kind == 3) {
        // Trial 1 diverged: right (0.9) on rows 0-1 of every 6 only. The others: right (0.6) except on row 0 of 6.
        const bool diverged = trial_id == 1;
        const bool good = diverged ? i % 6 < 2 : i % 6 != 0;
        const float truth = good ? (diverged ? 0.9F : 0.6F) : 0.3F;
        const float next = good ? (diverged ? 0.05F : 0.2F) : (diverged ? 0.4F : 0.5F);
        p[i][y] = truth;
        p[i][(y + 1) % 3] = next;
        p[i][(y + 2) % 3] = 1 - truth - next;
        continue;
      }
      const bool right = kind != 1 || i % 3 != trial_id % 3;
      const bool unsure = kind == 2 && i % 3 == trial_id % 3;
      p[i][y] = kind == 2 ? (unsure ? 0.4F : 0.9F) : right ? 0.6F : 0.3F;
      p[i][(y + 1) % 3] = kind == 2 ? (unsure ? 0.3F : 0.05F) : right ? 0.2F : 0.5F;
      p[i][(y + 2) % 3] = kind == 2 ? (unsure ? 0.3F : 0.05F) : 0.2F;
    }
    return p;
  };
  const auto run_study = [&](const std::filesystem::path& db, int kind) {
    return study_with_probabilities(
        db, dir / (db.stem().string() + "-checkpoints"), trainer, [&](std::int64_t id) { return pattern(id, kind); },
        [&](std::int64_t id) { return kind == 1 ? 1.0 / 3 : kind == 3 ? (id == 1 ? 2.0 / 3 : 1.0 / 6) : 0.0; }, 4);
  };

  auto storage = run_study(dir / "complementary.db", 1);
  const auto trials = storage->trials(1);
  ASSERT_GE(trials.size(), 3u);
  commands::EnsembleSettings settings;
  settings.fetch_dir = (dir / "fetched").string();
  settings.samples = 1000;
  std::string why;
  auto ensemble = commands::choose_ensemble(*storage, trials, validation, settings, why);
  ASSERT_TRUE(ensemble) << why;
  EXPECT_GE(ensemble->member_ids.size(), 2u);
  EXPECT_DOUBLE_EQ(ensemble->val_accuracy, 1.0);
  EXPECT_NEAR(ensemble->description["best_single"]["val_accuracy"].get<double>(), 2.0 / 3, 0.05);
  double weights = 0;
  for (const auto& m : ensemble->description["members"]) {
    weights += m["weight"].get<double>();
    EXPECT_TRUE(m.contains("config"));
  }
  EXPECT_NEAR(weights, 1.0, 1e-12);
  // The gain holds on held-out folds of the validation set: every row right, against two thirds alone.
  const auto& held_out = ensemble->description["held_out"];
  EXPECT_EQ(held_out["folds"].get<int>(), commands::k_ensemble_held_out_folds);
  EXPECT_EQ(held_out["ensemble_correct"].get<std::int64_t>(), n);
  EXPECT_LT(held_out["single_correct"].get<std::int64_t>(), n);
  // The module runs on raw inputs and gives one row of logits per sample.
  torch::NoGradGuard no_grad;
  EXPECT_EQ(export_::ensemble_of(ensemble->members, ensemble->weights).forward({validation.features}).toTensor().sizes(), (std::vector<std::int64_t>{n, 3}));

  // No time to evaluate two members: no ensemble, and the reason says so.
  settings.seconds = 1e-9;
  EXPECT_FALSE(commands::choose_ensemble(*storage, trials, validation, settings, why));
  EXPECT_NE(why.find("fewer than two members"), std::string::npos) << why;

  // Trials that all make the same predictions: nothing beats the best alone.
  auto same = run_study(dir / "same.db", 0);
  settings.seconds = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(commands::choose_ensemble(*same, same->trials(1), validation, settings, why));
  EXPECT_NE(why.find("beats the best of them alone"), std::string::npos) << why;

  // A diverged trial (a third right, as chance) that the others' average would take in, since together they get
  // every row right: it is far below the best alone (5/6), so it takes no part, and nothing beats the best alone.
  auto diverged = run_study(dir / "diverged.db", 3);
  const auto diverged_trials = diverged->trials(1);
  ASSERT_TRUE(std::any_of(diverged_trials.begin(), diverged_trials.end(), [](const study::Trial& t) { return t.id == 1; }));
  auto anyone = settings;
  anyone.min_competence = 0;
  ensemble = commands::choose_ensemble(*diverged, diverged_trials, validation, anyone, why);
  ASSERT_TRUE(ensemble) << why;
  EXPECT_DOUBLE_EQ(ensemble->val_accuracy, 1.0);
  EXPECT_NE(std::find(ensemble->member_ids.begin(), ensemble->member_ids.end(), 1), ensemble->member_ids.end());
  EXPECT_FALSE(commands::choose_ensemble(*diverged, diverged_trials, validation, settings, why));
  EXPECT_NE(why.find("beats the best of them alone"), std::string::npos) << why;

  // All right alone, each unsure somewhere else: as accurate together and surer, which beats the best alone.
  auto surer = run_study(dir / "surer.db", 2);
  ensemble = commands::choose_ensemble(*surer, surer->trials(1), validation, settings, why);
  ASSERT_TRUE(ensemble) << why;
  EXPECT_GE(ensemble->member_ids.size(), 2u);
  EXPECT_DOUBLE_EQ(ensemble->val_accuracy, 1.0);
  EXPECT_DOUBLE_EQ(ensemble->description["best_single"]["val_accuracy"].get<double>(), 1.0);
  EXPECT_LE(ensemble->description["val_log_loss"].get<double>(),
            (1 - commands::k_ensemble_log_loss_gain) * ensemble->description["best_single"]["val_log_loss"].get<double>());
}

// The held-out comparison's verdict (commands::gain_holds_out).
TEST(SearchEnsemble, AHeldOutGainWithAWorseLogLossMustBeSignificant) {
  export_::HeldOutComparison h;
  h.folds = 5;
  h.samples = 6000;
  // One more right, 21 disagreements, log-loss 0.197 against 0.029: a flat member tipping close calls.
  h.ensemble_correct = 5945;
  h.single_correct = 5944;
  h.only_ensemble_correct = 11;
  h.only_single_correct = 10;
  h.ensemble_log_loss = 0.197;
  h.single_log_loss = 0.029;
  EXPECT_FALSE(commands::gain_holds_out(h));
  h.ensemble_log_loss = 0.028; // the same gain with a log-loss no worse
  EXPECT_TRUE(commands::gain_holds_out(h));
  // A significant gain (30 against 10: 20 >= 2 x sqrt(40)) holds with the worse log-loss.
  h.ensemble_log_loss = 0.197;
  h.ensemble_correct = 5964;
  h.only_ensemble_correct = 30;
  EXPECT_TRUE(commands::gain_holds_out(h));
  h.only_ensemble_correct = 20; // 10 < 2 x sqrt(30)
  h.ensemble_correct = 5954;
  EXPECT_FALSE(commands::gain_holds_out(h));
  // As many right: only a log-loss lower by k_ensemble_log_loss_gain.
  h.ensemble_correct = h.single_correct;
  h.only_ensemble_correct = h.only_single_correct;
  h.ensemble_log_loss = 0.029 * (1 - commands::k_ensemble_log_loss_gain) - 1e-6;
  EXPECT_TRUE(commands::gain_holds_out(h));
  h.ensemble_log_loss = 0.0285;
  EXPECT_FALSE(commands::gain_holds_out(h));
  // Fewer right: never.
  h.ensemble_correct = h.single_correct - 1;
  h.ensemble_log_loss = 0.001;
  EXPECT_FALSE(commands::gain_holds_out(h));
}

// The whole-set rule of the incumbent's seeds: gain_holds_out without its significance clause.
TEST(SearchEnsemble, BeatingTheBestAloneNeedsMoreRightWithALogLossNoWorseOrAsManySurer) {
  EXPECT_TRUE(commands::beats_alone(34, 0.20, 33, 0.20));
  EXPECT_FALSE(commands::beats_alone(34, 0.21, 33, 0.20)); // more right, but less sure: no significance test here
  EXPECT_TRUE(commands::beats_alone(33, 0.20 * (1 - commands::k_ensemble_log_loss_gain) - 1e-9, 33, 0.20));
  EXPECT_FALSE(commands::beats_alone(33, 0.195, 33, 0.20));
  EXPECT_FALSE(commands::beats_alone(32, 0.01, 33, 0.20));
}

// Trials that are noisy copies of one network (noisy_copies above): selection over the validation set finds a
// combination that gets more of it right than the best trial alone, by chance agreements with its labels; made
// on four fifths of the set and judged on the rest, it gains nothing, so no ensemble is exported.
TEST(SearchEnsemble, NoEnsembleWhenItsGainOnValidationDoesNotHoldOnHeldOutRows) {
  TempDir dir;
  const auto data = test::blobs(2000, 4, 3);
  const auto split = data::split_train_validation(data, 0.25, 1);
  const auto& validation = split.validation;
  ASSERT_EQ(validation.size(), 500);
  const auto trainer_ptr = checkpoint_trainer(split);
  auto& trainer = *trainer_ptr;
  const int count = 8;
  const auto copies = noisy_copies(validation.labels, 3, count, 1);
  const auto copy_of = [&](std::int64_t id) { return copies[static_cast<std::size_t>(id % count)]; };
  const auto error_of = [&](std::int64_t id) {
    return 1 - copy_of(id).argmax(1).eq(validation.labels).to(torch::kFloat64).mean().item<double>();
  };
  auto storage = study_with_probabilities(dir / "copies.db", dir / "checkpoints", trainer, copy_of, error_of, count);
  const auto trials = storage->trials(1);
  ASSERT_EQ(trials.size(), static_cast<std::size_t>(count));
  // The trap is there: on the whole validation set, selection beats the best copy alone.
  const auto s = export_::select_ensemble(copies, validation.labels, 25, 25);
  ASSERT_GT(s.accuracy, s.candidate_accuracy[static_cast<std::size_t>(s.best_candidate)]);

  commands::EnsembleSettings settings;
  settings.fetch_dir = (dir / "fetched").string();
  std::string why;
  EXPECT_FALSE(commands::choose_ensemble(*storage, trials, validation, settings, why));
  EXPECT_NE(why.find("does not hold on samples it was not chosen on"), std::string::npos) << why;
}

// The export's second kind of ensemble: the incumbent with its seed replicas (the trials of its configuration on its
// budget), equal weights, when ensemble selection does not win. Trial k is right on the validation rows whose index
// is not k modulo 3 (0.6 on the true class; 0.3 on it and 0.5 on another where wrong), as in the test above:
// trials 1 and 2 together are right everywhere, trials 1 and 4 make the same predictions.
TEST(SearchEnsemble, TheIncumbentsSeedsWhenSelectionDoesNotWin) {
  TempDir dir;
  const auto data = test::blobs(120, 4, 3);
  const auto split = data::split_train_validation(data, 0.25, 1);
  const auto& validation = split.validation;
  const auto trainer_ptr = checkpoint_trainer(split);
  auto& trainer = *trainer_ptr;
  const auto n = validation.size();
  const auto pattern = [&](std::int64_t trial_id) {
    return right_or_wrong(validation, [&](std::int64_t i) { return i % 3 == trial_id % 3; });
  };
  auto storage = study_with_probabilities(dir / "seeds.db", dir / "checkpoints", trainer, pattern,
                                          [](std::int64_t) { return 1.0 / 3; }, 4);
  const auto trials = storage->trials(1);
  ASSERT_EQ(trials.size(), 4u);
  ASSERT_EQ(trials.front().id, 1);
  // The trials as they would be with trial `seed` a replica of trial 1 (its configuration, on `budget`).
  const auto with_seed = [&](std::int64_t seed, double budget) {
    auto t = trials;
    for (auto& trial : t)
      if (trial.id == seed) {
        trial.config = trials.front().config;
        trial.budget = budget;
      }
    return t;
  };
  commands::EnsembleSettings settings;
  settings.fetch_dir = (dir / "fetched").string();
  settings.samples = 1000;
  settings.incumbent_id = 1;
  settings.size = 1; // one round of selection chooses one trial: never an ensemble
  std::string why;
  auto ensemble = commands::choose_ensemble(*storage, with_seed(2, trials.front().budget), validation, settings, why);
  ASSERT_TRUE(ensemble) << why;
  EXPECT_EQ(ensemble->description["method"], "seeds");
  EXPECT_EQ(ensemble->member_ids, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(ensemble->weights, (std::vector<double>{0.5, 0.5}));
  EXPECT_DOUBLE_EQ(ensemble->val_accuracy, 1.0);
  EXPECT_EQ(ensemble->description["best_single"]["trial_id"], 1);
  EXPECT_NEAR(ensemble->description["best_single"]["val_accuracy"].get<double>(), 2.0 / 3, 0.05);
  EXPECT_TRUE(ensemble->description["held_out"].is_null());
  EXPECT_EQ(ensemble->description["members"].size(), 2u);
  torch::NoGradGuard no_grad;
  EXPECT_EQ(export_::ensemble_of(ensemble->members, ensemble->weights).forward({validation.features}).toTensor().size(0), n);

  // No replica of the incumbent: nothing, for the selection's reason alone.
  EXPECT_FALSE(commands::choose_ensemble(*storage, trials, validation, settings, why));
  EXPECT_NE(why.find("beats the best of them alone"), std::string::npos) << why;
  EXPECT_EQ(why.find("seeds"), std::string::npos) << why;
  // A replica that predicts as the incumbent does: no better together, and the reason says so.
  EXPECT_FALSE(commands::choose_ensemble(*storage, with_seed(4, trials.front().budget), validation, settings, why));
  EXPECT_NE(why.find("seeds do not beat it alone either"), std::string::npos) << why;
  // The configuration on another budget is not a seed of it.
  EXPECT_FALSE(commands::choose_ensemble(*storage, with_seed(2, 3 * trials.front().budget), validation, settings, why));
  // Another incumbent, without replicas: nothing.
  settings.incumbent_id = 3;
  EXPECT_FALSE(commands::choose_ensemble(*storage, with_seed(2, trials.front().budget), validation, settings, why));
  // No time to evaluate two members: nothing.
  settings.incumbent_id = 1;
  settings.seconds = 1e-9;
  EXPECT_FALSE(commands::choose_ensemble(*storage, with_seed(2, trials.front().budget), validation, settings, why));
  // When ensemble selection wins (rounds enough to combine trials), it goes first.
  settings.seconds = std::numeric_limits<double>::infinity();
  settings.size = 25;
  ensemble = commands::choose_ensemble(*storage, with_seed(2, trials.front().budget), validation, settings, why);
  ASSERT_TRUE(ensemble) << why;
  EXPECT_EQ(ensemble->description["method"], "selection");
}

// The export's third kind of ensemble: when another trial on the incumbent's budget is exactly as accurate on
// validation, the incumbent with the trials there within one standard error of it, equal weights. Trials 1 and 2
// make the same predictions, wrong on the rows whose index is 0 modulo 5 (so no combination beats either alone);
// trial 3 is wrong on one row more, trial 4 on the rows 3 and 4 modulo 5 as well: far below.
TEST(SearchEnsemble, TheIncumbentsPeersWhenValidationCannotTellThemApart) {
  TempDir dir;
  const auto data = test::blobs(120, 4, 3);
  const auto split = data::split_train_validation(data, 0.25, 1);
  const auto& validation = split.validation;
  const auto trainer_ptr = checkpoint_trainer(split);
  const auto n = validation.size();
  ASSERT_GE(n, 20);
  const auto wrong = [](std::int64_t trial_id, std::int64_t i) {
    if (i % 5 == 0) return true;
    if (trial_id == 3) return i == 1;
    return trial_id == 4 && i % 5 >= 3;
  };
  const auto pattern = [&](std::int64_t trial_id) {
    return right_or_wrong(validation, [&](std::int64_t i) { return wrong(trial_id, i); });
  };
  const auto error_of = [&](std::int64_t trial_id) {
    std::int64_t errors = 0;
    for (std::int64_t i = 0; i < n; ++i) errors += wrong(trial_id, i) ? 1 : 0;
    return static_cast<double>(errors) / static_cast<double>(n);
  };
  auto storage = study_with_probabilities(dir / "peers.db", dir / "checkpoints", *trainer_ptr, pattern, error_of, 4);
  const auto trials = storage->trials(1);
  ASSERT_EQ(trials.size(), 4u);
  commands::EnsembleSettings settings;
  settings.fetch_dir = (dir / "fetched").string();
  settings.samples = 1000;
  settings.incumbent_id = 1;
  std::string why;
  auto ensemble = commands::choose_ensemble(*storage, trials, validation, settings, why);
  ASSERT_TRUE(ensemble) << why;
  EXPECT_EQ(ensemble->description["method"], "peers");
  // The tie first, then the one a sample behind; trial 4 is more than a standard error behind.
  EXPECT_EQ(ensemble->member_ids, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(ensemble->weights, (std::vector<double>(3, 1.0 / 3)));
  EXPECT_EQ(ensemble->description["best_single"]["trial_id"], 1);
  EXPECT_NEAR(ensemble->description["best_single"]["val_accuracy"].get<double>(), 1 - error_of(1), 1e-9);
  // The average of the three is right where trials 1 and 2 are: the tied ones outvote trial 3.
  EXPECT_NEAR(ensemble->val_accuracy, 1 - error_of(1), 1e-9);
  EXPECT_TRUE(ensemble->description["held_out"].is_null());
  const double p = 1 - error_of(1);
  EXPECT_NEAR(ensemble->description["margin"].get<double>(), std::sqrt(p * (1 - p) / static_cast<double>(n)), 1e-9);
  torch::NoGradGuard no_grad;
  EXPECT_EQ(export_::ensemble_of(ensemble->members, ensemble->weights).forward({validation.features}).toTensor().size(0), n);

  // At most --ensemble-size members; with one, no ensemble.
  settings.size = 2;
  ensemble = commands::choose_ensemble(*storage, trials, validation, settings, why);
  ASSERT_TRUE(ensemble) << why;
  EXPECT_EQ(ensemble->member_ids, (std::vector<std::int64_t>{1, 2}));
  settings.size = 1;
  EXPECT_FALSE(commands::choose_ensemble(*storage, trials, validation, settings, why));
  settings.size = 25;
  // The tie on another budget: no peers (trial 3, a sample behind, is no tie).
  auto moved = trials;
  moved[1].budget = 3 * moved[1].budget;
  EXPECT_FALSE(commands::choose_ensemble(*storage, moved, validation, settings, why));
  // No incumbent among the candidates: nothing.
  settings.incumbent_id = 99;
  EXPECT_FALSE(commands::choose_ensemble(*storage, trials, validation, settings, why));
}

TEST(EnsembleSelection, AnEqualAverageIsScoredAsSelectionScoresIt) {
  const auto labels = torch::tensor({0, 1, 1, 0}, torch::kInt64);
  const auto a = probabilities(labels, {true, true, false, false});
  const auto b = probabilities(labels, {true, false, true, true}, 0.9F);
  const auto s = export_::score_average({a, b}, labels);
  // Row by row, the average's probability on the true class: 0.85, 0.6, 0.65, 0.65.
  EXPECT_EQ(s.correct, 4);
  EXPECT_DOUBLE_EQ(s.accuracy, 1.0);
  EXPECT_NEAR(s.log_loss, -(std::log(0.85) + std::log(0.6) + 2 * std::log(0.65)) / 4, 1e-6);
  const auto alone = export_::score_average({a}, labels);
  EXPECT_EQ(alone.correct, 2);
  EXPECT_THROW(export_::score_average({}, labels), Error);
  EXPECT_THROW(export_::score_average({a, torch::ones({3, 2})}, labels), Error);
}
