// NPY reader (lib/data/npy): X.npy, the separator, y.npy. One part alone is read with read_npy; two are
// loaded as a data set with load_npy (shapes, label encoding, the schema).
#include "data/npy.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace automl;
  const auto parts = fuzz::split_parts(data, size, 2);
  const auto x = fuzz::write_temp_file("X.npy", parts[0]);
  fuzz::expect_only_automl_errors([&] {
    if (parts.size() == 1) {
      data::read_npy(x);
    } else {
      const auto y = fuzz::write_temp_file("y.npy", parts[1]);
      data::load_npy(x, y);
    }
  });
  return 0;
}
