#pragma once
// UTF-8 checks for text that ends up in JSON (nlohmann::json::dump throws on invalid UTF-8): names read from
// YAML and CSV files are checked where they are read, so that a bad byte is an error naming the file and
// line instead of an exception at export time.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace automl::core {

// The offset of the first byte that does not start or continue a well-formed UTF-8 sequence (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF); nothing when `text` is valid.
inline std::optional<std::size_t> first_invalid_utf8(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(text[i]); };
  std::size_t i = 0;
  while (i < text.size()) {
    const std::uint8_t b = byte(i);
    std::size_t length = 0;
    std::uint8_t low = 0x80, high = 0xBF; // allowed range of the second byte
    if (b < 0x80) length = 1;
    else if (b >= 0xC2 && b <= 0xDF) length = 2;
    else if (b == 0xE0) length = 3, low = 0xA0;
    else if (b == 0xED) length = 3, high = 0x9F;
    else if (b >= 0xE1 && b <= 0xEF) length = 3;
    else if (b == 0xF0) length = 4, low = 0x90;
    else if (b >= 0xF1 && b <= 0xF3) length = 4;
    else if (b == 0xF4) length = 4, high = 0x8F;
    else return i;
    if (i + length > text.size()) return i;
    for (std::size_t k = 1; k < length; ++k) {
      const std::uint8_t c = byte(i + k);
      if (k == 1 ? (c < low || c > high) : (c < 0x80 || c > 0xBF)) return i + k;
    }
    i += length;
  }
  return std::nullopt;
}

} // namespace automl::core
