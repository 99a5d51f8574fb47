// Parses column lists. Grammar: "all" | item ("," item)*, item = NAME | N | N "-" M (inclusive, N <= M).
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

std::string names_text(const std::vector<std::string>& names) {
  if (names.empty()) return "the file has no header, so columns are named by 0-based index only";
  std::string text = "its header names are";
  for (std::size_t i = 0; i < names.size() && i < 40; ++i) text += (i ? ", '" : " '") + names[i] + "'";
  if (names.size() > 40) text += ", ...";
  return text;
}

// An index, or -1 when `text` is not one (so that the caller can say what is wrong).
int parse_index(const std::string& flag, const std::string& spec, const std::string& text) {
  int value = -1;
  const char* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, value);
  if (result.ec == std::errc::result_out_of_range && result.ptr == end && !text.empty() && text[0] != '-') {
    FASTTAB_FAIL(flag, " '", spec, "': column '", text, "' is far out of range (more than 2147483647)");
  }
  if (text.empty() || result.ec != std::errc() || result.ptr != end || value < 0) return -1;
  return value;
}

// The source columns of a list, in its order (duplicates kept, for the caller to refuse).
std::vector<int> parse_columns(const std::string& file, const std::string& flag, const std::string& spec,
                               int source_cols, const std::vector<std::string>& names) {
  std::vector<int> columns;
  std::size_t start = 0;
  while (start <= spec.size()) {
    std::size_t comma = spec.find(',', start);
    if (comma == std::string::npos) comma = spec.size();
    const std::string item = spec.substr(start, comma - start);
    start = comma + 1;
    const auto named = std::find(names.begin(), names.end(), item);
    if (!item.empty() && named != names.end()) {
      columns.push_back(static_cast<int>(named - names.begin()));
      continue;
    }
    const std::size_t dash = item.find('-');
    const int first = parse_index(flag, spec, item.substr(0, dash));
    const int last = dash == std::string::npos ? first : parse_index(flag, spec, item.substr(dash + 1));
    if (first < 0 || last < 0) {
      FASTTAB_FAIL(file, ": ", flag, " '", spec, "': '", item, "' is neither a column name nor a 0-based index or "
                   "range such as '1-21'; ", names_text(names));
    }
    if (last < first) FASTTAB_FAIL(flag, " '", spec, "': range '", item, "' runs backwards");
    if (last >= source_cols) {  // before expanding the range: '1-2147483647' must not fill memory
      FASTTAB_FAIL(file, ": ", flag, " '", spec, "': column ", std::max(first, source_cols),
                   " is out of range: the file has ", column_range_text(source_cols));
    }
    for (int c = first; c <= last; ++c) columns.push_back(c);
  }
  return columns;
}

// Per source column: 1 for each column of the list (empty list: none).
std::vector<char> column_marks(const std::string& file, const std::string& flag, const std::string& spec,
                               int source_cols, const std::vector<std::string>& names) {
  std::vector<char> marks(static_cast<std::size_t>(source_cols), 0);
  if (spec.empty()) return marks;
  if (spec == "all") return std::vector<char>(static_cast<std::size_t>(source_cols), 1);
  for (int c : parse_columns(file, flag, spec, source_cols, names)) marks[static_cast<std::size_t>(c)] = 1;
  return marks;
}

int resolve_label(const std::string& file, int source_cols, const std::vector<std::string>& names,
                  const LoadOptions& options) {
  if (options.label_name.empty()) {
    if (options.label_col < -1 || options.label_col >= source_cols) {  // -1: no label column
      FASTTAB_FAIL(file, ": --label-col ", options.label_col, " is out of range: the file has ",
                   column_range_text(source_cols));
    }
    return options.label_col;
  }
  const auto named = std::find(names.begin(), names.end(), options.label_name);
  FASTTAB_REQUIRE(named != names.end(), file, ": --label-col '", options.label_name, "' is not a column name; ",
                  names_text(names));
  return static_cast<int>(named - names.begin());
}

}  // namespace

ColumnSelection select_columns(const std::string& file, int source_cols, const std::vector<std::string>& names,
                               const LoadOptions& options) {
  const std::string& features = options.features;
  ColumnSelection selection;
  selection.source_cols = source_cols;
  const int label_col = selection.label_col = resolve_label(file, source_cols, names, options);
  const std::vector<char> dropped = column_marks(file, "--drop", options.drop, source_cols, names);
  if (features == "all") {
    for (int c = 0; c < source_cols; ++c) {
      if (c != label_col && !dropped[std::size_t(c)]) selection.features.push_back(c);
    }
  } else {
    FASTTAB_REQUIRE(options.drop.empty(), "--drop '", options.drop, "' and --features '", features,
                    "' both choose the features: give one of them (--drop leaves columns out of 'all')");
    selection.features = parse_columns(file, "--features", features, source_cols, names);
  }
  std::set<int> seen;
  for (int c : selection.features) {
    if (c == label_col) {
      FASTTAB_FAIL(file, ": --features '", features, "' includes the label column ", label_col,
                   "; leave it out (or change --label-col)");
    }
    if (!seen.insert(c).second) FASTTAB_FAIL("--features '", features, "': column ", c, " is listed twice");
  }
  if (selection.features.empty()) {
    FASTTAB_FAIL(file, ": --features '", features, "'", options.drop.empty() ? "" : " with --drop '" + options.drop + "'",
                 " selects no column");
  }
  selection.text = column_marks(file, "--categorical", options.categorical, source_cols, names);
  selection.numeric = column_marks(file, "--numeric", options.numeric, source_cols, names);
  for (int c = 0; c < source_cols; ++c) {
    FASTTAB_REQUIRE(!(selection.text[c] && selection.numeric[c]), file, ": column ", c,
                    names.empty() ? std::string() : " ('" + names[std::size_t(c)] + "')",
                    " is named by both --categorical and --numeric");
  }
  return selection;
}

}  // namespace fasttab
