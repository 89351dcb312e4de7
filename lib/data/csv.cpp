#include "data/csv.hpp"

#include "core/error.hpp"
#include "core/suggest.hpp"
#include "core/utf8.hpp"
#include "data/labels.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace automl::data {

namespace {

// Splits `text` into records one at a time, tracking the line each record starts on.
class CsvReader {
public:
  CsvReader(std::string text, char delimiter, std::string file)
      : m_text(std::move(text)), m_delimiter(delimiter), m_file(std::move(file)) {
    if (m_text.compare(0, 3, "\xEF\xBB\xBF") == 0) m_pos = 3; // UTF-8 byte order mark
  }

  // Reads the next non-blank record into `fields`; false at the end of the text.
  bool next(std::vector<std::string>& fields) {
    while (m_pos < m_text.size() && (m_text[m_pos] == '\n' || m_text[m_pos] == '\r')) {
      if (m_text[m_pos] == '\n') ++m_line;
      ++m_pos;
    }
    if (m_pos >= m_text.size()) return false;
    m_record_line = m_line;
    fields.clear();
    std::string field;
    bool quoted = false;    // inside quotes
    bool was_quoted = false; // this field started with a quote
    while (m_pos < m_text.size()) {
      const char c = m_text[m_pos++];
      if (quoted) {
        if (c == '"') {
          if (m_pos < m_text.size() && m_text[m_pos] == '"') {
            field += '"';
            ++m_pos;
          } else {
            quoted = false;
          }
        } else {
          if (c == '\n') ++m_line;
          field += c;
        }
      } else if (c == '"' && std::all_of(field.begin(), field.end(), [](char ch) { return ch == ' '; })) {
        field.clear();
        quoted = was_quoted = true;
      } else if (c == m_delimiter) {
        fields.push_back(finish(field, was_quoted));
        field.clear();
        was_quoted = false;
      } else if (c == '\n' || c == '\r') {
        if (c == '\r' && m_pos < m_text.size() && m_text[m_pos] == '\n') ++m_pos;
        ++m_line;
        break;
      } else {
        field += c;
      }
    }
    if (quoted)
      throw InputError(fmt::format("{}:{}: unterminated quoted field", m_file, m_record_line));
    fields.push_back(finish(field, was_quoted));
    return true;
  }

  std::size_t record_line() const { return m_record_line; }

private:
  static std::string finish(std::string& field, bool was_quoted) {
    if (was_quoted) return field;
    const auto first = field.find_first_not_of(" \t");
    if (first == std::string::npos) return {};
    const auto last = field.find_last_not_of(" \t");
    return field.substr(first, last - first + 1);
  }

  std::string m_text;
  char m_delimiter;
  std::string m_file;
  std::size_t m_pos = 0;
  std::size_t m_line = 1;
  std::size_t m_record_line = 1;
};

bool is_missing(const std::string& cell) {
  if (cell.empty()) return true;
  std::string lower(cell);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower == "na" || lower == "n/a" || lower == "nan" || lower == "null";
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open", path.string()));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

} // namespace

std::vector<std::string> read_csv_header(const std::filesystem::path& path) {
  CsvReader reader(read_text(path), path.extension() == ".tsv" ? '\t' : ',', path.string());
  std::vector<std::string> header;
  reader.next(header);
  return header;
}

Dataset load_csv(const std::filesystem::path& path, const CsvOptions& options) {
  return parse_csv(read_text(path), path, options);
}

Dataset parse_csv(std::string text, const std::filesystem::path& path, const CsvOptions& options) {
  const std::string file = path.string();
  // Column and class names end up in JSON (the model's schema), which must be UTF-8.
  if (const auto bad = core::first_invalid_utf8(text)) {
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(*bad), '\n');
    throw InputError(fmt::format("{}:{}: invalid UTF-8 (byte 0x{:02X}): save the file as UTF-8", file, line,
                                 static_cast<unsigned char>(text[*bad])));
  }
  const char delimiter = path.extension() == ".tsv" ? '\t' : ',';
  CsvReader reader(std::move(text), delimiter, file);

