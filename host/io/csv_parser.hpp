// The hot CSV parser: one chunk of whole lines in, the selected columns of its rows out as floats.
// Chunks are parsed independently (in parallel); their results are joined in file order by csv_loader.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fasttab/io.hpp"

namespace fasttab {

// What the parser keeps of each line. slot_of_column[c] for source column c: -1 skip (not even checked to be a
// number), 0 the label, k >= 1 feature k - 1 of the output row.
struct CsvLayout {
  char delimiter = ',';
  int source_cols = 0;
  int feature_cols = 0;
  std::vector<int> slot_of_column;
  NanPolicy nan_policy = NanPolicy::reject;
  double bytes_per_row = 0;  // a hint to reserve the outputs; 0 = no reservation
  std::vector<char> text_slot;       // per slot: 1 for a categorical column (its fields are text)
  std::vector<char> numeric_column;  // per source column: 1 when --numeric forces it (never becomes categorical)
  int max_categories = 1 << 20;      // distinct texts a categorical column may have
};

// The distinct texts of one categorical column in one chunk, in order of first appearance: the parser stores
// each field as the index of its text here (a float), or NaN for a missing value.
struct ChunkLevels {
  std::deque<std::string> levels;                   // a deque: the index's keys point into it
  std::unordered_map<std::string_view, int> index;  // text -> its position in levels
};

// A categorical field's text: spaces and one pair of double quotes stripped, "" inside quotes made one quote.
// The missing-value words of common exports are a missing value, in text and numeric columns alike
// (is_missing_text): empty, NA, N/A, n/a, na, NaN, nan, NAN, null, NULL, Null, None, none, ?, -, ., #N/A, missing.
std::string_view trim_text_field(std::string_view field);
bool is_missing_text(std::string_view text);
// Whether a field (already trimmed and unquoted) parses as a number the way the parser reads numeric fields.
bool is_number_text(std::string_view text);
// A text label column's classes from its distinct values: two values that read as no/yes (false/true, n/y, f/t,
// negative/positive, any case) are ordered so, class 1 the yes; otherwise the values in sorted order.
std::vector<std::string> label_class_order(std::vector<std::string> values);

// A text label as loaded: labels hold level indices of `levels`; renumbers them as the classes of
// label_class_order(levels) and sets table.label_classes (NaN labels stay NaN).
void assign_label_classes(Table& table, const std::vector<std::string>& levels);

// One chunk's rows, row-major like Table. A chunk stops at its first bad line: `failed` is set, `lines` counts
// the lines before it, and `error` holds the message after "<file> line <n>" (": expected 29 fields, found 28"
// or ", column 5: 'abc' is not a number"), so the caller can number the line within the whole file.
struct CsvChunkResult {
  std::vector<float> labels;
  std::vector<float> features;
  std::int64_t rows = 0;
  std::int64_t lines = 0;    // line endings consumed, blank lines included
  std::int64_t dropped = 0;  // rows dropped by NanPolicy::drop
  std::vector<ChunkLevels> levels;  // per slot (used for the text slots)
  bool failed = false;
  std::string error;
  int text_column = -1;  // the failure is text in this column, which is numeric only by detection: make it categorical
};

// Parses `text`, whole lines ending in "\n", "\r\n" or the end of the text. Blank lines are skipped. Fields may
// be surrounded by spaces or double quotes. Empty fields, NaN and Inf follow layout.nan_policy.
void parse_csv_chunk(std::string_view text, const CsvLayout& layout, CsvChunkResult& out);

// `text` with control bytes (NUL, CR, ...) written as \x00, so that a quoted field in a message shows whole.
std::string printable(std::string_view text);

}  // namespace fasttab
