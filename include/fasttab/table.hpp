// Tables in host memory: what loaders produce and what the trainer uploads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fasttab {

// A dense table of float32 features and one float32 label per row, in host memory.
//   features: rows x cols, row-major (row r, column c at features[r * cols + c]).
//   labels:   rows values (0/1 for binary, 0..K-1 for multiclass, any real for regression).
struct Table {
  std::int64_t rows = 0;
  int cols = 0;
  std::vector<float> features;
  std::vector<float> labels;
  std::vector<std::string> feature_names;  // optional; empty or cols names
};

// Row range [begin, end) of a table, copied into a new table.
Table slice_rows(const Table& table, std::int64_t begin, std::int64_t end);

}  // namespace fasttab
