#include "data/idx.hpp"

#include "core/error.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <zlib.h>

#include <array>
#include <cstring>
#include <memory>

namespace automl::data {

namespace {

struct IdxType {
  std::uint8_t code;
  const char* name;
  torch::ScalarType dtype;
  std::size_t size;
};

constexpr std::array<IdxType, 6> k_idx_types{{
    {0x08, "ubyte", torch::kUInt8, 1},
    {0x09, "sbyte", torch::kInt8, 1},
    {0x0B, "short", torch::kInt16, 2},
    {0x0C, "int", torch::kInt32, 4},
    {0x0D, "float", torch::kFloat32, 4},
    {0x0E, "double", torch::kFloat64, 8},
}};

// Values larger than this many labels in a labels file are refused: they are not class indices.
constexpr std::int64_t k_max_label = 1'000'000;

class GzFile {
public:
  explicit GzFile(const std::filesystem::path& path) : m_path(path), m_file(gzopen(path.c_str(), "rb")) {
    if (!m_file) throw InputError(fmt::format("{}: cannot open: {}", path.string(), std::strerror(errno)));
  }
  ~GzFile() { gzclose(m_file); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  // Reads up to n bytes; returns how many were read (fewer only at the end of the data).
  std::size_t read(void* dst, std::size_t n) {
    std::size_t total = 0;
    auto* out = static_cast<char*>(dst);
    while (total < n) {
      const auto chunk = static_cast<unsigned>(std::min<std::size_t>(n - total, 1u << 30));
      const int got = gzread(m_file, out + total, chunk);
      if (got < 0) {
        int errnum = 0;
        const char* msg = gzerror(m_file, &errnum);
        throw InputError(fmt::format("{}: read error: {}", m_path.string(), msg ? msg : "unknown"));
      }
      if (got == 0) break;
      total += static_cast<std::size_t>(got);
    }
    return total;
  }

private:
  std::filesystem::path m_path;
  gzFile m_file;
};

std::uint32_t big_endian_u32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

void swap_bytes_in_place(unsigned char* data, std::size_t count, std::size_t size) {
  if (size == 1) return;
  for (std::size_t i = 0; i < count; ++i) std::reverse(data + i * size, data + (i + 1) * size);
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  return fmt::format("{}", fmt::join(shape, "x"));
}

} // namespace

IdxArray read_idx(const std::filesystem::path& path) {
  const std::string name = path.string();
  GzFile file(path);
  std::array<unsigned char, 4> magic{};
  if (file.read(magic.data(), 4) < 4)
    throw InputError(fmt::format("{}: not an IDX file: shorter than the 4-byte magic number", name));
  if (magic[0] != 0 || magic[1] != 0)
    throw InputError(fmt::format("{}: wrong magic number 0x{:02x}{:02x}{:02x}{:02x}: an IDX file starts with "
                                 "two zero bytes, a type byte and a dimension count",
                                 name, magic[0], magic[1], magic[2], magic[3]));
  const IdxType* type = nullptr;
  for (const auto& t : k_idx_types)
    if (t.code == magic[2]) type = &t;
  if (!type)
    throw InputError(fmt::format("{}: wrong magic number 0x0000{:02x}{:02x}: unknown IDX type 0x{:02x}", name,
                                 magic[2], magic[3], magic[2]));
  const int ndim = magic[3];
  if (ndim == 0) throw InputError(fmt::format("{}: IDX header has zero dimensions", name));

  std::vector<unsigned char> dims_raw(static_cast<std::size_t>(ndim) * 4);
  if (file.read(dims_raw.data(), dims_raw.size()) < dims_raw.size())
    throw InputError(fmt::format("{}: truncated IDX header: {} dimensions announced, file ends before their sizes",
                                 name, ndim));
  IdxArray out;
  std::uint64_t count = 1;
  bool overflow = false;
  for (int i = 0; i < ndim; ++i) {
    const std::uint32_t d = big_endian_u32(&dims_raw[static_cast<std::size_t>(i) * 4]);
    out.shape.push_back(d);
    overflow = overflow || __builtin_mul_overflow(count, std::uint64_t{d}, &count);
  }
  std::uint64_t claimed = 0;
  overflow = overflow || __builtin_mul_overflow(count, std::uint64_t{type->size}, &claimed);
  const std::size_t header_bytes = 4 + dims_raw.size();
  const std::string claim = fmt::format("{} {} values", shape_string(out.shape), type->name);
  if (overflow || claimed > (std::uint64_t{1} << 62))
    throw InputError(fmt::format("{}: IDX header claims {}, more than any file can hold", name, claim));

  // Read what is really there, growing with the data: never allocate the header's claim up front.
  std::vector<unsigned char> data;
  constexpr std::size_t k_chunk = std::size_t{1} << 20;
  while (true) {
    const std::size_t at = data.size();
    data.resize(at + k_chunk);
    const std::size_t got = file.read(data.data() + at, k_chunk);
    data.resize(at + got);
    if (got < k_chunk || data.size() > claimed) break;
  }
  if (data.size() < claimed)
    throw InputError(fmt::format("{}: truncated IDX file: header claims {} ({} bytes of data), but only {} bytes "
                                 "follow the {}-byte header",
                                 name, claim, claimed, data.size(), header_bytes));
  if (data.size() > claimed)
    throw InputError(fmt::format("{}: IDX file is longer than its header says: header claims {} ({} bytes of "
                                 "data), more bytes follow",
                                 name, claim, claimed));

  swap_bytes_in_place(data.data(), count, type->size);
  out.values = torch::empty(out.shape, torch::TensorOptions().dtype(type->dtype));
  if (claimed > 0) std::memcpy(out.values.data_ptr(), data.data(), claimed);
  return out;
}

Dataset load_idx(const std::filesystem::path& images_path, const std::filesystem::path& labels_path) {
  IdxArray images = read_idx(images_path);
  IdxArray labels = read_idx(labels_path);
  if (images.shape.size() < 2)
    throw InputError(fmt::format("{}: an images file needs at least 2 dimensions (samples x ...), got {}",
                                 images_path.string(), shape_string(images.shape)));
  if (labels.shape.size() != 1)
    throw InputError(fmt::format("{}: a labels file needs 1 dimension, got {}", labels_path.string(),
                                 shape_string(labels.shape)));
  if (!isIntegralType(labels.values.scalar_type(), /*includeBool=*/false))
    throw InputError(fmt::format("{}: labels must be integers, got {}", labels_path.string(),
                                 c10::toString(labels.values.scalar_type())));
  if (images.shape[0] != labels.shape[0])
    throw InputError(fmt::format("{} has {} samples but {} has {} labels", images_path.string(), images.shape[0],
                                 labels_path.string(), labels.shape[0]));

  // Before anything multiplies the sample's dimensions: a header may pair 0 samples with huge ones.
  check_sample_shape({images.shape.begin() + 1, images.shape.end()}, images_path.string());

  Dataset d;
  d.origin = images_path.string() + "," + labels_path.string();
  d.features = images.values.to(torch::kFloat32).contiguous();
  d.labels = labels.values.to(torch::kInt64);
  d.schema.kind = images.shape.size() >= 3 ? DataKind::image : DataKind::tabular;
  d.schema.sample_shape.assign(images.shape.begin() + 1, images.shape.end());
  std::int64_t max_label = 0;
  if (d.size() > 0) {
    const auto lo = d.labels.min().item<std::int64_t>();
    max_label = d.labels.max().item<std::int64_t>();
    if (lo < 0)
      throw InputError(fmt::format("{}: labels must be class indices >= 0, found {}", labels_path.string(), lo));
    if (max_label > k_max_label)
      throw InputError(fmt::format("{}: label {} is too large to be a class index (at most {})",
                                   labels_path.string(), max_label, k_max_label));
  }
  for (std::int64_t c = 0; c <= max_label && d.size() > 0; ++c) d.schema.class_names.push_back(std::to_string(c));
  validate(d);
  return d;
}

} // namespace automl::data
