// `automl search` and `automl show` called in-process on a small CSV and a one-layer MLP space: outputs, the
// exported model against `automl predict`, resume, refit, --fail-under, usage errors and the time budget.

#include "commands/predict.hpp"
#include "commands/search.hpp"
#include "commands/search_ensemble.hpp"
#include "commands/search_refit.hpp"
#include "commands/search_steps.hpp"
#include "commands/show.hpp"
#include "commands/trial_objective.hpp"
#include "core/error.hpp"
#include "study/storage.hpp"
#include "support/expect_error.hpp"
#include "support/postgres.hpp"
#include "support/search_fixture.hpp"
#include "support/test_files.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <cmath>
#include <map>
#include <limits>
#include <sstream>
#include <tuple>

using namespace automl;
using automl::test::TempDir;
using testing::HasSubstr;

namespace {

commands::SearchOptions small_search(const TempDir& dir) { return test::small_search(dir.path()); }

nlohmann::json run_json(const commands::SearchOptions& o, int expected_code = 0) {
  std::ostringstream out;
  EXPECT_EQ(commands::search(o, out), expected_code);
  return nlohmann::json::parse(out.str());
}

nlohmann::json read_json(const std::filesystem::path& path) { return nlohmann::json::parse(test::read_file(path)); }

// The trials of the one study in <dir>/run/study.db.
std::vector<study::Trial> stored_trials(const TempDir& dir) {
  auto storage = study::open_storage("sqlite:///" + (dir / "run/study.db").string());
  return storage->trials(storage->studies().at(0).id);
}

// `automl predict` of <dir>/run/best_model.pt on `test` gives the test accuracy best_config.json reports.
void expect_predict_gives_the_test_accuracy(const TempDir& dir, const std::string& test, const nlohmann::json& best) {
  commands::PredictOptions p;
  p.model = (dir / "run" / "best_model.pt").string();
  p.data = test;
  p.json = true;
  std::ostringstream predicted;
  ASSERT_EQ(commands::predict(p, predicted), 0);
  EXPECT_EQ(nlohmann::json::parse(predicted.str())["accuracy"].get<double>(), best["test_accuracy"].get<double>());
}

} // namespace

TEST(SearchCommand, WritesOutputsAndTheModelReproducesTheTestAccuracy) {
  TempDir dir;
  test::write_search_files(dir.path());
  auto o = small_search(dir);
  o.trace_test = true;
  o.ensemble_size = 0; // the exported model is the best trial (the ensemble has its own test)
  const auto j = run_json(o);
  EXPECT_EQ(j["trials"]["total"], 6);
  EXPECT_EQ(j["trials"]["complete"], 6);
  EXPECT_EQ(j["exit_code"], 0);
  const auto run = dir / "run";
  for (const char* f : {"best_model.pt", "best_config.json", "effective_config.json", "trials.csv", "configs.json",
                        "results.json", "study.db", "search.log"})
    EXPECT_TRUE(std::filesystem::exists(run / f)) << f;

  const auto best = read_json(run / "best_config.json");
  EXPECT_EQ(best["trial_id"], j["best"]["trial_id"]);
  EXPECT_EQ(best["budget"], 3.0); // the incumbent is on the largest budget
  EXPECT_TRUE(best["config"].contains("network:mlpnet:num_units_1"));
  EXPECT_GT(best["val_accuracy"].get<double>(), 0.5);
  EXPECT_EQ(best["test_accuracy"], j["test_accuracy"]);
  EXPECT_EQ(best["refit"]["requested"], false);
  EXPECT_TRUE(best["ensemble"].is_null());
  EXPECT_TRUE(best["versions"].contains("libtorch"));
  const auto effective = read_json(run / "effective_config.json");
  EXPECT_EQ(effective["run"]["budget"]["max_budget"], 3.0);
  EXPECT_EQ(effective["options"]["iterations"], 2);
  EXPECT_THAT(test::read_file(run / "trials.csv"), HasSubstr("trial_id"));
  EXPECT_THAT(test::read_file(run / "search.log"), HasSubstr("complete, val_acc"));
  // The trace ends with the final incumbent, whose test accuracy is the reported one.
  std::ifstream trace(run / "test_trace.csv");
  std::string line, last;
  std::getline(trace, line);
  EXPECT_EQ(line, "elapsed_s,trial_id,budget,val_accuracy,test_accuracy");
  while (std::getline(trace, line)) last = line;
  ASSERT_FALSE(last.empty());
  EXPECT_EQ(last.substr(last.find(',') + 1, last.find(',', last.find(',') + 1) - last.find(',') - 1),
            std::to_string(j["best"]["trial_id"].get<int>()));
  EXPECT_NEAR(std::stod(last.substr(last.rfind(',') + 1)), best["test_accuracy"].get<double>(), 1e-6);

  // `automl predict` on the exported model gives the reported test accuracy, exactly.
  commands::PredictOptions p;
  p.model = (run / "best_model.pt").string();
  p.data = o.test;
  p.json = true;
  std::ostringstream predicted;
  ASSERT_EQ(commands::predict(p, predicted), 0);
  EXPECT_EQ(nlohmann::json::parse(predicted.str())["accuracy"].get<double>(), best["test_accuracy"].get<double>());

  // The same study again: refused without --resume; with it, a finished study runs nothing more.
  test::expect_input_error([&] {
    std::ostringstream out;
    commands::search(o, out);
  }, {"study 'space' already exists", "--resume"});
  auto again = o;
  again.resume = true;
  const auto resumed = run_json(again);
  EXPECT_EQ(resumed["trials_run"], 0);
  EXPECT_EQ(resumed["resumed"], true);
  EXPECT_EQ(resumed["trials"]["total"], 6);
  EXPECT_EQ(resumed["best"]["trial_id"], j["best"]["trial_id"]);

  // show: the summary, the table and, as JSON, every trial.
  commands::ShowOptions s;
  s.dir = run.string();
  std::ostringstream shown;
  EXPECT_EQ(commands::show(s, shown), 0);
  EXPECT_THAT(shown.str(), HasSubstr("Best trial: " + std::to_string(j["best"]["trial_id"].get<int>())));
  EXPECT_THAT(shown.str(), HasSubstr("trials: 6 (6 complete, 0 pruned, 0 failed, 0 running)"));
  EXPECT_THAT(shown.str(), HasSubstr("test accuracy:"));
  EXPECT_THAT(shown.str(), HasSubstr("num_units_1"));
  EXPECT_THAT(shown.str(), HasSubstr("val_acc"));
  s.json = true;
  std::ostringstream shown_json;
  EXPECT_EQ(commands::show(s, shown_json), 0);
  const auto sj = nlohmann::json::parse(shown_json.str());
  EXPECT_EQ(sj["all_trials"].size(), 6u);
  // Every trial says who ran it and when: the worker token, its host and pid, start and end times, its lease.
  for (const auto& t : sj["all_trials"]) {
    EXPECT_EQ(t["pid"], static_cast<long>(getpid()));
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    EXPECT_EQ(t["host"], std::string(host));
    EXPECT_THAT(t["worker"].get<std::string>(), testing::StartsWith(std::string(host) + ":"));
    EXPECT_GT(t["finished_at"].get<double>(), 1.7e9);
    EXPECT_LE(t["started_at"].get<double>(), t["finished_at"].get<double>());
    EXPECT_TRUE(t["lease_expires_at"].is_null()); // finished trials hold no lease
    EXPECT_EQ(t["lease_expired"], false);
    EXPECT_EQ(t["attempts"], 1);
  }
  EXPECT_EQ(sj["best"]["trial_id"], j["best"]["trial_id"]);
}

