#include "data/npy.hpp"

#include "core/error.hpp"
#include "data/labels.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <cctype>
#include <cmath>
#include <fstream>

namespace automl::data {

namespace {

struct NpyType {
  char kind;
  int size;
  const char* name;
  torch::ScalarType dtype;
};

constexpr std::array<NpyType, 7> k_npy_types{{
    {'u', 1, "uint8", torch::kUInt8},
    {'i', 1, "int8", torch::kInt8},
    {'i', 2, "int16", torch::kInt16},
    {'i', 4, "int32", torch::kInt32},
    {'i', 8, "int64", torch::kInt64},
    {'f', 4, "float32", torch::kFloat32},
    {'f', 8, "float64", torch::kFloat64},
}};

constexpr const char* k_supported = "uint8, int8, int16, int32, int64, float32, float64 (little-endian)";

// Finds `'key':` in the header dict and returns the position just after the colon.
std::size_t find_key(const std::string& header, const std::string& key, const std::string& file) {
  for (const char quote : {'\'', '"'}) {
    const std::string quoted = std::string(1, quote) + key + quote;
    auto at = header.find(quoted);
    if (at == std::string::npos) continue;
    at = header.find(':', at + quoted.size());
    if (at != std::string::npos) return at + 1;
  }
  throw InputError(fmt::format("{}: malformed NPY header: no '{}' in {}", file, key, header));
}

std::size_t skip_space(const std::string& s, std::size_t i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
};

Header parse_header(const std::string& header, const std::string& file) {
  Header h;
  auto malformed = [&](const std::string& what) {
    return InputError(fmt::format("{}: malformed NPY header ({}): {}", file, what, header));
  };
  std::size_t i = skip_space(header, find_key(header, "descr", file));
  if (i < header.size() && header[i] == '[')
    throw InputError(fmt::format("{}: unsupported dtype: structured arrays are not supported; supported: {}", file,
                                 k_supported));
  if (i >= header.size() || (header[i] != '\'' && header[i] != '"')) throw malformed("descr is not a string");
  const auto close = header.find(header[i], i + 1);
  if (close == std::string::npos) throw malformed("unterminated descr");
  h.descr = header.substr(i + 1, close - i - 1);

  i = skip_space(header, find_key(header, "fortran_order", file));
  if (header.compare(i, 4, "True") == 0) h.fortran_order = true;
  else if (header.compare(i, 5, "False") != 0) throw malformed("fortran_order is not True or False");

  i = skip_space(header, find_key(header, "shape", file));
  if (i >= header.size() || header[i] != '(') throw malformed("shape is not a tuple");
  ++i;
  while (true) {
    i = skip_space(header, i);
    if (i < header.size() && header[i] == ')') break;
    std::int64_t v = 0;
    bool any = false;
    while (i < header.size() && std::isdigit(static_cast<unsigned char>(header[i]))) {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, header[i] - '0', &v))
        throw malformed("dimension too large");
      any = true;
      ++i;
    }
    if (!any) throw malformed("shape holds a non-integer");
    h.shape.push_back(v);
    i = skip_space(header, i);
    if (i < header.size() && header[i] == ',') ++i;
  }
  return h;
}

const NpyType& lookup_dtype(const std::string& descr, const std::string& file) {
  if (descr.size() >= 3) {
    const char order = descr[0];
    const char kind = descr[1];
    int size = 0;
    try {
      size = std::stoi(descr.substr(2));
    } catch (const std::exception&) {
      size = 0;
    }
    const bool little = order == '<' || order == '|' || (order == '=');
    for (const auto& t : k_npy_types)
      if (t.kind == kind && t.size == size && (little || (order == '>' && size == 1))) return t;
  }
  throw InputError(fmt::format("{}: unsupported dtype '{}'; supported: {}", file, descr, k_supported));
}

} // namespace

