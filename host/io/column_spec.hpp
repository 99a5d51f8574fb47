// Column selection: --label-col and --features resolved against the number of columns a file has.
#pragma once

#include <string>
#include <vector>

namespace fasttab {

// The columns a loader keeps, as 0-based source column indices. Features are in the order of the spec.
struct ColumnSelection {
  int source_cols = 0;
  int label_col = 0;
  std::vector<int> features;
};

// Resolves `features` ("all", or comma-separated columns and inclusive ranges, "1-21,25") for a file of
// `source_cols` columns. Throws fasttab::Error naming `file` for a malformed spec, an index out of range,
// a duplicate, or a feature that is the label column.
ColumnSelection select_columns(const std::string& file, int source_cols, int label_col,
                               const std::string& features);

}  // namespace fasttab
