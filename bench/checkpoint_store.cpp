// What storing checkpoints in the study's database costs (exec/checkpoints.hpp): real tiny_cs checkpoints
// (Trainer::save_checkpoint after one epoch on MNIST-shaped data, so that the optimizer's momentum is in them),
// packed, written with set_checkpoint and read back with checkpoint_archive, in each storage given; one trial
// per repetition, as a search writes them. Also timed: a write of the reference alone (what it cost before),
// unpacking, and the comparison a worker makes when the parent's directory is on its machine (packing it again).
// Writes one JSON file; see bench/README.md.
//
// Usage: checkpoint_store --storage URL [--storage URL ...] [--reps N] [--dir DIR] [--out FILE] [--commit REV]
//   --dir: where the checkpoints are written and unpacked, in a folder of their own (default: the system's temp dir)

#include "config/preset.hpp"
#include "core/error.hpp"
#include "data/split.hpp"
#include "exec/checkpoints.hpp"
#include "study/checkpoint_archive.hpp"
#include "study/storage.hpp"
#include "train/trainer.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// MNIST's shape: what tiny_cs is searched on (flattened), so that the SVD projection has its real size.
constexpr std::int64_t k_features = 784;
constexpr std::int64_t k_classes = 10;
constexpr std::int64_t k_samples = 1000;

automl::data::Dataset mnist_shaped() {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  automl::data::Dataset d;
  d.labels = torch::arange(k_samples, torch::kInt64).remainder(k_classes);
  d.features = torch::rand({k_samples, k_features}, gen).mul(255).contiguous();
  d.schema.sample_shape = {k_features};
  for (std::int64_t c = 0; c < k_classes; ++c)
    d.schema.class_names.push_back(std::to_string(c));
  d.origin = "random, MNIST-shaped";
  return d;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

nlohmann::json stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {{"median_ms", v[v.size() / 2]}, {"min_ms", v.front()}, {"max_ms", v.back()}};
}

