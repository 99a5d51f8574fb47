// CSV dialect detection from the first lines of a file: byte-order mark, delimiter, header row, column count.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fasttab/io.hpp"

namespace fasttab {

struct CsvDialect {
  char delimiter = ',';
  bool has_header = false;
  int columns = 0;                       // fields in the first line
  std::vector<std::string> names;        // header names, unquoted (empty without a header)
  std::size_t data_offset = 0;           // bytes before the first data line (BOM and header line)
  std::int64_t lines_before_data = 0;    // 1 with a header, else 0: the first data line is this + 1
  double bytes_per_row = 0;              // average length of the sampled data lines, to size buffers
  std::vector<std::string> warnings;     // doubts, e.g. a first line taken as data though it has text
};

// Detects the dialect from `head`, the start of the text: whole lines, at least the first two when the text
// has two.
// `delimiter` 0 means detect among ',', '\t' and ';' (most frequent in the first line, consistent with the
// second). A header is detected when some field of the first line is not a number while the same field of the
// second line is. Throws fasttab::Error naming `file` when there is no line at all.
CsvDialect detect_csv_dialect(const std::string& file, std::string_view head, char delimiter, HeaderMode header);

// Splits one line (without its line ending) into fields, removing surrounding spaces and double quotes
// ("" inside quotes is one quote). Used for headers and detection; the hot parser does not allocate.
std::vector<std::string> split_csv_line(std::string_view line, char delimiter);

}  // namespace fasttab
