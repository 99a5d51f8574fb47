// The hot CSV parser: one chunk of whole lines in, the selected columns of its rows out as floats.
// Chunks are parsed independently (in parallel); their results are joined in file order by csv_loader.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
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
};

// One chunk's rows, row-major like Table. A chunk stops at its first bad line: `failed` is set, `lines` counts
// the lines before it, and `error` holds the message after "<file> line <n>" (": expected 29 fields, found 28"
// or ", column 5: 'abc' is not a number"), so the caller can number the line within the whole file.
struct CsvChunkResult {
  std::vector<float> labels;
  std::vector<float> features;
  std::int64_t rows = 0;
  std::int64_t lines = 0;    // line endings consumed, blank lines included
  std::int64_t dropped = 0;  // rows dropped by NanPolicy::drop
  bool failed = false;
  std::string error;
};

// Parses `text`, whole lines ending in "\n", "\r\n" or the end of the text. Blank lines are skipped. Fields may
// be surrounded by spaces or double quotes. Empty fields, NaN and Inf follow layout.nan_policy.
void parse_csv_chunk(std::string_view text, const CsvLayout& layout, CsvChunkResult& out);

// `text` with control bytes (NUL, CR, ...) written as \x00, so that a quoted field in a message shows whole.
std::string printable(std::string_view text);

}  // namespace fasttab