// Ensemble selection over the trials validated on the whole validation set: exported as one model file (its
// members and weights in automl/ensemble.json) when it beats the best trial alone on validation; `predict` gives
// the reported test accuracy; the members' checkpoints are kept.
TEST(SearchCommand, ExportsAnEnsembleThatBeatsTheBestTrial) {
  TempDir dir;
  test::write_search_files(dir.path(), 900, 300);
  auto o = small_search(dir);
  o.iterations = 3;
  const auto j = run_json(o);
  const auto best = read_json(dir / "run" / "best_config.json");
  ASSERT_TRUE(best["ensemble"].is_object()) << test::read_file(dir / "run" / "search.log");
  const auto& ensemble = best["ensemble"];
  EXPECT_GE(ensemble["members"].size(), 2u);
  // More validation samples right, or as many and surer (commands/search_ensemble.hpp).
  const double single = ensemble["best_single"]["val_accuracy"].get<double>();
  if (ensemble["val_accuracy"].get<double>() <= single) {
    EXPECT_LE(ensemble["val_log_loss"].get<double>(),
              (1 - commands::k_ensemble_log_loss_gain) * ensemble["best_single"]["val_log_loss"].get<double>());
  }
  EXPECT_GE(ensemble["val_accuracy"].get<double>(), single);
  EXPECT_EQ(best["val_accuracy"], ensemble["val_accuracy"]);
  EXPECT_EQ(j["val_accuracy"], ensemble["val_accuracy"]);
  EXPECT_EQ(j["best_config"]["ensemble"], ensemble); // --json holds best_config.json
  double weights = 0;
  for (const auto& m : ensemble["members"]) {
    weights += m["weight"].get<double>();
    EXPECT_TRUE(std::filesystem::exists(dir / "run" / "checkpoints" / ("trial_" + std::to_string(m["trial_id"].get<int>()))))
        << m.dump();
  }
  EXPECT_NEAR(weights, 1.0, 1e-9);
  // The checkpoints of the largest budget, which nothing continues from, hold no optimizer state.
  std::size_t largest = 0, lower = 0;
  for (const auto& t : stored_trials(dir)) {
    const auto checkpoint = dir / "run" / "checkpoints" / ("trial_" + std::to_string(t.id));
    if (!std::filesystem::exists(checkpoint / "pipeline.pt")) continue;
    EXPECT_EQ(std::filesystem::exists(checkpoint / "optimizer.pt"), t.budget < 3) << t.id;
    ++(t.budget < 3 ? lower : largest);
  }
  EXPECT_GT(largest, 0u);
  EXPECT_GT(lower, 0u);
  expect_predict_gives_the_test_accuracy(dir, o.test, best);
  EXPECT_THAT(test::read_file(dir / "run" / "search.log"), HasSubstr("ensemble: "));
  // `automl show` says what was exported.
  commands::ShowOptions s;
  s.dir = (dir / "run").string();
  std::ostringstream shown;
  EXPECT_EQ(commands::show(s, shown), 0);
  EXPECT_THAT(shown.str(), HasSubstr(fmt::format("exported model:      an ensemble of {} trials", ensemble["members"].size())));
}

// --refit with an ensemble: each member trained again on train+validation (heaviest first, as the time allows)
// and put back with its weight; best_config.json says which were refit; `predict` gives the reported accuracy.
TEST(SearchCommand, RefitRetrainsTheEnsemblesMembersWithTheirWeights) {
  TempDir dir;
  test::write_search_files(dir.path(), 900, 300);
  auto o = small_search(dir);
  o.iterations = 3;
  o.refit = true;
  run_json(o);
  const auto best = read_json(dir / "run" / "best_config.json");
  ASSERT_TRUE(best["ensemble"].is_object()) << test::read_file(dir / "run" / "search.log");
  const auto& members = best["ensemble"]["members"];
  const auto& refit = best["refit"];
  ASSERT_EQ(refit["models"].size(), members.size()) << refit.dump();
  EXPECT_EQ(refit["samples"], 900);
  const auto validation = read_json(dir / "run" / "effective_config.json")["data"]["validation"].get<double>();
  int refit_members = 0;
  for (std::size_t i = 0; i < members.size(); ++i) {
    EXPECT_EQ(refit["models"][i]["trial_id"], members[i]["trial_id"]);
    EXPECT_EQ(refit["models"][i]["done"], members[i]["refit"]);
    if (members[i]["refit"].get<bool>()) {
      ++refit_members;
      // Kept: not below the trial's accuracy by more than the margin (commands/search_refit.hpp).
      const double p = members[i]["val_accuracy"].get<double>();
      EXPECT_GE(refit["models"][i]["fit_accuracy"].get<double>(),
                p - commands::k_refit_fit_margin * std::sqrt(p * (1 - p) / validation));
    }
  }
  EXPECT_GE(refit_members, 1) << refit.dump();
  EXPECT_EQ(refit["done"].get<bool>(), refit_members == static_cast<int>(members.size()));
  EXPECT_THAT(test::read_file(dir / "run" / "search.log"), HasSubstr("refit: trial "));
  expect_predict_gives_the_test_accuracy(dir, o.test, best);
  commands::ShowOptions s;
  s.dir = (dir / "run").string();
  std::ostringstream shown;
  EXPECT_EQ(commands::show(s, shown), 0);
  EXPECT_THAT(shown.str(), HasSubstr("refit on train+validation"));
}

