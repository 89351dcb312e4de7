#pragma once
// Data sources by name or path: what `--data SOURCE` accepts everywhere.
//
//   mnist, mnist:train      MNIST training set (60,000 images) from the data directory
//   mnist:test              MNIST test set (10,000 images)
//   path/to/file.csv|.tsv   CSV with a header; the target column is CsvOptions::target or the last one
//   path/to/dir             a directory holding X.npy + y.npy, or an IDX images/labels pair
//   path/to/dir:test        the test pair (t10k-* or test-*) of an IDX directory that has both
//   X.npy,y.npy             an explicit NPY pair
//   images.idx,labels.idx   an explicit IDX pair (raw or .gz)

#include "data/csv.hpp"
#include "data/dataset.hpp"

#include <filesystem>

namespace automl::data {

// Example: SourceOptions{.target = "label", .data_dir = "/srv/automl-data"}
struct SourceOptions {
  std::string target;              // CSV target column; empty = the last column. Only valid for CSV.
  std::filesystem::path data_dir;  // where named sources live; empty = default_data_dir()
};

// $AUTOML_DATA_DIR if set, else the data/ directory of the source tree this binary was built from
// (scripts/setup fills it).
std::filesystem::path default_data_dir();

// True when `source` names a CSV/TSV file (by its extension; a directory never is): what load_source reads
// with the CSV loader.
bool is_csv_source(const std::string& source);

// Loads a source. Throws InputError for an unknown name or format, missing files (saying how to get
// them), and anything the loaders reject.
// No feature value is infinite (an infinity from an NPY file is refused as a CSV's is, naming the sample and
// feature; NaN is a missing value, imputed).
Dataset load_source(const std::string& source, const SourceOptions& options = {});

// What training needs of `data` (from `source`, for the message), found before any training: samples of at least
// two classes. Throws InputError naming the source.
void check_training_data(const Dataset& data, const std::string& source);
// What an evaluation (--test) needs: at least one labelled sample. Throws InputError naming the source and `flag`.
void check_test_data(const Dataset& data, const std::string& source, const std::string& flag);

} // namespace automl::data
