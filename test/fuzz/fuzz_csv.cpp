// CSV reader (lib/data/csv), from memory. The first byte picks the options: bit 0 tab-separated (.tsv),
// bit 1 unlabelled, bit 2 the target column named "y" (else the last column). The rest is the file.
#include "data/csv.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace automl;
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  data::CsvOptions options;
  options.unlabeled = (flags & 2) != 0;
  if (flags & 4) options.target = "y";
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  fuzz::expect_only_automl_errors([&] { data::parse_csv(text, (flags & 1) ? "fuzz.tsv" : "fuzz.csv", options); });
  return 0;
}