std::uintmax_t size_of(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

// The server's version and the settings that decide what a commit costs (a throwaway test server runs without
// fsync; a real one with it).
nlohmann::json postgres_facts(const std::string& url) {
  PGconn* conn = PQconnectdb(url.c_str());
  nlohmann::json facts = nlohmann::json::object();
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult* r = PQexec(conn, "SELECT version(), current_setting('fsync'), current_setting('synchronous_commit'), "
                               "current_setting('full_page_writes')");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
      facts = {{"version", PQgetvalue(r, 0, 0)},
               {"fsync", PQgetvalue(r, 0, 1)},
               {"synchronous_commit", PQgetvalue(r, 0, 2)},
               {"full_page_writes", PQgetvalue(r, 0, 3)}};
    PQclear(r);
  }
  PQfinish(conn);
  return facts;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

struct Checkpoint {
  std::string name;
  nlohmann::json config;
  fs::path dir;
  nlohmann::json files = nlohmann::json::object();
  std::uintmax_t bytes = 0;
};

// One epoch of training, then the checkpoint a search trial would leave.
Checkpoint make_checkpoint(const std::string& name, const automl::space::Config& config,
                           const automl::data::TrainValidation& data, const fs::path& dir) {
  Checkpoint c;
  c.name = name;
  c.config = automl::space::to_json(config);
  c.dir = dir / name;
  automl::train::Trainer trainer(automl::core::Hyperparameters(c.config), data.train, data.validation, 1);
  trainer.train({1, 0});
  trainer.save_checkpoint(c.dir);
  for (const auto& e : fs::directory_iterator(c.dir)) {
    c.files[e.path().filename().string()] = e.file_size();
    c.bytes += e.file_size();
  }
  return c;
}

nlohmann::json measure(automl::study::Storage& storage, const std::string& url,
                       const std::vector<Checkpoint>& checkpoints, int reps, const fs::path& dir) {
  namespace study = automl::study;
  study::StudySpec spec;
  spec.name =
      fmt::format("checkpoint-store-{}-{}", ::getpid(), std::chrono::system_clock::now().time_since_epoch().count());
  spec.space_fingerprint = "bench";
  const auto study_id = storage.open_study(spec).id;
  std::size_t slot = 0;
  const auto new_trial = [&] {
    return storage
        .claim(
            study_id,
            [&](const std::vector<study::Trial>&) {
              study::ClaimDecision d;
              d.kind = study::ClaimDecision::Kind::insert;
              d.trial.slot = slot++;
              d.trial.budget = 1;
              d.trial.cost = 1;
              d.trial.config = "{}";
              return d;
            },
            "bench", 0.0, 600.0)
        ->id;
  };
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : checkpoints) {
    std::vector<double> pack, put, put_reference, get, unpack, local_check;
    for (int rep = 0; rep < reps; ++rep) {
      auto start = Clock::now();
      const auto archive = automl::exec::checkpoint_archive_for(c.dir.string());
      pack.push_back(ms_since(start));
      if (!archive) throw automl::Error(fmt::format("{}: no archive made", c.dir.string()));

      const auto reference_only = new_trial();
      start = Clock::now();
      storage.set_checkpoint(reference_only, 1, 1.0, c.dir.string(), std::nullopt);
      put_reference.push_back(ms_since(start));

      const auto trial = new_trial();
      start = Clock::now();
      storage.set_checkpoint(trial, 1, 1.0, c.dir.string(), *archive);
      put.push_back(ms_since(start));

      start = Clock::now();
      const auto read = storage.checkpoint_archive(trial);
      get.push_back(ms_since(start));
      if (!read || *read != *archive)
        throw automl::Error(fmt::format("{}: the archive did not come back as written", url));

      start = Clock::now();
      study::unpack_checkpoint(*read, dir / "unpacked");
      unpack.push_back(ms_since(start));

      // What a worker does for a parent whose directory it has: read the stored archive, pack the directory, compare.
      start = Clock::now();
      const auto local = automl::exec::local_checkpoint(storage, trial, (dir / "fetched").string());
      local_check.push_back(ms_since(start));
      if (!local || local->fetched())
        throw automl::Error("the local directory was not recognised as the stored checkpoint");
    }
    out.push_back({{"checkpoint", c.name},
                   {"archive_bytes", automl::study::pack_checkpoint(c.dir).size()},
                   {"pack", stats(pack)},
                   {"put_reference_only", stats(put_reference)},
                   {"put_with_archive", stats(put)},
                   {"get_archive", stats(get)},
                   {"unpack", stats(unpack)},
                   {"local_check", stats(local_check)}});
    std::cerr << fmt::format("{} {}: put {:.1f} ms (reference only {:.2f} ms), get {:.1f} ms\n", url, c.name,
                             out.back()["put_with_archive"]["median_ms"].get<double>(),
                             out.back()["put_reference_only"]["median_ms"].get<double>(),
                             out.back()["get_archive"]["median_ms"].get<double>());
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  return automl::run_reporting_errors("checkpoint_store", [&] {
    std::vector<std::string> urls;
    int reps = 10;
    std::string out_path = "checkpoint_store.json";
    fs::path dir;
    std::string commit;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      const auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw automl::InputError(a + ": needs a value");
        return argv[++i];
      };
      if (a == "--storage")
        urls.push_back(value());
      else if (a == "--reps")
        reps = std::stoi(value());
      else if (a == "--out")
        out_path = value();
      else if (a == "--dir")
        dir = value();
      else if (a == "--commit")
        commit = value();
      else
        throw automl::InputError("unknown argument " + a);
    }
    if (urls.empty() || reps < 1)
      throw automl::InputError(
          "usage: checkpoint_store --storage URL [--storage URL ...] [--reps N] [--dir DIR] [--out FILE]");
    // A folder of its own under --dir (removed at the end), so that nothing of the caller's is touched.
    dir = (dir.empty() ? fs::temp_directory_path() : dir) / fmt::format("checkpoint-store-{}", ::getpid());
    fs::create_directories(dir);
    torch::set_num_threads(1);

    // tiny_cs's default configuration and its portfolio (the deep, wide networks it tries first).
    automl::config::LoadOptions load;
    load.preset = "tiny_cs";
    const auto setup = automl::config::load_setup(load);
    const auto data = automl::data::split_train_validation(mnist_shaped(), 0.3, 1);
    std::vector<Checkpoint> checkpoints;
    checkpoints.push_back(make_checkpoint("tiny_cs_default", setup.space.default_config(), data, dir));
    for (std::size_t i = 0; i < setup.portfolio.size(); ++i)
      checkpoints.push_back(make_checkpoint(fmt::format("tiny_cs_portfolio_{}", i + 1), setup.portfolio[i], data, dir));

    nlohmann::json result{{"machine", {{"nproc", std::thread::hardware_concurrency()}, {"cpu_model", cpu_model()}}},
                          {"commit", commit},
                          {"reps", reps},
                          {"checkpoints", nlohmann::json::array()},
                          {"storages", nlohmann::json::array()}};
    for (const auto& c : checkpoints)
      result["checkpoints"].push_back({{"name", c.name}, {"config", c.config}, {"files", c.files}, {"bytes", c.bytes}});
    for (const auto& url : urls) {
      const auto storage = automl::study::open_storage(url);
      nlohmann::json entry{{"url", url}, {"results", measure(*storage, url, checkpoints, reps, dir)}};
      if (url.rfind("sqlite:///", 0) == 0) {
        const std::string path = url.substr(std::string("sqlite:///").size());
        entry["sqlite_version"] = sqlite3_libversion();
        // After every repetition's trials: what the archives add to a study's file.
        std::uintmax_t written = 0;
        for (const auto& r : entry["results"])
          written += r["archive_bytes"].get<std::uintmax_t>() * static_cast<std::uintmax_t>(reps);
        entry["archive_bytes_written"] = written;
        entry["database_bytes"] = size_of(path) + size_of(path + "-wal");
      } else {
        entry["server"] = postgres_facts(url);
      }
      result["storages"].push_back(entry);
    }
    std::ofstream(out_path) << result.dump(2) << "\n";
    fs::remove_all(dir);
    return 0;
  });
}
