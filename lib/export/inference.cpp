#include "export/inference.hpp"

#include "data/labels.hpp"

#include "core/error.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <unordered_map>

namespace automl::export_ {

namespace {

std::string shape_text(const data::Schema& s) {
  return fmt::format("{} ({} features)", fmt::join(s.sample_shape, "x"), s.num_features());
}

} // namespace

void check_input(const data::Schema& model, const data::Dataset& d) {
  const auto& have = d.schema;
  if (have.kind != model.kind)
    throw InputError(fmt::format("{}: {} data, but the model was trained on {} data", d.origin, data::to_string(have.kind),
                                 data::to_string(model.kind)));
  auto squeeze = [](std::vector<std::int64_t> s) {
    if (s.size() == 3 && s[0] == 1) s.erase(s.begin()); // 1 x H x W is H x W
    return s;
  };
  const bool same_shape = model.kind == data::DataKind::image ? squeeze(have.sample_shape) == squeeze(model.sample_shape)
                                                              : have.num_features() == model.num_features();
  if (!same_shape)
    throw InputError(fmt::format("{}: samples of {}, but the model expects {}", d.origin, shape_text(have),
                                 shape_text(model)));
  if (!have.feature_names.empty() && !model.feature_names.empty() && have.feature_names != model.feature_names) {
    for (std::size_t i = 0; i < model.feature_names.size(); ++i)
      if (have.feature_names[i] != model.feature_names[i])
        throw InputError(fmt::format("{}: column {} is '{}', but the model expects '{}' there (expected columns: {})",
                                     d.origin, i + 1, have.feature_names[i], model.feature_names[i],
                                     fmt::join(model.feature_names, ", ")));
  }
}

torch::Tensor labels_for_model(const data::Schema& model, const data::Dataset& d) {
  std::unordered_map<std::string, std::int64_t> index;
  for (std::size_t i = 0; i < model.class_names.size(); ++i) index.emplace(model.class_names[i], static_cast<std::int64_t>(i));
  std::vector<std::int64_t> mapping;
  for (const auto& name : d.schema.class_names) {
    auto it = index.find(name);
    if (it == index.end()) // the same number written otherwise ("1.0" for the model's "1")
      it = std::find_if(index.begin(), index.end(), [&](const auto& entry) { return data::same_label(name, entry.first); });
    if (it == index.end())
      throw InputError(fmt::format("{}: label '{}' is not a class of the model (classes: {})", d.origin, name,
                                   fmt::join(model.class_names, ", ")));
    mapping.push_back(it->second);
  }
  if (mapping.empty()) return torch::empty({0}, torch::kInt64);
  return torch::tensor(mapping, torch::kInt64).index_select(0, d.labels);
}

torch::Tensor predict_probabilities(torch::jit::Module& module, const torch::Tensor& inputs, std::int64_t batch_size) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (std::int64_t start = 0; start < inputs.size(0); start += batch_size) {
    const auto len = std::min(batch_size, inputs.size(0) - start);
    out.push_back(torch::softmax(module.forward({inputs.narrow(0, start, len)}).toTensor(), 1));
  }
  if (out.empty()) return torch::empty({0, 0});
  return torch::cat(out);
}

std::vector<std::int64_t> to_indices(const torch::Tensor& tensor) {
  const auto t = tensor.to(torch::kInt64).contiguous();
  return std::vector<std::int64_t>(t.data_ptr<std::int64_t>(), t.data_ptr<std::int64_t>() + t.numel());
}

} // namespace automl::export_