// The best trial's checkpoint directory need not be on the machine that exports (an automl worker may have
// trained it elsewhere): the export takes the copy stored with the trial, and exports the same model.
TEST(SearchCommand, ExportsTheBestTrialFromItsStoredCheckpointWhenTheDirectoryIsGone) {
  TempDir dir;
  test::write_search_files(dir.path());
  test::PostgresSchema schema; // a storage that workers on other machines share: checkpoints are stored in it
  auto o = small_search(dir);
  o.storage = schema.url();
  const auto first = run_json(o);
  std::filesystem::remove_all(dir / "run/checkpoints");
  o.resume = true; // a finished study: nothing runs, the export is done again
  const auto again = run_json(o);
  EXPECT_EQ(again["trials_run"], 0);
  EXPECT_EQ(again["best"]["trial_id"], first["best"]["trial_id"]);
  EXPECT_EQ(again["test_accuracy"], first["test_accuracy"]);
  EXPECT_EQ(read_json(dir / "run/best_config.json")["test_accuracy"], first["test_accuracy"]);
  // The fetched copy was only needed while the model was loaded.
  for (const auto& e : std::filesystem::directory_iterator(dir / "run"))
    EXPECT_EQ(e.path().filename().string().find("from_store"), std::string::npos) << e.path();
  if (std::filesystem::exists(dir / "run/checkpoints")) {
    EXPECT_TRUE(std::filesystem::is_empty(dir / "run/checkpoints"));
  }
}

// A SQLite study is one machine's: its checkpoints are stored as paths, their files only in checkpoints/ (the
// database does not hold a second copy), and a promotion and the export read them there.
TEST(SearchCommand, ASqliteStudyStoresItsCheckpointsAsPathsOnly) {
  TempDir dir;
  test::write_search_files(dir.path());
  auto o = small_search(dir);
  o.optimizer = "hyperband";
  const auto j = run_json(o);
  EXPECT_EQ(j["trials"]["complete"], 6);
  auto storage = study::open_storage("sqlite:///" + (dir / "run/study.db").string());
  const auto trials = storage->trials(storage->studies().at(0).id);
  int with_checkpoint = 0;
  int continued = 0;
  for (const auto& t : trials) {
    if (t.parent_id) ++continued;
    const auto reference = storage->checkpoint(t.id);
    if (!reference) continue;
    ++with_checkpoint;
    EXPECT_FALSE(storage->checkpoint_archive(t.id)) << "trial " << t.id;
    EXPECT_TRUE(std::filesystem::is_directory(*reference)) << *reference;
  }
  EXPECT_GT(with_checkpoint, 0);
  EXPECT_GT(continued, 0); // promotions continued from the directories
  EXPECT_TRUE(std::filesystem::exists(dir / "run/best_model.pt"));
  // The folders are the only copy: removed by hand, the export of a resume says which one it needed.
  std::filesystem::remove_all(dir / "run/checkpoints");
  o.resume = true;
  o.ensemble_size = 0;
  const auto message = test::error_of([&] {
    std::ostringstream out;
    commands::search(o, out);
  });
  EXPECT_THAT(message, HasSubstr("exporting trial " + j["best"]["trial_id"].dump() + " from its checkpoint"));
  EXPECT_THAT(message, HasSubstr((dir / "run/checkpoints/trial_").string()));
}

TEST(SearchCommand, TextSummaryAndRefit) {
  TempDir dir;
  test::write_search_files(dir.path());
  auto o = small_search(dir);
  o.json = false;
  o.refit = true;
  o.study = "refit";
  o.budget = 30;
  std::ostringstream out;
  ASSERT_EQ(commands::search(o, out), 0);
  EXPECT_THAT(out.str(), HasSubstr("Study 'refit'"));
  EXPECT_THAT(out.str(), HasSubstr("params:\n    batch_size: 32\n"));
  EXPECT_THAT(out.str(), HasSubstr("exported model:      refit on train+validation"));
  const auto best = read_json(dir / "run/best_config.json");
  EXPECT_EQ(best["refit"]["done"], true);
  EXPECT_EQ(best["refit"]["samples"], 240);
  // With --storage and --study, show finds the study without the directory.
  commands::ShowOptions s;
  s.storage = "sqlite:///" + (dir / "run/study.db").string();
  std::ostringstream shown;
  EXPECT_EQ(commands::show(s, shown), 0);
  EXPECT_THAT(shown.str(), HasSubstr("Study 'refit'"));
  s.study = "nope";
  test::expect_input_error([&] { commands::show(s, shown); }, {"no study 'nope'", "studies there: refit"});
}

TEST(SearchCommand, FailUnderChecksTheTestAccuracy) {
  TempDir dir;
  test::write_search_files(dir.path(), 240, 120, 3); // a third of the test labels are wrong
  auto o = small_search(dir);
  o.iterations = 1;
  o.fail_under = 0.9;
  const auto missed = run_json(o, 3);
  EXPECT_LT(missed["test_accuracy"].get<double>(), 0.9);
  EXPECT_EQ(missed["passed"], false);
  EXPECT_TRUE(std::filesystem::exists(dir / "run/best_model.pt")); // the outputs are written all the same
  o.resume = true;
  o.fail_under = 0.1;
  EXPECT_EQ(run_json(o)["passed"], true);
}

TEST(SearchCommand, EndsWithinItsBudget) {
  TempDir dir;
  test::write_search_files(dir.path());
  auto o = small_search(dir);
  o.iterations.reset(); // search until the deadline
  o.budget = 3;
  o.min_budget = 3;
  o.max_budget = 27;
  const auto start = std::chrono::steady_clock::now();
  const auto j = run_json(o);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LE(elapsed, 3 * 1.02);
  EXPECT_GE(elapsed, 2.0); // it used its time (the search may end early when no trial fits what is left)
  EXPECT_GT(j["trials"]["complete"].get<int>(), 0);
  EXPECT_TRUE(std::filesystem::exists(dir / "run/best_model.pt"));
  // The trials' validation passes were measured: the time kept for the export grew from its share of the
  // budget (0.5 s) by the estimated test evaluation, and the search's deadline moved with it.
  const auto planned = read_json(dir / "run/effective_config.json")["time"]["export_reserve_s"].get<double>();
  const auto best = read_json(dir / "run/best_config.json");
  EXPECT_DOUBLE_EQ(planned, 0.5);
  EXPECT_GT(best["times"]["export_reserve_s"].get<double>(), planned);
  EXPECT_LE(best["times"]["search_seconds"].get<double>(), 3 - best["times"]["export_reserve_s"].get<double>() + 0.5);
}

