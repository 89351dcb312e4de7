// Space updates (lib/config/space_yaml apply_space_updates, `--space-update FILE` and presets'
// `space_updates:`) on the shipped spaces. The first byte picks the base space (see k_bases); the rest is
// the update file's YAML. The updated space is built and used as `automl space` uses it.
#include "config/space_yaml.hpp"
#include "fuzz_input.hpp"
#include "fuzz_space.hpp"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace {

// Spaces of the source tree with their hyperparameters in the file itself.
constexpr std::array<const char*, 4> k_bases{"presets/tiny_cs.yaml", "presets/full_cs.yaml",
                                             "presets/image/medium_cs.yaml", "configs/convnet_optuna.yaml"};

std::vector<automl::config::SpaceSource> g_bases;

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace automl;
  for (const char* base : k_bases) {
    const std::string path = std::string(AUTOML_SOURCE_DIR) + "/" + base;
    try {
      const auto root = config::load_yaml_file(path);
      g_bases.push_back(config::parse_space(path, root["hyperparameters"], root["forbidden"]));
    } catch (const Error& e) {
      std::fprintf(stderr, "fuzz_space_update: cannot read the base space: %s\n", e.what());
      std::abort();
    }
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace automl;
  if (size == 0) return 0;
  auto source = g_bases[data[0] % g_bases.size()];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  fuzz::expect_only_automl_errors([&] {
    const std::string file = "update.yaml";
    config::apply_space_updates(source, file, config::load_yaml_text(text, file));
    fuzz::exercise_space(config::build_space(source));
  });
  return 0;
}
