#include "export/trial_logs.hpp"
#include "support/test_files.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>
#include <sstream>

using automl::study::Trial;
using automl::study::TrialState;

namespace {

std::vector<Trial> sample_trials() {
  Trial a;
  a.id = 1;
  a.iteration = 0;
  a.bracket = 2;
  a.rung = 0;
  a.slot = 3;
  a.budget = 1;
  a.config = R"({"lr": 0.01, "optimizer": "adam"})";
  a.info = R"({"model_based_pick": false})";
  a.state = TrialState::complete;
  a.loss = 0.25;
  a.metrics = {{1, 0.25}};
  a.submitted_at = 1000.0;
  a.started_at = 1000.5;
  a.finished_at = 1002.0;
  a.worker = "host:1:2:3#w0";
  a.seed = 9;
  Trial b = a;
  b.id = 2;
  b.rung = 1;
  b.budget = 3;
  b.parent_id = 1;
  b.state = TrialState::fail;
  b.loss.reset();
  b.metrics.clear();
  b.error = "CUDA out of memory, \"really\"";
  b.submitted_at = 1003.0;
  b.started_at = 1003.0;
  b.finished_at = 1004.0;
  Trial c = a;
  c.id = 3;
  c.slot = 4;
  c.config = R"({"lr": 0.1, "layers": 2})";
  c.state = TrialState::running;
  c.loss.reset();
  c.finished_at.reset();
  return {a, b, c};
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> result;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) result.push_back(line);
  return result;
}

} // namespace

TEST(TrialLogs, TrialsCsvHasOneRowPerTrialAndAColumnPerParameter) {
  const auto rows = lines(automl::export_::trials_csv(sample_trials()));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], "trial_id,config_id,iteration,bracket,rung,slot,budget,state,loss,attempts,worker,seed,"
                     "submitted_at,started_at,finished_at,duration_s,metrics,error,lr,optimizer,layers");
  EXPECT_EQ(rows[1], "1,\"[0, 0, 3]\",0,2,0,3,1,COMPLETE,0.25,1,host:1:2:3#w0,9,1000,1000.5,1002,1.5,\"[[1.0,0.25]]\",,"
                     "0.01,adam,");
  EXPECT_EQ(rows[2], "2,\"[0, 0, 3]\",0,2,1,3,3,FAIL,,1,host:1:2:3#w0,9,1003,1003,1004,1,[],"
                     "\"CUDA out of memory, \"\"really\"\"\",0.01,adam,");
  EXPECT_EQ(rows[3], "3,\"[0, 0, 4]\",0,2,0,4,1,RUNNING,,1,host:1:2:3#w0,9,1000,1000.5,,,\"[[1.0,0.25]]\",,0.1,,2");
}

TEST(TrialLogs, HpBandSterJsonLines) {
  const auto configs = lines(automl::export_::configs_json_lines(sample_trials()));
  ASSERT_EQ(configs.size(), 2u); // rung-0 trials only
  EXPECT_EQ(nlohmann::json::parse(configs[0]),
            nlohmann::json::parse(R"([[0,0,3], {"lr":0.01,"optimizer":"adam"}, {"model_based_pick":false}])"));
  const auto results = lines(automl::export_::results_json_lines(sample_trials()));
  ASSERT_EQ(results.size(), 2u); // the running trial has no result yet
  EXPECT_EQ(nlohmann::json::parse(results[0]),
            nlohmann::json::parse(R"([[0,0,3], 1.0, {"submitted":0.0,"started":0.5,"finished":2.0},
                                      {"loss":0.25,"info":{"trial_id":1,"state":"COMPLETE","metrics":[[1.0,0.25]]}}, null])"));
  EXPECT_EQ(nlohmann::json::parse(results[1]),
            nlohmann::json::parse(R"([[0,0,3], 3.0, {"submitted":3.0,"started":3.0,"finished":4.0}, null,
                                      "CUDA out of memory, \"really\""])"));
}

TEST(TrialLogs, WritesTheThreeFiles) {
  automl::test::TempDir dir;
  automl::export_::write_trial_logs(dir / "logs", sample_trials());
  for (const char* name : {"trials.csv", "configs.json", "results.json"})
    EXPECT_FALSE(automl::test::read_file(dir / "logs" / name).empty()) << name;
}

// A hyperparameter named like a fixed column (every preset has `loss`) gets its own name: csv.DictReader keeps
// one column of a name, and the metric was lost.
TEST(TrialLogs, AHyperparameterNamedLikeAColumnIsConfigColon) {
  auto trials = sample_trials();
  trials[0].config = R"({"loss": "cross_entropy", "lr": 0.01})";
  const auto rows = lines(automl::export_::trials_csv(trials));
  EXPECT_NE(rows[0].find(",error,config:loss,lr"), std::string::npos) << rows[0];
  EXPECT_EQ(rows[0].find(",loss,"), rows[0].rfind(",loss,")) << "one column named loss: " << rows[0];
}

// A seed replica (slot 1,000,000 and up, on its incumbent's rung) has its entry in configs.json: HpBandSter's
// loader looks every config id of results.json up there.
TEST(TrialLogs, EveryConfigIdInResultsHasAConfigEntry) {
  auto trials = sample_trials();
  auto replica = trials[0];
  replica.id = 4;
  replica.rung = 1;
  replica.budget = 3;
  replica.slot = 1000000;
  replica.info = R"({"replica_of": 1})";
  trials.push_back(replica);
  std::set<std::string> configs, results;
  for (const auto& l : lines(automl::export_::configs_json_lines(trials))) configs.insert(nlohmann::json::parse(l)[0].dump());
  for (const auto& l : lines(automl::export_::results_json_lines(trials))) results.insert(nlohmann::json::parse(l)[0].dump());
  EXPECT_EQ(configs, (std::set<std::string>{"[0,0,3]", "[0,0,4]", "[0,0,1000000]"}));
  for (const auto& id : results) EXPECT_TRUE(configs.count(id)) << id;
}
