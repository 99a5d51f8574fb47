// Parses --features specs. Grammar: "all" | item ("," item)*, item = N | N "-" M (inclusive, N <= M).
#include "host/io/column_spec.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include "fasttab/error.hpp"

namespace fasttab {
namespace {

std::string column_range_text(int source_cols) {
  return detail::concat(source_cols, " columns (0-", source_cols - 1, ")");
}

int parse_index(const std::string& spec, const std::string& text) {
  int value = -1;
  const char* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, value);
  if (result.ec == std::errc::result_out_of_range && result.ptr == end && !text.empty() && text[0] != '-') {
    FASTTAB_FAIL("--features '", spec, "': column '", text, "' is far out of range (more than 2147483647)");
  }
  if (text.empty() || result.ec != std::errc() || result.ptr != end || value < 0) {
    FASTTAB_FAIL("--features '", spec, "': '", text,
                 "' is not a column index; expected 'all' or 0-based columns and ranges such as '1-21,25'");
  }
  return value;
}

}  // namespace

ColumnSelection select_columns(const std::string& file, int source_cols, int label_col,
                               const std::string& features) {
  ColumnSelection selection;
  selection.source_cols = source_cols;
  selection.label_col = label_col;
  if (label_col < -1 || label_col >= source_cols) {  // -1: no label column
    FASTTAB_FAIL(file, ": --label-col ", label_col, " is out of range: the file has ",
                 column_range_text(source_cols));
  }
  if (features == "all") {
    for (int c = 0; c < source_cols; ++c) {
      if (c != label_col) selection.features.push_back(c);
    }
  } else {
    std::size_t start = 0;
    while (start <= features.size()) {
      std::size_t comma = features.find(',', start);
      if (comma == std::string::npos) comma = features.size();
      const std::string item = features.substr(start, comma - start);
      const std::size_t dash = item.find('-');
      const int first = parse_index(features, item.substr(0, dash));
      const int last = dash == std::string::npos ? first : parse_index(features, item.substr(dash + 1));
      if (last < first) FASTTAB_FAIL("--features '", features, "': range '", item, "' runs backwards");
      if (last >= source_cols) {  // before expanding the range: '1-2147483647' must not fill memory
        FASTTAB_FAIL(file, ": --features '", features, "': column ", std::max(first, source_cols), " is out of range: the file has ",
                     column_range_text(source_cols));
      }
      for (int c = first; c <= last; ++c) selection.features.push_back(c);
      start = comma + 1;
    }
  }
  std::set<int> seen;
  for (int c : selection.features) {
    if (c >= source_cols) {
      FASTTAB_FAIL(file, ": --features '", features, "': column ", c, " is out of range: the file has ",
                   column_range_text(source_cols));
    }
    if (c == label_col) {
      FASTTAB_FAIL(file, ": --features '", features, "' includes the label column ", label_col,
                   "; leave it out (or change --label-col)");
    }
    if (!seen.insert(c).second) FASTTAB_FAIL("--features '", features, "': column ", c, " is listed twice");
  }
  if (selection.features.empty()) FASTTAB_FAIL(file, ": --features '", features, "' selects no column");
  return selection;
}

}  // namespace fasttab