  std::vector<std::string> header;
  if (!reader.next(header)) throw InputError(fmt::format("{}: empty file: expected a header row", file));
  if (header.size() < (options.unlabeled ? 1u : 2u))
    throw InputError(fmt::format("{}:{}: the header has {} column; need at least one feature and a target", file,
                                 reader.record_line(), header.size()));
  std::set<std::string> seen;
  for (const auto& name : header)
    if (!seen.insert(name).second)
      throw InputError(fmt::format("{}:{}: column '{}' appears twice in the header", file, reader.record_line(), name));

  // Without a target, the index one past the last column matches no column.
  std::size_t target = options.unlabeled ? header.size() : header.size() - 1;
  if (!options.target.empty() && !options.unlabeled) {
    const auto it = std::find(header.begin(), header.end(), options.target);
    if (it == header.end()) {
      const auto guess = core::closest_match(options.target, header);
      throw InputError(fmt::format("{}: no target column '{}'{}; columns: {}", file, options.target,
                                   guess ? fmt::format(" (did you mean '{}'?)", *guess) : "", fmt::join(header, ", ")));
    }
    target = static_cast<std::size_t>(it - header.begin());
  }

  std::vector<std::string> feature_names;
  for (std::size_t c = 0; c < header.size(); ++c)
    if (c != target) feature_names.push_back(header[c]);

  std::vector<float> features;
  std::vector<std::string> labels;
  std::vector<std::string> row;
  while (reader.next(row)) {
    const std::size_t line = reader.record_line();
    if (row.size() != header.size())
      throw InputError(fmt::format("{}:{}: expected {} fields (as in the header), got {}", file, line, header.size(),
                                   row.size()));
    for (std::size_t c = 0; c < row.size(); ++c) {
      const std::string& cell = row[c];
      if (c == target) {
        if (is_missing(cell))
          throw InputError(fmt::format("{}:{}: column '{}': the target is missing", file, line, header[c]));
        labels.push_back(cell);
        continue;
      }
      if (is_missing(cell)) {
        features.push_back(std::numeric_limits<float>::quiet_NaN());
        continue;
      }
      double value = 0;
      const char* begin = cell.data();
      const char* end = begin + cell.size();
      if (*begin == '+') ++begin; // from_chars does not take a leading '+'
      const auto [ptr, ec] = std::from_chars(begin, end, value);
      if (ec == std::errc::result_out_of_range || (ec == std::errc() && ptr == end && !std::isfinite(value)))
        throw InputError(fmt::format("{}:{}: column '{}': '{}' is not a finite number", file, line, header[c], cell));
      if (ec != std::errc() || ptr != end)
        throw InputError(fmt::format("{}:{}: column '{}': '{}' is not a number", file, line, header[c], cell));
      if (std::abs(value) > std::numeric_limits<float>::max())
        throw InputError(fmt::format("{}:{}: column '{}': '{}' is too large for float32", file, line, header[c], cell));
      features.push_back(static_cast<float>(value));
    }
  }

  if (options.unlabeled) labels.assign(features.size() / std::max<std::size_t>(feature_names.size(), 1), "?");
  LabelEncoding enc = encode_labels(labels);
  const auto n = static_cast<std::int64_t>(labels.size());
  const auto width = static_cast<std::int64_t>(feature_names.size());
  Dataset d;
  d.origin = file;
  d.features = torch::from_blob(features.data(), {n, width}, torch::kFloat32).clone();
  d.labels = torch::tensor(enc.indices, torch::kInt64);
  d.schema.kind = DataKind::tabular;
  d.schema.sample_shape = {width};
  d.schema.class_names = std::move(enc.class_names);
  d.schema.feature_names = std::move(feature_names);
  d.labeled = !options.unlabeled;
  validate(d);
  return d;
}

} // namespace automl::data
