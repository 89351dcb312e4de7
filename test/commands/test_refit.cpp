// The refit step of `automl search --refit` (commands/search_refit.hpp): the exported trials trained again on
// train+validation, in order of importance, each only when its time fits, a diverged refit not kept.
#include "commands/search_refit.hpp"
#include "commands/study_report.hpp"
#include "core/clock.hpp"
#include "core/hyperparameters.hpp"
#include "data/split.hpp"
#include "exec/search.hpp"
#include "support/tiny_data.hpp"
#include "train/runtime.hpp"
#include "train/trainer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

using namespace automl;
using testing::HasSubstr;

namespace {

const nlohmann::json k_mlp{{"network", "mlpnet"},   {"num_layers", 1},           {"num_units_1", 16},
                           {"optimizer", "adam"},   {"optimizer:adam:lr", 0.01}, {"batch_size", 32}};

struct Data {
  data::Dataset all;
  data::TrainValidation split;
};

Data blob_data() {
  auto all = test::blobs(300, 4, 3);
  auto split = data::split_train_validation(all, 0.2, 1);
  return {std::move(all), std::move(split)};
}

// A complete trial of `config` on `budget` epochs that trained for `seconds` and scored `accuracy` on validation.
study::Trial trial(std::int64_t id, const nlohmann::json& config, double budget, double seconds, double accuracy,
                   std::optional<std::int64_t> parent = std::nullopt) {
  study::Trial t;
  t.id = id;
  t.config = config.dump();
  t.budget = budget;
  t.state = study::TrialState::complete;
  t.loss = 1.0 - accuracy;
  t.finished_at = core::unix_now();
  t.started_at = *t.finished_at - seconds;
  t.seed = 100 + static_cast<std::uint64_t>(id);
  t.parent_id = parent;
  return t;
}

commands::RefitSettings settings_for(const Data& d, double seconds, std::size_t workers) {
  commands::RefitSettings s;
  s.all = &d.all;
  s.validation = &d.split.validation;
  s.workers = workers;
  s.max_budget = 2;
  s.deadline = std::chrono::steady_clock::now() +
               std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
  return s;
}

std::vector<const study::Trial*> pointers(const std::vector<study::Trial>& trials) {
  std::vector<const study::Trial*> out;
  for (const auto& t : trials) out.push_back(&t);
  return out;
}

} // namespace

// Each model trains from scratch on all the samples with its trial's seed and budget (the same weights as a
// Trainer given exactly that), two at once; the outcomes come in the order given, and the JSON says so.
TEST(Refit, TrainsEachModelOnTrainAndValidationWithItsTrialsSeed) {
  train::configure_threads(1);
  const auto d = blob_data();
  auto slower = k_mlp;
  slower["optimizer:adam:lr"] = 0.003;
  const std::vector<study::Trial> trials{trial(1, k_mlp, 2, 0.5, 0.5), trial(2, slower, 1, 0.5, 0.5), trial(3, k_mlp, 2, 0.5, 0.5)};
  const auto outcomes = commands::refit_models(pointers(trials), trials, settings_for(d, 120, 2));
  ASSERT_EQ(outcomes.size(), 3u);
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const auto& o = outcomes[i];
    EXPECT_EQ(o.trial_id, trials[i].id);
    ASSERT_TRUE(o.pipeline) << o.reason;
    EXPECT_TRUE(o.reason.empty());
    EXPECT_DOUBLE_EQ(o.epochs, trials[i].budget);
    EXPECT_GE(o.fit_accuracy, 0.5);
    // 1.15 x 0.5 s, scaled by 300 / 240 samples
    EXPECT_NEAR(o.estimate_s, commands::k_refit_safety * 0.5 * 300.0 / 240.0, 0.05);
    train::Trainer reference(core::Hyperparameters(nlohmann::json::parse(trials[i].config)), d.all, d.all.subset({}),
                             trials[i].seed);
    train::TrainBudget budget;
    budget.epochs = trials[i].budget;
    reference.train(budget);
    const auto expected = reference.pipeline().module.parameters();
    const auto got = o.pipeline->module.parameters();
    auto e = expected.begin();
    for (auto g = got.begin(); g != got.end() && e != expected.end(); ++g, ++e)
      EXPECT_TRUE(torch::equal(*g, *e)) << "trial " << trials[i].id;
  }
  const auto j = commands::refit_json(outcomes, d.all.size(), 1.0);
  EXPECT_EQ(j["requested"], true);
  EXPECT_EQ(j["done"], true);
  EXPECT_EQ(j["samples"], 300);
  ASSERT_EQ(j["models"].size(), 3u);
  EXPECT_EQ(j["models"][1]["trial_id"], 2);
  EXPECT_FALSE(j.contains("reason"));
}