TEST(SearchCommand, UsageErrorsNameTheFlag) {
  TempDir dir;
  test::write_search_files(dir.path());
  const auto base = small_search(dir);
  const auto fails = [&](auto change, const std::vector<std::string>& parts) {
    auto o = base;
    change(o);
    test::expect_input_error([&] {
      std::ostringstream out;
      commands::search(o, out);
    }, parts);
  };
  fails([](auto& o) { o.budget.reset(); }, {"--budget SECONDS is required"});
  fails([](auto& o) { o.budget = -1; }, {"--budget: must be > 0 and at most 31536000 seconds (a year), got -1"});
  fails([](auto& o) { o.budget = std::numeric_limits<double>::infinity(); }, {"--budget: must be > 0", "got inf"});
  fails([](auto& o) { o.budget = 1e12; }, {"--budget: must be > 0", "got 1e+12"});
  fails([](auto& o) { o.budget = std::nan(""); }, {"--budget: must be > 0", "got nan"});
  fails([](auto& o) { o.max_budget = std::numeric_limits<double>::infinity(); }, {"--max-budget: must be a finite number > 0, got inf"});
  fails([](auto& o) { o.workers = static_cast<std::size_t>(-1); }, {"--workers: must be between 1 and 256, got 18446744073709551615"});
  fails([](auto& o) { o.threads = 5000; }, {"--threads: must be between 0 and 1024, got 5000"});
  fails([](auto& o) { o.ensemble_size = -1; }, {"--ensemble-size: must be between 0 and 1000, got -1"});
  fails([](auto& o) { o.replicas = -1; }, {"--replicas: must be between 0 and 16, got -1"});
  fails([](auto& o) { o.replicas = 17; }, {"--replicas: must be between 0 and 16, got 17"});
  fails([](auto& o) { o.budget_type = "steps"; }, {"--budget-type: expected epochs or time, got 'steps'"});
  fails([](auto& o) { o.eta = 1; }, {"--eta: must be a finite number > 1, got 1"});
  fails([](auto& o) { o.validation_split = 1.5; }, {"--validation-split: must be in (0, 1), got 1.5"});
  fails([](auto& o) { o.optimizer = "tpe"; }, {"--optimizer: unknown 'tpe'; valid:", "bohb"});
  fails([](auto& o) { o.min_budget = 9; o.max_budget = 3; }, {"--min-budget 9 > --max-budget 3"});
  fails([&](auto& o) { o.data = (dir / "missing.csv").string(); }, {"missing.csv"});
  fails([](auto& o) { o.space_file.clear(); }, {"give a preset"});
  fails([](auto& o) { o.fail_under = 2; }, {"--fail-under: must be in [0, 1], got 2"});
  fails([](auto& o) { o.test.clear(); o.trace_test = true; }, {"--trace-test needs --test"});
  fails([](auto& o) { o.precision = "fp8"; }, {"--precision: unknown 'fp8'; valid: fp32, bf16, fp16"});
  fails([](auto& o) { o.device = "cuda:0,cuda:0"; }, {"--device cuda:0,cuda:0: cuda:0 is named twice"});
  fails([](auto& o) { o.device = "cpu,cuda:1"; }, {"--device cpu,cuda:1: several devices are GPUs by number"});
  EXPECT_FALSE(std::filesystem::exists(dir / "run/study.db")); // nothing was started
}

// Spaces that pass the YAML checks but that no trial could train are refused before any training.
TEST(SearchCommand, SpacesThatCannotTrainAreRefusedBeforeTraining) {
  TempDir dir;
  test::write_search_files(dir.path());
  const auto refused = [&](const std::string& yaml, const std::vector<std::string>& parts) {
    test::write_file(dir / "bad.yaml", yaml);
    auto o = small_search(dir);
    o.space_file = (dir / "bad.yaml").string();
    test::expect_input_error([&] {
      std::ostringstream out;
      commands::search(o, out);
    }, parts);
    EXPECT_FALSE(std::filesystem::exists(dir / "run")) << yaml; // refused before the output directory
  };
  const std::string optimizer = "  optimizer:\n    choices:\n      adam:\n        lr: {type: float, range: [1.0e-3, 0.1], log: true}\n";
  refused("hyperparameters:\n  network:\n    choices:\n      mlpnett:\n        num_layers: 1\n" + optimizer,
          {"search space: the default configuration cannot be trained:", "mlpnett", "mlpnet"});
  refused("hyperparameters:\n  batch_size: {type: int, range: [8, 64]}\n" + optimizer,
          {"search space: the default configuration cannot be trained: network: required hyperparameter is not set"});
  refused("hyperparameters:\n  network:\n    choices:\n      mlpnet:\n        num_layers: 1\n        num_units_1: 8\n"
          "  optimizer:\n    choices:\n      adam:\n        lrr: {type: float, range: [1.0e-3, 0.1], log: true}\n",
          {"search space: hyperparameter 'optimizer:adam:lrr' is used by no component", "did you mean 'optimizer:adam:lr'"});
  // A choice other than the default is built too: sgd's misspelt key is found although adam is the default.
  refused("hyperparameters:\n  network:\n    choices:\n      mlpnet:\n        num_layers: 1\n        num_units_1: 8\n"
          "  optimizer:\n    choices:\n      adam:\n        lr: 0.01\n      sgd:\n        lr: 0.01\n        momentun: 0.9\n",
          {"'optimizer:sgd:momentun' is used by no component (in the default configuration with optimizer = sgd)",
           "did you mean 'optimizer:sgd:momentum'"});
}

// A resume that is refused (space changed, another seed, a damaged database) changes nothing in the directory.
TEST(SearchCommand, ARefusedResumeChangesNothing) {
  TempDir dir;
  test::write_search_files(dir.path());
  auto o = small_search(dir);
  o.iterations = 1;
  run_json(o);
  const auto run = dir / "run";
  const auto snapshot = [&] {
    std::map<std::string, std::string> files;
    for (const auto& e : std::filesystem::recursive_directory_iterator(run))
      if (e.is_regular_file() && e.path().filename() != "study.db-shm") files[e.path().string()] = test::read_file(e.path());
    return files;
  };
  const auto before = snapshot();
  const auto refused = [&](auto change, const std::vector<std::string>& parts) {
    auto again = o;
    again.resume = true;
    change(again);
    test::expect_input_error([&] {
      std::ostringstream out;
      commands::search(again, out);
    }, parts);
    EXPECT_EQ(snapshot(), before);
  };
  refused([](auto& a) { a.seed = 4; }, {"cannot be resumed: setting 'seed' was 3, now 4"});
  refused([&](auto& a) {
    test::write_file(dir / "changed.yaml", test::read_file(dir / "space.yaml") + "  scaling: minmax\n");
    a.space_file = (dir / "changed.yaml").string();
    a.study = "space";
  }, {"cannot be resumed: its search space changed"});
  refused([](auto& a) { a.eta = 2; }, {"cannot be resumed: setting 'eta' was 3.0, now 2.0"});
  // Its inputs: other data (its trials would be continued and compared on them), another split, epochs as seconds.
  refused([&](auto& a) { a.data = (dir / "test.csv").string(); }, {"cannot be resumed: its data changed", "fingerprint"});
  refused([](auto& a) { a.validation_split = 0.5; }, {"cannot be resumed: its validation_split was", "now 0.5"});
  refused([](auto& a) { a.budget_type = "time"; }, {"cannot be resumed: its budget_type was \"epochs\", now \"time\""});
}

