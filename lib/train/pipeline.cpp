#include "train/pipeline.hpp"

#include "models/network.hpp"
#include "train/preprocessing.hpp"

#include <fmt/format.h>

namespace automl::train {

Pipeline build_pipeline(const core::Hyperparameters& hp, const data::Dataset& train, std::uint64_t seed) {
  Pipeline p{torch::jit::Module("AutoMLPipeline"), hp.get_string("", "network"), {}, {}, {}};
  // torch.nn.Module's `training` flag, which dropout, batch norm and the shake regularisers read.
  p.module.register_attribute("training", c10::BoolType::get(), true);
  const bool image = models::image_network(p.family);
  const auto pre = fit_preprocessing(hp, train, image, p.module);
  p.preprocessing = pre.description;
  p.network_input = pre.output_shape;
  // The trial's own generator: trials initialised at the same time on other threads do not interleave draws.
  const auto info = models::build_network(hp, {pre.output_shape, train.schema.num_classes()}, p.module,
                                          at::make_generator<at::CPUGeneratorImpl>(seed));
  p.network = info.description;
  p.module.define(R"(
def forward(self, x: Tensor) -> Tensor:
    return self.net(self.preprocess(x))
)");
  return p;
}

std::int64_t parameter_count(const torch::jit::Module& module) {
  std::int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

std::string describe(const Pipeline& p) {
  std::string out = "AutoMLPipeline(\n  (preprocessing): Sequential(\n";
  for (std::size_t i = 0; i < p.preprocessing.size(); ++i) out += fmt::format("    ({}): {}\n", i, p.preprocessing[i]);
  out += fmt::format("  )\n  (network): {}(\n", p.family);
  std::size_t index = 0;
  for (const auto& line : p.network) {
    // Top-level layers are numbered as nn.Sequential does; nested lines keep their indentation.
    const bool top = line.rfind("  ", 0) != 0 && line != ")";
    out += top ? fmt::format("    ({}): {}\n", index++, line) : "    " + line + "\n";
  }
  out += fmt::format("  )\n)\nTrainable parameters: {}\n", parameter_count(p.module));
  return out;
}

} // namespace automl::train
