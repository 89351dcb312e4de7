// Search-space files (lib/config/space_yaml): YAML text as `--space FILE` reads it (hyperparameters and
// forbidden clauses), parsed with its limits, then built into a SearchSpace (conditions, components,
// defaults) and used as `automl space` uses it: fingerprint, default configuration, a few samples.
#include "config/space_yaml.hpp"
#include "fuzz_input.hpp"
#include "fuzz_space.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace automl;
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_only_automl_errors([&] {
    const std::string file = "space.yaml";
    const auto root = config::load_yaml_text(text, file);
    // As the loader does: a space file is a map (its other keys belong to the run settings).
    if (!root.IsMap()) return;
    const auto source = config::parse_space(file, root["hyperparameters"], root["forbidden"]);
    const auto space = config::build_space(source);
    fuzz::exercise_space(space);
  });
  return 0;
}