// A model whose measured time (its chain of promotions included) does not fit in what is left is skipped and
// the next one tried; one that fits the samples it trained on worse than its trial did unseen is not kept.
TEST(Refit, SkipsWhatDoesNotFitAndDropsADivergedRefit) {
  train::configure_threads(1);
  const auto d = blob_data();
  auto frozen = k_mlp;
  frozen["optimizer:adam:lr"] = 1e-9; // learns nothing: about a third right
  const std::vector<study::Trial> trials{
      trial(1, k_mlp, 1, 40, 0.9),                // 40 s of training: 1.15 x 40 x 1.25 = 57.5 s > 30 s
      trial(2, k_mlp, 2, 20, 0.9),                // a promotion of trial 1: its chain took 60 s
      trial(3, frozen, 1, 0.2, 1.0),              // fits in time, but cannot get them all right
      trial(4, k_mlp, 1, 0.2, 0.5)};              // fits
  std::vector<study::Trial> with_parent = trials;
  with_parent[1].parent_id = 1;
  EXPECT_NEAR(exec::chain_seconds(with_parent, with_parent[1]), 60, 0.5);
  const auto outcomes = commands::refit_models(pointers(with_parent), with_parent, settings_for(d, 30, 1));
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_FALSE(outcomes[0].pipeline);
  EXPECT_THAT(outcomes[0].reason, HasSubstr("needs about 57.5 s, 30.0 s left"));
  EXPECT_FALSE(outcomes[1].pipeline);
  EXPECT_THAT(outcomes[1].reason, HasSubstr("needs about 86.2 s, 30.0 s left"));
  EXPECT_FALSE(outcomes[2].pipeline);
  EXPECT_THAT(outcomes[2].reason, HasSubstr("is below the trial's 1.0000 on them unseen (by more than 0.0000): not kept"));
  EXPECT_LT(outcomes[2].fit_accuracy, 1.0);
  EXPECT_TRUE(outcomes[3].pipeline) << outcomes[3].reason;
  const auto j = commands::refit_json(outcomes, d.all.size(), 1.0);
  EXPECT_EQ(j["done"], false);
  EXPECT_THAT(j["reason"].get<std::string>(), HasSubstr("trial 1: needs about"));
  EXPECT_EQ(j["models"][3]["done"], true);
  EXPECT_EQ(j["models"][2]["done"], false);
}

// A stop (a signal) lets no further refit start.
TEST(Refit, AStopRequestStartsNoRefit) {
  const auto d = blob_data();
  const std::vector<study::Trial> trials{trial(1, k_mlp, 1, 0.1, 0.5)};
  auto s = settings_for(d, 60, 1);
  s.stop_requested = [] { return true; };
  const auto outcomes = commands::refit_models(pointers(trials), trials, s);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_FALSE(outcomes[0].pipeline);
  EXPECT_EQ(outcomes[0].reason, "stopped by a signal");
}

// What `automl search` and `automl show` print about the refit: all refit, some of an ensemble's members, none.
TEST(Refit, TheSummarySaysHowManyModelsWereRefit) {
  commands::StudyReport r;
  r.study = "s";
  r.best = trial(7, k_mlp, 1, 1, 0.9);
  r.trials = {*r.best};
  const auto summary = [&](const nlohmann::json& refit) {
    r.best_config = {{"trial_id", 7}, {"refit", refit}};
    std::ostringstream out;
    commands::print_summary(out, r);
    return out.str();
  };
  const nlohmann::json done{{"trial_id", 7}, {"done", true}};
  const nlohmann::json not_done{{"trial_id", 8}, {"done", false}, {"reason", "needs about 9 s, 2 s left"}};
  EXPECT_THAT(summary({{"requested", true}, {"done", true}, {"models", {done}}}),
              HasSubstr("exported model:      refit on train+validation\n"));
  EXPECT_THAT(summary({{"requested", true}, {"done", false}, {"reason", "trial 8: needs about 9 s, 2 s left"},
                       {"models", {done, not_done, not_done}}}),
              HasSubstr("exported model:      1 of 3 members refit on train+validation, the others with their own "
                        "weights (trial 8: needs about 9 s, 2 s left)"));
  EXPECT_THAT(summary({{"requested", true}, {"done", false}, {"reason", "trial 8: needs about 9 s, 2 s left"},
                       {"models", {not_done, not_done}}}),
              HasSubstr("exported model:      the members' own weights (refit skipped: trial 8: needs about 9 s"));
  EXPECT_THAT(summary({{"requested", true}, {"done", false}, {"reason", "trial 7: needs about 9 s, 2 s left"},
                       {"models", {not_done}}}),
              HasSubstr("exported model:      the trial's own weights (refit skipped: trial 7: needs about 9 s"));
}
