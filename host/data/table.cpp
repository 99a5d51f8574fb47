#include "fasttab/table.hpp"

#include <algorithm>

#include "fasttab/error.hpp"

namespace fasttab {

Table table_like(const Table& table) {
  Table out;
  out.cols = table.cols;
  out.feature_names = table.feature_names;
  out.categorical = table.categorical;
  out.vocabularies = table.vocabularies;
  out.imputations = table.imputations;
  out.label_classes = table.label_classes;
  return out;
}

Table slice_rows(const Table& table, std::int64_t begin, std::int64_t end) {
  FASTTAB_REQUIRE(0 <= begin && begin <= end && end <= table.rows, "slice_rows: rows [", begin, ", ", end,
                  ") are outside the table's ", table.rows, " rows");
  Table out = table_like(table);
  out.rows = end - begin;
  const std::size_t cols = static_cast<std::size_t>(table.cols);
  out.features.assign(table.features.begin() + begin * cols, table.features.begin() + end * cols);
  out.labels.assign(table.labels.begin() + begin, table.labels.begin() + end);
  return out;
}

}  // namespace fasttab