// The files of --out are one study's: a search of another study there is refused instead of replacing them.
TEST(SearchCommand, AnotherStudysResultsInItsOutAreNotReplaced) {
  TempDir dir;
  test::write_search_files(dir.path());
  auto o = small_search(dir);
  o.iterations = 1;
  run_json(o);
  const auto model = test::read_file(dir / "run" / "best_model.pt");
  auto other = o;
  other.study = "other";
  test::expect_input_error([&] {
    std::ostringstream out;
    commands::search(other, out);
  }, {"holds the results of study 'space'", "choose another --out DIR"});
  other.resume = true;
  test::expect_input_error([&] {
    std::ostringstream out;
    commands::search(other, out);
  }, {"holds the results of study 'space'"});
  EXPECT_EQ(test::read_file(dir / "run" / "best_model.pt"), model);
}

// `show DIR` reads the directory's own study.db: from another working directory, and after a copy.
TEST(ShowCommand, ReadsTheStudyOfTheDirectoryItIsGiven) {
  TempDir dir;
  test::write_search_files(dir.path());
  auto o = small_search(dir);
  o.iterations = 1;
  o.out = "run"; // relative, as users type it
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  const auto j = run_json(o);
  std::filesystem::current_path(cwd);
  std::filesystem::copy(dir / "run", dir / "copy", std::filesystem::copy_options::recursive);
  std::filesystem::remove_all(dir / "run");
  commands::ShowOptions s;
  s.dir = (dir / "copy").string();
  s.json = true;
  std::ostringstream shown;
  ASSERT_EQ(commands::show(s, shown), 0);
  const auto sj = nlohmann::json::parse(shown.str());
  EXPECT_EQ(sj["best"]["trial_id"], j["best"]["trial_id"]);
  EXPECT_THAT(sj["storage"].get<std::string>(), HasSubstr("copy"));
}

// Each trial trains from generators of its own: two workers give the same trials, run after run.
TEST(SearchCommand, ARerunWithTwoWorkersGivesTheSameTrials) {
  TempDir dir;
  test::write_search_files(dir.path());
  const auto trials_of = [&](const std::string& out) {
    auto o = small_search(dir);
    o.optimizer = "hyperband"; // proposals seeded by (seed, iteration, slot): independent of finishing order
    o.workers = 2;
    o.out = (dir / out).string();
    run_json(o);
    auto storage = study::open_storage("sqlite:///" + (dir / out / "study.db").string());
    std::vector<std::tuple<std::string, double, std::uint64_t, double>> rows;
    for (const auto& t : storage->trials(storage->studies().at(0).id))
      rows.emplace_back(t.config, t.budget, t.seed, t.loss.value_or(-1));
    std::sort(rows.begin(), rows.end());
    return rows;
  };
  const auto first = trials_of("a");
  EXPECT_EQ(first.size(), 6u);
  EXPECT_EQ(trials_of("b"), first);
}

// A trial that runs out of (GPU) memory FAILs with the message and the search goes on with the others
// (AUTOML_TEST_INJECT_OOM: the out-of-memory error LibTorch throws, after the trial's first epoch).
TEST(SearchCommand, ATrialOutOfMemoryFailsWithTheMessageAndTheSearchGoesOn) {
  TempDir dir;
  test::write_search_files(dir.path());
  auto o = small_search(dir);
  o.optimizer = "hyperband";
  ASSERT_EQ(setenv("AUTOML_TEST_INJECT_OOM", "2", 1), 0);
  const auto j = run_json(o);
  unsetenv("AUTOML_TEST_INJECT_OOM");
  const auto trials = stored_trials(dir);
  ASSERT_EQ(trials.size(), 6u);
  for (const auto& t : trials) {
    SCOPED_TRACE(t.id);
    if (t.id == 2) {
      EXPECT_EQ(t.state, study::TrialState::fail);
      EXPECT_THAT(t.error, HasSubstr("out of memory on cpu (its memory was released): CUDA out of memory"));
      EXPECT_THAT(t.error, HasSubstr("injected for trial 2"));
    } else {
      EXPECT_EQ(t.state, study::TrialState::complete);
    }
  }
  EXPECT_EQ(j["trials"]["failed"], 1);
  EXPECT_TRUE(std::filesystem::exists(dir / "run/best_model.pt"));
}

