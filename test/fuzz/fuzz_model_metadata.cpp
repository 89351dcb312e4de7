// The model file's metadata (lib/export/model_file parse_model_info): the extra files of the TorchScript
// archive as load_model reads them, in the order config.json, schema.json, architecture.txt,
// versions.json, training.json, separated by the fuzz separator (missing ones are empty).
#include "export/model_file.hpp"
#include "fuzz_input.hpp"

#include <array>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace automl;
  static constexpr std::array<const char*, 5> k_names{"automl/config.json", "automl/schema.json",
                                                      "automl/architecture.txt", "automl/versions.json",
                                                      "automl/training.json"};
  const auto parts = fuzz::split_parts(data, size, k_names.size());
  torch::jit::ExtraFilesMap extra;
  for (std::size_t i = 0; i < k_names.size(); ++i) extra[k_names[i]] = i < parts.size() ? parts[i] : "";
  fuzz::expect_only_automl_errors([&] { export_::parse_model_info("model.pt", extra); });
  return 0;
}
