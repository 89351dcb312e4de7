#include "export/model_file.hpp"

#include "core/error.hpp"
#include "core/files.hpp"

#include <fmt/format.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <ctime>
#include <functional>

namespace automl::export_ {

namespace {

const char* const k_config = "automl/config.json";
const char* const k_schema = "automl/schema.json";
const char* const k_architecture = "automl/architecture.txt";
const char* const k_versions = "automl/versions.json";
const char* const k_training = "automl/training.json";
const char* const k_ensemble = "automl/ensemble.json";

// The largest sample (in values) a model file may declare: 2^24 (a 4096 x 4096 image); a larger one is a damaged
// or hostile schema, not a model this tool wrote.
constexpr std::int64_t k_max_sample_features = std::int64_t{1} << 24;
// Largest tolerated difference between the saved-and-reloaded model and the one in memory.
constexpr double k_max_abs_difference = 1e-5;

std::string utc_now() {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

// A model's schema and network must agree: one logit per class name, for one sample of the schema's shape.
// (A file whose schema lists fewer names than the network's outputs made `predict` read past its tensors.)
void check_output_width(LoadedModel& m, const std::filesystem::path& path) {
  const auto& shape = m.info.schema.sample_shape;
  std::int64_t features = 1;
  for (const auto d : shape) {
    if (d < 1 || d > k_max_sample_features || features > k_max_sample_features / d)
      throw InputError(fmt::format("{}: {}: sample_shape {} is not a sample shape automl writes", path.string(), k_schema,
                                   nlohmann::json(shape).dump()));
    features *= d;
  }
  if (m.info.schema.num_classes() < 2)
    throw InputError(fmt::format("{}: {}: needs at least 2 class names, got {}", path.string(), k_schema,
                                 m.info.schema.num_classes()));
  std::vector<std::int64_t> input_shape{1};
  input_shape.insert(input_shape.end(), shape.begin(), shape.end());
  torch::NoGradGuard no_grad;
  torch::Tensor logits;
  try {
    logits = m.module.forward({torch::zeros(input_shape)}).toTensor();
  } catch (const c10::Error& e) {
    throw InputError(fmt::format("{}: the model does not run on one sample of its own schema's shape {}: {}",
                                 path.string(), nlohmann::json(shape).dump(), e.what_without_backtrace()));
  }
  if (logits.dim() != 2 || logits.size(0) != 1 || logits.size(1) != m.info.schema.num_classes())
    throw InputError(fmt::format("{}: {} lists {} class names, but the network gives {} outputs per sample",
                                 path.string(), k_schema, m.info.schema.num_classes(),
                                 logits.dim() == 2 ? logits.size(1) : logits.numel()));
}

} // namespace

nlohmann::json to_json(const data::Schema& s) {
  return {{"kind", data::to_string(s.kind)},
          {"sample_shape", s.sample_shape},
          {"class_names", s.class_names},
          {"feature_names", s.feature_names}};
}

namespace {

std::vector<std::string> string_list(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) throw InputError(fmt::format("no '{}'", key));
  if (!it->is_array()) throw InputError(fmt::format("{}: expected a list of strings, got {}", key, it->type_name()));
  std::vector<std::string> out;
  for (const auto& item : *it) {
    if (!item.is_string()) throw InputError(fmt::format("{}: expected a list of strings, found {}", key, item.dump()));
    out.push_back(item.get<std::string>());
  }
  return out;
}

} // namespace

data::Schema schema_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw InputError(fmt::format("expected a JSON object, got {}", j.type_name()));
  data::Schema s;
  const auto kind = j.find("kind");
  if (kind == j.end()) throw InputError("no 'kind'");
  if (*kind == "image") s.kind = data::DataKind::image;
  else if (*kind == "tabular") s.kind = data::DataKind::tabular;
  else throw InputError(fmt::format("kind: expected \"tabular\" or \"image\", got {}", kind->dump()));

  const auto shape = j.find("sample_shape");
  if (shape == j.end()) throw InputError("no 'sample_shape'");
  if (!shape->is_array()) throw InputError(fmt::format("sample_shape: expected a list of integers, got {}", shape->dump()));
  for (const auto& d : *shape) {
    // Integers only: get<int64_t>() would cast a float such as 1e300 with undefined behaviour.
    if (!d.is_number_integer() || (d.is_number_unsigned() && d.get<std::uint64_t>() > std::uint64_t{INT64_MAX}))
      throw InputError(fmt::format("sample_shape: expected a list of integers, found {}", d.dump()));
    s.sample_shape.push_back(d.get<std::int64_t>());
  }
  const std::size_t dims = s.sample_shape.size();
  if (s.kind == data::DataKind::tabular ? dims != 1 : (dims < 2 || dims > 3))
    throw InputError(fmt::format("sample_shape: {} samples have {}, got {}", data::to_string(s.kind),
                                 s.kind == data::DataKind::tabular ? "1 dimension" : "2 (H x W) or 3 (C x H x W) dimensions",
                                 shape->dump()));
  const auto features = data::check_sample_shape(s.sample_shape, "sample_shape");

  s.class_names = string_list(j, "class_names");
  if (s.class_names.empty()) throw InputError("class_names: a model has at least one class");
  s.feature_names = string_list(j, "feature_names");
  if (!s.feature_names.empty() && static_cast<std::int64_t>(s.feature_names.size()) != features)
    throw InputError(fmt::format("feature_names: {} names for {} features", s.feature_names.size(), features));
  return s;
}