// Trials spread over several devices: each starts on the one with the fewest running.
TEST(DeviceSlots, SpreadTrialsOverTheDevices) {
  commands::DeviceSlots slots(2);
  EXPECT_EQ(slots.acquire(), 0u);
  EXPECT_EQ(slots.acquire(), 1u);
  EXPECT_EQ(slots.acquire(), 0u);
  EXPECT_EQ(slots.acquire(), 1u);
  EXPECT_EQ(slots.running(), (std::vector<std::size_t>{2, 2}));
  slots.release(1);
  slots.release(1);
  EXPECT_EQ(slots.acquire(), 1u);
  slots.release(0);
  slots.release(0);
  EXPECT_EQ(slots.acquire(), 0u);
  EXPECT_EQ(slots.running(), (std::vector<std::size_t>{1, 1}));
  slots.release(0);
  slots.release(0); // one too many: ignored
  EXPECT_EQ(slots.running(), (std::vector<std::size_t>{0, 1}));
  commands::DeviceSlots one(1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(one.acquire(), 0u);
  EXPECT_THROW(commands::DeviceSlots(0), Error);
}

// The export keeps time for the best models' evaluations, not for the slowest network of the search.
// The anytime budget (hpo::early_budget_in_epochs) goes into the search's options; a study that exists keeps the
// one it was created with, so that a study an earlier version started (one epoch then) resumes.
TEST(SearchSteps, TheAnytimeBudgetIsTheRungAboveOneEpochAndAStudyKeepsItsOwn) {
  commands::SearchOptions o;
  o.optimizer = "bohb";
  config::RunConfig run;
  run.budget.budget_type = config::BudgetType::epochs;
  run.budget.min_budget = 1.0 / 3;
  run.budget.max_budget = 9;
  run.budget.eta = 3;
  const core::Parallelism parallel;
  const auto early = [&](const std::optional<nlohmann::json>& stored) {
    return commands::steps::exec_options(o, run, "s", parallel, stored).optimizer_options.hyperband.early_budget;
  };
  EXPECT_DOUBLE_EQ(early(std::nullopt), 3.0);
  EXPECT_DOUBLE_EQ(early(nlohmann::json{{"eta", 3}, {"early_budget", 1.0}}), 1.0);
  EXPECT_DOUBLE_EQ(early(nlohmann::json{{"eta", 3}, {"early_budget", 0.0}}), 0.0);
  EXPECT_DOUBLE_EQ(early(nlohmann::json{{"eta", 3}}), 3.0); // not recorded: as planned now
  o.optimizer = "random";
  EXPECT_DOUBLE_EQ(early(std::nullopt), 0.0);
  o.optimizer = "bohb";
  run.budget.budget_type = config::BudgetType::time;
  EXPECT_DOUBLE_EQ(early(std::nullopt), 0.0);
}

// budget.portfolio_to_largest_rung: the portfolio's entries go on early (hpo::HyperbandOptions::early_portfolio);
// a study that exists keeps what it recorded (nothing recorded: none, as it was created).
TEST(SearchSteps, PortfolioEntriesGoOnEarlyWhenTheRunSaysSo) {
  commands::SearchOptions o;
  o.optimizer = "bohb";
  config::RunConfig run;
  const core::Parallelism parallel;
  const auto early = [&](const std::optional<nlohmann::json>& stored) {
    return commands::steps::exec_options(o, run, "s", parallel, stored, 2).optimizer_options.hyperband.early_portfolio;
  };
  EXPECT_EQ(early(std::nullopt), 0u);
  run.budget.portfolio_to_largest_rung = true;
  EXPECT_EQ(early(std::nullopt), 2u);
  EXPECT_EQ(early(nlohmann::json{{"eta", 3}}), 0u);
  EXPECT_EQ(early(nlohmann::json{{"eta", 3}, {"early_portfolio", 1}}), 1u);
  run.budget.portfolio_to_largest_rung = false;
  EXPECT_EQ(early(nlohmann::json{{"eta", 3}, {"early_portfolio", 1}}), 1u);
  run.budget.portfolio_to_largest_rung = true;
  o.optimizer = "random"; // no rungs to go up
  EXPECT_EQ(early(std::nullopt), 0u);
}

TEST(EvalPace, TheExportsTimeIsForTheSlowestOfTheBestModels) {
  commands::steps::EvalPace pace;
  pace.observe(1.0, 1000); // the pace probe's: 1 ms a sample
  EXPECT_DOUBLE_EQ(pace.model_seconds_for(10000), 10.0); // no model yet: the slowest seen
  pace.observe(10.0, 1000, 1); // a giant: 10 ms a sample, and a poor model
  pace.model(1, 1, 0.5);
  for (std::int64_t t = 2; t <= 5; ++t) {
    pace.observe(0.2, 1000, t);
    pace.observe(0.1 * static_cast<double>(t), 1000, t); // its slowest pass counts
    pace.model(t, 3, 0.1 / static_cast<double>(t));
  }
  EXPECT_DOUBLE_EQ(pace.seconds_for(10000), 100.0);
  EXPECT_DOUBLE_EQ(pace.model_seconds_for(10000), 5.0); // trials 5, 4, 3, 2 on the larger budget: trial 5's pace
  pace.model(6, 3, 0.9); // a fifth on that budget, slower but worse than the four: not counted
  pace.observe(2.0, 1000, 6);
  EXPECT_DOUBLE_EQ(pace.model_seconds_for(10000), 5.0);
  pace.model(7, 9, 0.2); // a model on a larger budget goes first
  pace.observe(3.0, 1000, 7);
  EXPECT_DOUBLE_EQ(pace.model_seconds_for(10000), 30.0);
  pace.model(8, 9, std::nan("")); // not a model
  pace.observe(-1, 1000, 9);      // not a measurement
  EXPECT_DOUBLE_EQ(pace.model_seconds_for(10000), 30.0);
}

// A study database that another process keeps locked is waited for a share of the budget, not a minute.
TEST(SearchCommand, ALockedDatabaseFailsWithinAShareOfTheBudget) {
  TempDir dir;
  test::write_search_files(dir.path());
  std::filesystem::create_directories(dir / "db");
  const auto db = (dir / "db/study.db").string();
  { study::open_storage("sqlite:///" + db); } // the schema exists
  sqlite3* holder = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &holder), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(holder, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto o = small_search(dir);
  o.budget = 10; // 5%: 1 s per operation (the default wait is 60 s)
  o.storage = "sqlite:///" + db;
  const auto start = std::chrono::steady_clock::now();
  try {
    std::ostringstream out;
    commands::search(o, out);
    ADD_FAILURE() << "searched a locked database";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("locked"));
    EXPECT_EQ(e.code(), ExitCode::failure);
  }
  // Generous for a loaded machine, far below the 60 s a single default wait would take.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 30.0);
  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);
}

TEST(SearchCommand, AStorageInAMissingDirectoryIsAnError) {
  TempDir dir;
  test::write_search_files(dir.path());
  auto o = small_search(dir);
  o.storage = "sqlite:///" + (dir / "no-such-dir/study.db").string();
  test::expect_input_error([&] {
    std::ostringstream out;
    commands::search(o, out);
  }, {"no such directory", "no-such-dir", "sqlite:////PATH absolute"});
  EXPECT_FALSE(std::filesystem::exists(dir / "no-such-dir"));
}

TEST(SearchCommand, ASmallestStepThatCannotFinishSaysWhatWouldFit) {
  TempDir dir;
  test::write_search_files(dir.path());
  auto o = small_search(dir);
  o.budget = 4;
  o.budget_type = "time";
  o.min_budget = 100; // seconds per trial, as Auto-PyTorch's budget_type time
  o.max_budget = 300;
  try {
    std::ostringstream out;
    commands::search(o, out);
    FAIL() << "the search ran";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::failure);
    EXPECT_THAT(e.what(), HasSubstr("search: no trial can finish within --budget 4: the smallest trial (100 s) takes about"));
    EXPECT_THAT(e.what(), HasSubstr("s more of --budget, or --min-budget"));
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "run/best_model.pt"));
}

