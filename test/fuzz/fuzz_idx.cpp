// IDX reader (lib/data/idx): an images file, the separator, a labels file; raw or gzip. One part alone is
// read with read_idx; two are loaded as a data set with load_idx (shapes, labels, the schema).
#include "data/idx.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace automl;
  const auto parts = fuzz::split_parts(data, size, 2);
  const auto images = fuzz::write_temp_file("images.idx", parts[0]);
  fuzz::expect_only_automl_errors([&] {
    if (parts.size() == 1) {
      data::read_idx(images);
    } else {
      const auto labels = fuzz::write_temp_file("labels.idx", parts[1]);
      data::load_idx(images, labels);
    }
  });
  return 0;
}