NpyArray read_npy(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open", file));
  std::error_code ec;
  const auto file_size = std::filesystem::file_size(path, ec);
  if (ec) throw InputError(fmt::format("{}: cannot read its size: {}", file, ec.message()));

  std::array<char, 8> preamble{};
  in.read(preamble.data(), preamble.size());
  if (in.gcount() < 8 || std::string(preamble.data(), 6) != "\x93NUMPY")
    throw InputError(fmt::format("{}: not an NPY file (missing the \\x93NUMPY magic string)", file));
  const int major = static_cast<unsigned char>(preamble[6]);
  if (major < 1 || major > 3) throw InputError(fmt::format("{}: unsupported NPY format version {}", file, major));
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  std::array<unsigned char, 4> len_raw{};
  in.read(reinterpret_cast<char*>(len_raw.data()), static_cast<std::streamsize>(len_bytes));
  std::uint64_t header_len = 0;
  for (std::size_t b = len_bytes; b-- > 0;) header_len = (header_len << 8) | len_raw[b];
  const std::uint64_t data_offset = 8 + len_bytes + header_len;
  if (!in || data_offset > file_size)
    throw InputError(fmt::format("{}: truncated NPY header ({} bytes announced, file has {})", file, header_len,
                                 file_size));
  std::string header(static_cast<std::size_t>(header_len), '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));

  const Header h = parse_header(header, file);
  const NpyType& type = lookup_dtype(h.descr, file);
  if (h.fortran_order && h.shape.size() > 1)
    throw InputError(fmt::format("{}: Fortran-order arrays are not supported; save np.ascontiguousarray(a) instead",
                                 file));
  std::uint64_t expected = static_cast<std::uint64_t>(type.size);
  for (auto d : h.shape)
    if (__builtin_mul_overflow(expected, static_cast<std::uint64_t>(d), &expected))
      throw InputError(fmt::format("{}: NPY header claims shape ({}), more than any file can hold", file,
                                   fmt::join(h.shape, ", ")));
  const std::uint64_t actual = file_size - data_offset;
  if (actual != expected)
    throw InputError(fmt::format("{}: {} NPY data: header claims shape ({}) of {} ({} bytes), file has {} bytes "
                                 "after the header",
                                 file, actual < expected ? "truncated" : "oversized", fmt::join(h.shape, ", "),
                                 type.name, expected, actual));

  NpyArray out{h.shape, torch::empty(h.shape, torch::TensorOptions().dtype(type.dtype))};
  in.read(static_cast<char*>(out.values.data_ptr()), static_cast<std::streamsize>(expected));
  if (static_cast<std::uint64_t>(in.gcount()) != expected) throw InputError(fmt::format("{}: read error", file));
  return out;
}

Dataset load_npy(const std::filesystem::path& x_path, const std::filesystem::path& y_path) {
  NpyArray x = read_npy(x_path);
  NpyArray y = read_npy(y_path);
  if (x.shape.size() < 2 || x.shape.size() > 4)
    throw InputError(fmt::format("{}: X must have 2 to 4 dimensions (samples x features, or samples x [C x] H x W), "
                                 "got shape ({})",
                                 x_path.string(), fmt::join(x.shape, ", ")));
  if (!(y.shape.size() == 1 || (y.shape.size() == 2 && y.shape[1] == 1)))
    throw InputError(fmt::format("{}: y must have shape (N,) or (N, 1), got ({})", y_path.string(),
                                 fmt::join(y.shape, ", ")));
  if (x.shape[0] != y.shape[0])
    throw InputError(fmt::format("{} has {} samples but {} has {} labels", x_path.string(), x.shape[0],
                                 y_path.string(), y.shape[0]));

  // Before anything multiplies the sample's dimensions: a header may pair 0 samples with huge ones.
  check_sample_shape({x.shape.begin() + 1, x.shape.end()}, x_path.string());

  auto y_double = y.values.reshape({-1}).to(torch::kFloat64).contiguous();
  const double* yp = y_double.data_ptr<double>();
  std::vector<std::int64_t> raw(static_cast<std::size_t>(y_double.numel()));
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (!std::isfinite(yp[i]) || yp[i] != std::floor(yp[i]) || std::abs(yp[i]) > 9.0e15)
      throw InputError(fmt::format("{}: labels must be whole numbers; element {} is {}", y_path.string(), i, yp[i]));
    raw[i] = static_cast<std::int64_t>(yp[i]);
  }
  LabelEncoding enc = encode_labels(raw);

  Dataset d;
  d.origin = x_path.string() + "," + y_path.string();
  d.features = x.values.to(torch::kFloat32).contiguous();
  d.labels = torch::tensor(enc.indices, torch::kInt64);
  d.schema.kind = x.shape.size() >= 3 ? DataKind::image : DataKind::tabular;
  d.schema.sample_shape.assign(x.shape.begin() + 1, x.shape.end());
  d.schema.class_names = std::move(enc.class_names);
  validate(d);
  return d;
}

} // namespace automl::data