TEST(SearchCommand, TimeBudgetsPromoteByContinuingAndResume) {
  TempDir dir;
  test::write_search_files(dir.path());
  auto o = small_search(dir);
  o.budget = 30;
  o.budget_type = "time";
  o.min_budget = 0.15; // seconds of training per trial
  o.max_budget = 0.45;
  o.iterations = 1; // bracket s=1: three configurations for 0.15 s, the best goes on to 0.45 s
  const auto first = run_json(o);
  EXPECT_EQ(first["trials"]["complete"], 4);
  const auto effective = read_json(dir / "run/effective_config.json");
  EXPECT_EQ(effective["run"]["budget"]["budget_type"], "time");
  EXPECT_DOUBLE_EQ(effective["fidelity"]["min_budget"].get<double>(), 0.15); // flags are kept
  EXPECT_DOUBLE_EQ(effective["fidelity"]["max_budget"].get<double>(), 0.45);

  const auto check_promotions = [&](std::size_t expected_trials) {
    const auto trials = stored_trials(dir);
    ASSERT_EQ(trials.size(), expected_trials);
    int promoted = 0;
    for (const auto& t : trials) {
      EXPECT_EQ(t.state, study::TrialState::complete) << t.id;
      ASSERT_TRUE(t.finished_at.has_value());
      if (!t.parent_id) {
        EXPECT_GE(*t.finished_at - t.started_at, t.budget) << t.id; // trained for its seconds
        continue;
      }
      ++promoted;
      const auto parent = std::find_if(trials.begin(), trials.end(), [&](const auto& p) { return p.id == *t.parent_id; });
      ASSERT_NE(parent, trials.end());
      EXPECT_EQ(t.config, parent->config);
      EXPECT_DOUBLE_EQ(t.budget, 0.45);
      // It continued from its parent's checkpoint: its epochs go on from where the parent stopped, and it trained
      // only the increment of seconds.
      ASSERT_FALSE(t.metrics.empty());
      ASSERT_FALSE(parent->metrics.empty());
      EXPECT_GT(t.metrics.front().step, parent->metrics.back().step);
      EXPECT_GE(*t.finished_at - t.started_at, t.budget - parent->budget - 0.05) << t.id;
    }
    EXPECT_EQ(promoted, 1);
  };
  check_promotions(4);

  // Resumed with one more iteration (bracket s=0: two configurations for 0.45 s), the budgets as stored.
  o.resume = true;
  o.iterations = 2;
  o.min_budget.reset();
  o.max_budget.reset();
  const auto resumed = run_json(o);
  EXPECT_EQ(resumed["trials_run"], 2);
  EXPECT_EQ(resumed["resumed"], true);
  EXPECT_EQ(read_json(dir / "run/effective_config.json")["fidelity"]["resumed"], true);
  check_promotions(6);
}

TEST(SearchCommand, RecordsTheCoresAndTheMeasuredPace) {
  TempDir dir;
  test::write_search_files(dir.path());
  auto o = small_search(dir);
  o.threads = 0;
  o.workers.reset();
  o.min_budget.reset(); // the space's rungs (1-27 epochs), sized to the time
  o.max_budget.reset();
  o.iterations = 1;
  o.budget = 20;
  const auto j = run_json(o);
  const auto effective = read_json(dir / "run/effective_config.json");
  const auto& cpus = effective["cpus"];
  EXPECT_GE(cpus["workers"].get<int>(), 1);
  EXPECT_GE(cpus["threads"].get<int>(), 1);
  EXPECT_EQ(j["workers"], cpus["workers"]);
  EXPECT_THAT(cpus["reason"].get<std::string>(), HasSubstr("free;"));
  const auto& fidelity = effective["fidelity"];
  EXPECT_GT(fidelity["measured"]["default"]["epoch_s"].get<double>(), 0.0);
  EXPECT_GT(fidelity["measured"]["samples_trained"].get<int>(), 0);
  EXPECT_DOUBLE_EQ(fidelity["min_budget"].get<double>(), effective["run"]["budget"]["min_budget"].get<double>());
  EXPECT_DOUBLE_EQ(fidelity["max_budget"].get<double>(), effective["run"]["budget"]["max_budget"].get<double>());
  // The preset's rungs scaled to the time: shrunk on a slow machine, or grown by powers of eta on a fast one (an
  // epoch of these 216 rows is a couple of optimizer steps), the preset's ratio kept.
  const double max_budget = fidelity["max_budget"].get<double>();
  if (max_budget > 27.0) {
    EXPECT_THAT(fidelity["reason"].get<std::string>(), HasSubstr("grown: an epoch is 216 samples"));
    EXPECT_NEAR(max_budget / fidelity["min_budget"].get<double>(), 27.0, 1e-9);
    const double powers = std::log(max_budget / 27.0) / std::log(3.0);
    EXPECT_NEAR(powers, std::round(powers), 1e-9);
  }
  EXPECT_GT(j["trials"]["complete"].get<int>(), 0);
}

TEST(SearchCommand, TrialsBelowAnEpochAreValidatedOnAStratifiedSubset) {
  // 10000 rows, 25% validation (2500), rungs 1/3 and 1 epoch: the 1/3-epoch trials are scored on a subset of
  // k_min_validation_samples (2000), the 1-epoch trial on all 2500.
  TempDir dir;
  test::write_search_files(dir.path(), 10000, 120);
  auto o = small_search(dir);
  o.validation_split = 0.25;
  o.min_budget = 1.0 / 3;
  o.max_budget = 1;
  o.iterations = 1;
  run_json(o);
  const auto integral = [](double x) { return std::abs(x - std::round(x)) < 1e-6; };
  int subset_only = 0;
  for (const auto& t : stored_trials(dir)) {
    ASSERT_TRUE(t.loss.has_value());
    const double accuracy = 1 - *t.loss;
    if (t.budget < 1) {
      EXPECT_TRUE(integral(accuracy * 2000)) << accuracy;
      if (!integral(accuracy * 2500)) ++subset_only;
    } else {
      EXPECT_TRUE(integral(accuracy * 2500)) << accuracy;
    }
  }
  EXPECT_GT(subset_only, 0); // a count out of 2000 that is not one out of 2500
}

