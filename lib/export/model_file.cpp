#include "export/model_file.hpp"

#include "core/error.hpp"
#include "core/files.hpp"

#include <fmt/format.h>
#include <torch/version.h>

#include <chrono>
#include <ctime>

namespace automl::export_ {

namespace {

const char* const k_config = "automl/config.json";
const char* const k_schema = "automl/schema.json";
const char* const k_architecture = "automl/architecture.txt";
const char* const k_versions = "automl/versions.json";
const char* const k_training = "automl/training.json";

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

data::Schema schema_from_json(const nlohmann::json& j) {
  data::Schema s;
  s.kind = j.at("kind").get<std::string>() == "image" ? data::DataKind::image : data::DataKind::tabular;
  s.sample_shape = j.at("sample_shape").get<std::vector<std::int64_t>>();
  s.class_names = j.at("class_names").get<std::vector<std::string>>();
  s.feature_names = j.at("feature_names").get<std::vector<std::string>>();
  return s;
}

void save_model(torch::jit::Module& module, ModelInfo info, const std::filesystem::path& path,
                const torch::Tensor& check_inputs) {
  torch::NoGradGuard no_grad;
  module.train(false);
  info.versions = {{"automl", AUTOML_VERSION}, {"libtorch", TORCH_VERSION}, {"exported_at", utc_now()}};
  const torch::jit::ExtraFilesMap extra{{k_config, info.config.dump(2)},
                                        {k_schema, to_json(info.schema).dump(2)},
                                        {k_architecture, info.architecture},
                                        {k_versions, info.versions.dump(2)},
                                        {k_training, info.training.dump(2)}};
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  // Saved under a temporary name, reloaded and compared, then renamed: `path` is only ever a checked model.
  const auto tmp = core::temporary_path_for(path);
  try {
    module.save(tmp.string(), extra);
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
  if (!std::filesystem::is_regular_file(path)) throw InputError(fmt::format("{}: no such model file", path.string()));
  torch::jit::ExtraFilesMap extra{{k_config, ""}, {k_schema, ""}, {k_architecture, ""}, {k_versions, ""}, {k_training, ""}};
  LoadedModel m;
  try {
    m.module = torch::jit::load(path.string(), c10::nullopt, extra);
  } catch (const c10::Error& e) {
    throw InputError(fmt::format("{}: not a TorchScript model file ({})", path.string(), e.what_without_backtrace()));
  }
  if (extra[k_schema].empty())
    throw InputError(fmt::format("{}: a TorchScript file, but not one written by automl (no {})", path.string(), k_schema));
  try {
    m.info.config = nlohmann::json::parse(extra[k_config]);
    m.info.schema = schema_from_json(nlohmann::json::parse(extra[k_schema]));
    m.info.architecture = extra[k_architecture];
    m.info.versions = nlohmann::json::parse(extra[k_versions]);
    m.info.training = nlohmann::json::parse(extra[k_training]);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: damaged model metadata: {}", path.string(), e.what()));
  }
  m.module.eval();
  check_output_width(m, path);
  return m;
}

} // namespace automl::export_
