// Column selection: --label-col, --features, --drop, --categorical and --numeric resolved against a file's
// columns, by 0-based index or by header name.
#pragma once

#include <string>
#include <vector>

#include "fasttab/io.hpp"

namespace fasttab {

// The columns a loader keeps, as 0-based source column indices. Features are in the order of the spec.
struct ColumnSelection {
  int source_cols = 0;
  int label_col = 0;
  std::vector<int> features;
  std::vector<char> text;     // per source column: --categorical named it (its values are categories, even numbers)
  std::vector<char> numeric;  // per source column: --numeric named it (a field that is not a number is an error)
};

// Resolves options.label_col / label_name, features, drop, categorical and numeric for a file of `source_cols`
// columns whose header names are `names` (empty without a header). A column list is "all" (features only), or
// comma-separated items, each a header name, a 0-based index or an inclusive range "1-21" (an item that is a
// header name is that column). Throws fasttab::Error naming `file` for a malformed spec, an unknown name, an index
// out of range, a duplicate, a feature that is the label column, or no feature left.
ColumnSelection select_columns(const std::string& file, int source_cols, const std::vector<std::string>& names,
                               const LoadOptions& options);

}  // namespace fasttab