// A space file's portfolio is tried right after the default, in order; --no-portfolio leaves it out; a resumed
// study keeps the initial configurations it started with.
TEST(SearchCommand, ThePortfolioGoesFirstAfterTheDefault) {
  TempDir dir;
  test::write_search_files(dir.path());
  test::write_file(dir / "space.yaml", test::read_file(dir / "space.yaml") +
                                           "portfolio:\n"
                                           "  - network:mlpnet:num_units_1: 31\n"
                                           "  - optimizer:adam:lr: 0.0021\n"
                                           "    network:mlpnet:num_units_1: 5\n");
  const auto first_configs = [&](const std::string& out, bool portfolio) {
    auto o = small_search(dir);
    o.out = (dir / out).string();
    o.portfolio = portfolio;
    const auto j = run_json(o);
    auto storage = study::open_storage("sqlite:///" + (dir / out / "study.db").string());
    std::vector<nlohmann::json> configs;
    for (const auto& t : storage->trials(storage->studies().at(0).id))
      if (t.rung == 0 && t.iteration == 0) configs.push_back(nlohmann::json::parse(t.config));
    return configs;
  };
  const auto with = first_configs("with", true);
  ASSERT_EQ(with.size(), 3u); // iteration 0 holds three new configurations
  EXPECT_EQ(with[1]["network:mlpnet:num_units_1"], 31);
  EXPECT_EQ(with[1]["optimizer:adam:lr"], with[0]["optimizer:adam:lr"]); // the rest from the defaults
  EXPECT_EQ(with[2]["network:mlpnet:num_units_1"], 5);
  EXPECT_NEAR(with[2]["optimizer:adam:lr"].get<double>(), 0.0021, 1e-12);
  const auto without = first_configs("without", false);
  ASSERT_EQ(without.size(), 3u);
  EXPECT_EQ(without[0], with[0]);
  EXPECT_NE(without[1], with[1]);

  auto o = small_search(dir);
  o.out = (dir / "with").string();
  o.resume = true;
  o.portfolio = false;
  o.iterations = 3;
  run_json(o);
  const auto effective = read_json(dir / "with/effective_config.json");
  EXPECT_TRUE(effective["fidelity"]["resumed"].get<bool>());
  auto storage = study::open_storage("sqlite:///" + (dir / "with/study.db").string());
  const auto study = storage->studies().at(0);
  EXPECT_EQ(study.settings["initial_configs"].size(), 3u);
  EXPECT_GT(storage->trials(study.id).size(), 6u); // the third iteration ran
}

// budget.portfolio_to_largest_rung: each portfolio entry goes on to the largest rung as soon as it has finished its
// first (one worker: slot 1's job at 3 epochs comes before slot 2 starts); the study records it, and a resume keeps
// it. Without the setting, the first rung fills first.
TEST(SearchCommand, APortfolioEntryGoesOnToTheLargestRungEarlyWhenTheSpaceSaysSo) {
  TempDir dir;
  test::write_search_files(dir.path());
  const std::string portfolio = "portfolio:\n"
                                "  - network:mlpnet:num_units_1: 31\n"
                                "  - network:mlpnet:num_units_1: 5\n";
  const auto third_trial = [&](const std::string& out) {
    auto o = small_search(dir);
    o.out = (dir / out).string();
    o.iterations = 1;
    o.workers = 1; // the order of the trials is the planner's alone
    run_json(o);
    auto storage = study::open_storage("sqlite:///" + (dir / out / "study.db").string());
    const auto study = storage->studies().at(0);
    auto trials = storage->trials(study.id);
    std::sort(trials.begin(), trials.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return std::make_pair(study.settings, trials.at(2));
  };
  const auto space = test::read_file(dir / "space.yaml");
  test::write_file(dir / "space.yaml", space + portfolio);
  const auto [plain_settings, plain] = third_trial("plain");
  EXPECT_FALSE(plain_settings.contains("early_portfolio"));
  EXPECT_EQ(plain.rung, 0u);
  EXPECT_EQ(plain.slot, 2u);

  test::write_file(dir / "space.yaml", space + portfolio + "budget:\n  portfolio_to_largest_rung: true\n");
  const auto [settings, early] = third_trial("early");
  EXPECT_EQ(settings.at("early_portfolio"), 2);
  EXPECT_EQ(early.iteration, 0u);
  EXPECT_EQ(early.rung, 1u);
  EXPECT_EQ(early.slot, 1u);
  EXPECT_EQ(early.budget, 3.0);

  // The study keeps what it was created with: a resume without the setting goes on as before, not refused.
  test::write_file(dir / "space.yaml", space + portfolio);
  auto o = small_search(dir);
  o.out = (dir / "early").string();
  o.resume = true;
  o.iterations = 2;
  run_json(o);
  auto storage = study::open_storage("sqlite:///" + (dir / "early/study.db").string());
  EXPECT_EQ(storage->studies().at(0).settings.at("early_portfolio"), 2);
}

// A search whose study lives in PostgreSQL: the same trials as on SQLite, `show --storage` reads them, and a
// resume continues the study.
TEST(SearchCommand, APostgresqlStorageHoldsTheStudy) {
  TempDir dir;
  test::write_search_files(dir.path());
  test::PostgresSchema schema;
  auto o = small_search(dir);
  o.optimizer = "hyperband";
  o.storage = schema.url();
  const auto j = run_json(o);
  EXPECT_EQ(j["trials"]["complete"], 6);
  EXPECT_TRUE(std::filesystem::exists(dir / "run/best_model.pt"));
  EXPECT_FALSE(std::filesystem::exists(dir / "run/study.db"));
  auto on_sqlite = small_search(dir);
  on_sqlite.optimizer = "hyperband";
  on_sqlite.out = (dir / "sqlite").string();
  run_json(on_sqlite);
  const auto rows = [](study::Storage& storage) {
    std::vector<std::tuple<std::string, double, std::uint64_t>> r;
    for (const auto& t : storage.trials(storage.studies().at(0).id)) r.emplace_back(t.config, t.budget, t.seed);
    std::sort(r.begin(), r.end()); // with two workers the ids follow claim timing; the jobs do not
    return r;
  };
  auto pg = study::open_storage(schema.url());
  auto lite = study::open_storage("sqlite:///" + (dir / "sqlite/study.db").string());
  EXPECT_EQ(rows(*pg), rows(*lite));

  commands::ShowOptions show;
  show.storage = schema.url();
  show.json = true;
  std::ostringstream out;
  EXPECT_EQ(commands::show(show, out), 0);
  EXPECT_EQ(nlohmann::json::parse(out.str())["trials"]["total"], 6);

  o.resume = true;
  o.iterations = 3;
  run_json(o);
  EXPECT_GT(pg->trials(pg->studies().at(0).id).size(), 6u);
}
