#pragma once
// CSV (or tab-separated .tsv) files with a header row: numeric features and one target column.

#include "data/dataset.hpp"

#include <filesystem>

namespace automl::data {

// Example: CsvOptions{.target = "species"}
struct CsvOptions {
  std::string target; // the target column's name; empty = the last column
  bool unlabeled = false; // every column is a feature; the Dataset has labeled = false and one class "?"
};

// The header row's column names.
std::vector<std::string> read_csv_header(const std::filesystem::path& path);

// Cells that are empty or NA / N/A / NaN / nan / null (any case of these) are missing values and become
// NaN features; a missing target is an error. Quoted fields ("a,b", "say ""hi""") may span lines.
// Labels may be strings or integers; see encode_labels() for their order. Errors name file:line and the
// column: a row with the wrong number of fields, a cell that is not a number, an unknown target column.
Dataset load_csv(const std::filesystem::path& path, const CsvOptions& options = {});

// The same for CSV text already in memory; `path` names it in errors and picks the delimiter (.tsv: tab).
Dataset parse_csv(std::string text, const std::filesystem::path& path, const CsvOptions& options = {});

} // namespace automl::data