ModelInfo parse_model_info(const std::string& file, const torch::jit::ExtraFilesMap& extra) {
  const auto text = [&](const char* name) {
    const auto it = extra.find(name);
    return it == extra.end() ? std::string() : it->second;
  };
  // Parses one extra file as a JSON object (or null where `null_ok`: a model saved without that part);
  // `check` looks at its keys. Errors name the file and the key.
  const auto object = [&](const char* name, bool null_ok, const std::function<void(const nlohmann::json&)>& check) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text(name));
    } catch (const nlohmann::json::exception& e) {
      throw InputError(fmt::format("{}: damaged model metadata: {}: {}", file, name, e.what()));
    }
    try {
      if (null_ok && j.is_null()) return j;
      if (!j.is_object()) throw InputError(fmt::format("expected a JSON object, got {}", j.type_name()));
      check(j);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: damaged model metadata: {}: {}", file, name, e.what()));
    }
    return j;
  };
  // A key the commands read with a type in mind must have that type where present.
  const auto expect = [](const nlohmann::json& j, const char* key, nlohmann::json::value_t type) {
    const auto it = j.find(key);
    if (it == j.end()) return;
    const bool ok = type == nlohmann::json::value_t::number_float ? it->is_number() : it->type() == type;
    if (!ok)
      throw InputError(fmt::format("{}: expected {}, got {}", key, nlohmann::json(type).type_name(), it->dump()));
  };

  ModelInfo info;
  info.config = object(k_config, true, [](const nlohmann::json&) {});
  object(k_schema, false, [&](const nlohmann::json& j) { info.schema = schema_from_json(j); });
  info.architecture = text(k_architecture);
  info.versions = object(k_versions, false, [&](const nlohmann::json& j) {
    expect(j, "automl", nlohmann::json::value_t::string);
    expect(j, "libtorch", nlohmann::json::value_t::string);
  });
  info.training = object(k_training, true, [&](const nlohmann::json& j) { expect(j, "epochs", nlohmann::json::value_t::number_float); });
  if (!text(k_ensemble).empty()) // a single model has none
    info.ensemble = object(k_ensemble, false, [&](const nlohmann::json& j) {
      const auto members = j.find("members");
      if (members == j.end() || !members->is_array() ||
          !std::all_of(members->begin(), members->end(), [](const nlohmann::json& m) { return m.is_object(); }))
        throw InputError("members: expected a list of objects");
    });
  return info;
}

void save_model(torch::jit::Module& module, ModelInfo info, const std::filesystem::path& path,
                const torch::Tensor& check_inputs) {
  torch::NoGradGuard no_grad;
  module.train(false);
  info.versions = {{"automl", AUTOML_VERSION}, {"libtorch", TORCH_VERSION}, {"exported_at", utc_now()}};
  torch::jit::ExtraFilesMap extra{{k_config, info.config.dump(2)},
                                  {k_schema, to_json(info.schema).dump(2)},
                                  {k_architecture, info.architecture},
                                  {k_versions, info.versions.dump(2)},
                                  {k_training, info.training.dump(2)}};
  if (!info.ensemble.is_null()) extra[k_ensemble] = info.ensemble.dump(2);
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  // Saved under a temporary name, reloaded and compared, then renamed: `path` is only ever a checked model.
  const auto tmp = core::temporary_path_for(path);
  try {
    core::FileSink file(tmp); // a full disk: an Error naming the file (core/files.hpp)
    torch::jit::ExportModule(module, [&](const void* p, std::size_t n) { return file.write(p, n); }, extra);
    file.close();
    auto reloaded = torch::jit::load(tmp.string());
    reloaded.eval();
    const auto expected = module.forward({check_inputs}).toTensor();
    const auto actual = reloaded.forward({check_inputs}).toTensor();
    const double diff = expected.numel() ? (expected - actual).abs().max().item<double>() : 0.0;
    if (!(diff <= k_max_abs_difference))
      throw Error(fmt::format("{}: the saved model does not reproduce the trained one (max abs difference {:g} > {:g})",
                              path.string(), diff, k_max_abs_difference));
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw;
  }
  core::commit_path(tmp, path);
}

LoadedModel load_model(const std::filesystem::path& path) {
  if (!std::filesystem::is_regular_file(path))
    throw InputError(fmt::format("{}: {}", path.string(), std::filesystem::exists(path) ? "not a model file (not a regular file)"
                                                                                      : "no such model file"));
  torch::jit::ExtraFilesMap extra{{k_config, ""},   {k_schema, ""},   {k_architecture, ""},
                                  {k_versions, ""}, {k_training, ""}, {k_ensemble, ""}};
  LoadedModel m;
  try {
    m.module = torch::jit::load(path.string(), c10::nullopt, extra);
  } catch (const c10::Error& e) {
    throw InputError(fmt::format("{}: not a TorchScript model file ({})", path.string(), e.what_without_backtrace()));
  }
  if (extra[k_schema].empty())
    throw InputError(fmt::format("{}: a TorchScript file, but not one written by automl (no {})", path.string(), k_schema));
  m.info = parse_model_info(path.string(), extra);
  m.module.eval();
  check_output_width(m, path);
  return m;
}

} // namespace automl::export_
