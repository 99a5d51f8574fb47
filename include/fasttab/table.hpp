// Tables in host memory: what loaders produce and what the trainer uploads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fasttab {

// A text (categorical) feature column as loaded: its values are stored in the features as level indices (0, 1,
// ... in the order of first appearance in the file; NaN for a missing value), and levels[i] is the text of index i.
// Codes the model sees come later, from a Vocabulary built on the training rows (encode_categories, dataset.hpp).
struct CategoricalColumn {
  int feature = 0;                  // the table's feature column
  std::vector<std::string> levels;  // the text of each level index
};

// A categorical column's vocabulary, built on the training rows: code 0 is a missing value, code 1 a category
// unseen in the training rows (or rarer than the minimum count), and code 2 + i is categories[i]; the categories
// are ordered by their count in the training rows, most frequent first (ties by text).
struct Vocabulary {
  int feature = 0;                      // the table's feature column
  std::string name;                     // its header name ("" without a header)
  std::vector<std::string> categories;
  int cardinality() const { return static_cast<int>(categories.size()) + 2; }
};

// --nan-policy indicator, for one numeric feature column: its missing values are replaced by `mean` (of the training
// rows' present values); with `indicator` (the column had missing values in the training rows) a column is appended
// to the features, 1 where the value was missing, else 0 (appended columns follow the loaded ones, in feature order).
struct Imputation {
  int feature = 0;
  float mean = 0;
  bool indicator = false;
};

// A dense table of float32 features and one float32 label per row, in host memory.
//   features: rows x cols, row-major (row r, column c at features[r * cols + c]).
//   labels:   rows values (0/1 for binary, 0..K-1 for multiclass, any real for regression).
// Categorical columns hold level indices (`categorical`) after loading, and vocabulary codes (`vocabularies`)
// once encoded; a table has one or the other, never both.
struct Table {
  std::int64_t rows = 0;
  int cols = 0;
  std::vector<float> features;
  std::vector<float> labels;
  std::vector<std::string> feature_names;  // optional; empty or cols names
  std::vector<CategoricalColumn> categorical;  // text columns as loaded, in increasing feature order
  std::vector<Vocabulary> vocabularies;        // text columns once encoded, in increasing feature order
  std::vector<Imputation> imputations;         // --nan-policy indicator, once imputed (cols then counts the indicators)
  // A text label column: the class names, labels[r] being the index of row r's class (binary: class 1 is
  // yes/true/1 where the two names say so, else the second in sorted order). Empty for a numeric label.
  std::vector<std::string> label_classes;
};

// A table with no rows and everything else of `table`: columns, names, categories and label classes.
Table table_like(const Table& table);

// Row range [begin, end) of a table, copied into a new table.
Table slice_rows(const Table& table, std::int64_t begin, std::int64_t end);

}  // namespace fasttab
