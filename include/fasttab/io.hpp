// Loading tables from files: .csv, .csv.gz and .npy, recognised by their content (gzip and NumPy magic bytes),
// with column selection, header and delimiter detection, a NaN policy and a binary cache next to the source.
//
// CSV text is parsed on all cores (fast_float, no strtod); gzip is inflated by ISA-L in a stream that feeds the
// parser chunk by chunk, so the whole text never sits in RAM. Peak memory is about twice the parsed table on top
// of the mapped file. Errors are fasttab::Error with the file, the line and column, and what to change.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fasttab/table.hpp"

namespace fasttab {

enum class HeaderMode { detect, present, absent };
// What a NaN, Inf or empty numeric field does: reject (an error), drop its row, zero it, or indicator: kept as a
// missing value that impute_missing_values (dataset.hpp) replaces by the training mean, adding a 0/1 column.
enum class NanPolicy { reject, drop, zero, indicator };

// Rows [begin, end) of a table, 0-based, in the order the whole load returns them.
struct RowRange {
  std::int64_t begin = 0;
  std::int64_t end = 0;
};

struct LoadOptions {
  std::string path;
  int label_col = 0;              // 0-based column index of the label; -1: no label column (labels are NaN)
  std::string label_name;         // the label column by header name (overrides label_col when set)
  // Column lists: comma-separated header names, 0-based indices and ranges ("1-21,25,price").
  std::string features = "all";   // "all" (every column but the label and --drop's), or a list
  std::string drop;               // columns left out of "all" (e.g. a row number)
  std::string categorical;        // columns read as categories even where they hold numbers
  std::string numeric;            // columns that must hold numbers ("all": every one): a text field is an error
  int max_categories = 1 << 20;   // distinct values a text column may have (more: an error naming the column)
  HeaderMode header = HeaderMode::detect;
  char delimiter = 0;             // 0 = detect among ',', '\t', ';'
  NanPolicy nan_policy = NanPolicy::reject;
  bool use_cache = true;
  std::string cache_dir;          // empty = next to the source file
  int threads = 0;                // 0 = all hardware threads
  // Only these rows of the table (indices of the rows the whole load returns, after drops), concatenated in
  // this order; empty: every row. The result is the whole load's table sliced, bit for bit. A .npy (unless
  // --nan-policy drop or --categorical, which need every row) reads only these rows of the mapped file, and the
  // table cache preads only their labels and features; CSV text is parsed whole (its rows have no fixed offsets)
  // and then sliced, which frees the other rows. Sharded training's per-rank loading (docs/scaling.md).
  std::vector<RowRange> rows;
};

// The rows load_table(options) would return, when they are known without parsing: a .npy's shape (not with
// --nan-policy drop), or the header of a table cache that matches; -1 otherwise (CSV text not cached yet).
std::int64_t known_table_rows(const LoadOptions& options);

struct LoadReport {
  std::string format;             // "csv", "csv.gz", "npy", "cache"
  bool from_cache = false;
  std::string cache_path;         // the cache read or written, if any
  std::int64_t dropped_rows = 0;  // rows dropped by NanPolicy::drop
  double seconds = 0;
  bool partial = false;           // options.rows was honoured without reading the other rows' values
  std::int64_t source_bytes = 0;  // bytes of the file (compressed size for .gz)
  std::vector<std::string> warnings;  // doubts the tools print as "warning: ...", e.g. a header guessed
};

// Loads a .csv, .csv.gz or .npy file (recognised by content) into a Table; throws fasttab::Error naming the
// file and what to fix. Labels are returned as parsed floats (validation per task is the caller's job), or as
// class indices for a text label column (Table::label_classes).
//
// CSV: a selected column with a field that is not a number (quotes and spaces stripped) is categorical, unless
// --numeric names it; --categorical makes any column categorical. A field that is empty or a missing-value word
// (NA, N/A, NaN, null, None, ?, -, ., #N/A, missing, ...; csv_parser.hpp) is a missing value: in a categorical
// column the vocabulary's missing code, whatever the NaN policy; in a numeric one, as the NaN policy says. .npy: the columns
// --categorical names become categories of their values ("%g"; NaN missing).
Table load_table(const LoadOptions& options, LoadReport* report = nullptr);

// Writes a table as a 2-D float32 C-order .npy of shape [rows, 1 + cols]: column 0 the label, then the features
// (the HIGGS layout, so `--data file.npy --label-col 0` reads it back).
void write_npy(const std::string& path, const Table& table);

// Writes values[rows x cols] (row-major) as a 2-D float32 C-order .npy of shape [rows, cols], or of shape [rows]
// when `vector` is set (cols must then be 1).
void write_npy_matrix(const std::string& path, const float* values, std::int64_t rows, std::int64_t cols,
                      bool vector = false);

// The columns of the data a model was trained on, recorded in its checkpoint ("layout" in "config") so that
// predict selects the same columns of a file by default (docs/checkpoint-format.md).
struct ColumnLayout {
  bool known = false;                      // false: not recorded (a checkpoint saved before layouts were)
  bool synthetic = false;                  // the built-in data: label then features, as --export-npy writes it
  std::string format;                      // "csv", "csv.gz", "npy" or "synthetic"
  int source_cols = 0;                     // columns of the file, the label included
  int label_col = 0;                       // 0-based
  std::string features = "all";            // the --features spec as given
  std::vector<int> feature_cols;           // the resolved source columns, in the model's input order
  std::vector<std::string> feature_names;  // their header names (empty when the file had no header)
  char delimiter = 0;                      // CSV: the delimiter (0 for .npy and synthetic data)
  bool header = false;                     // CSV: the first line was a header
  std::vector<int> categorical_cols;       // the source columns read as categories (their vocabularies below)
  std::vector<Vocabulary> vocabularies;    // per categorical feature, built on the training rows
  std::vector<std::string> label_classes;  // a text label's class names (class i is label_classes[i])
  std::vector<Imputation> imputations;     // --nan-policy indicator: the model's inputs end with the indicators
  int indicator_count() const {
    int n = 0;
    for (const Imputation& m : imputations) n += m.indicator;
    return n;
  }
};

}  // namespace fasttab
