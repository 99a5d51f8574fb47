// From a loaded table to what the trainer consumes: the train/test split, label checks per task, and the
// tables uploaded once into backend memory (padded rows, so that every row starts 16-byte aligned).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "fasttab/backend.hpp"
#include "fasttab/table.hpp"

namespace fasttab {

// A dense row-major float32 matrix the caller holds and the engine reads without copying it to the host: a
// NumPy array's memory, or a CUDA array's device memory (CuPy, PyTorch). rows x cols floats, each row cols floats
// after the previous one. The engine never writes to it, and reads it only during the call it is passed to.
struct FeatureView {
  const float* data = nullptr;
  std::int64_t rows = 0;
  int cols = 0;
  bool set() const { return data != nullptr; }
};

struct Dataset {
  Table train, test;
  // Features the caller holds (FeatureView): when train_features (test_features) is set, `train` (`test`) holds the
  // rows' count, the column count and the labels but no features, and the trainer reads the view's memory in place
  // where its backend can read it (Backend::can_read), else uploads from it. Only the gather loader reads them,
  // unsharded; features and labels must be finite (checked by the backend, on the device for CUDA).
  FeatureView train_features, test_features;
  bool has_views() const { return train_features.set() || test_features.set(); }
  std::string source;  // "synthetic" or the file path
  std::string split;   // how the rows were split, recorded in a checkpoint: "last rows", "random test 0.2 seed 0",
                       // "test file"; a library caller's own: "evaluation set", or "none" (test is a stand-in that
                       // nobody reads: no single-class warning for it)
  bool synthetic = false;
  double bayes_auc = std::numeric_limits<double>::quiet_NaN();  // synthetic binary data only
  // Sharded loading (docs/scaling.md): `train` holds only this rank's shard of the training rows, followed by the
  // validation rows. train_rows_total is then the number of training rows of the whole table (validation rows
  // included) and shard_begin the index among them of `train`'s first row; -1: `train` holds every training row.
  std::int64_t train_rows_total = -1;
  std::int64_t shard_begin = 0;
  bool partial() const { return train_rows_total >= 0; }
  // The whole table's training rows, validation rows included (train.rows unless partial).
  std::int64_t all_train_rows() const { return partial() ? train_rows_total : train.rows; }
};

// The seed's default: 500,000 test rows when the table has more than 5M rows, else 10% (at least 1).
std::int64_t default_test_rows(std::int64_t rows);

// The last test_rows rows are the test set, the rest train (the table is consumed). Throws Error if either
// part would be empty.
Dataset split_train_test(Table&& all, std::int64_t test_rows, const std::string& source);

// A seeded random split: round(test_fraction * rows) rows (at least 1, at most rows - 1) chosen by Philox sort
// keys (split_key) are the test set, the rest train; each part keeps the table's row order. Throws Error naming
// --test-fraction when it is outside (0, 1).
Dataset split_random(Table&& all, double test_fraction, std::uint64_t split_seed, const std::string& source);

// Early stopping's validation rows by a seeded random choice: round(val_fraction * rows) of the training rows
// (at least 1, at most rows - 1) move to the end of `train`, where the trainer takes its last val_rows rows;
// both parts keep their order. Returns that count. Throws Error naming --val-fraction outside (0, 1).
std::int64_t take_validation_rows(Table& train, double val_fraction, std::uint64_t split_seed);

// A separate test file: its feature count must match the training table's.
Dataset with_test_table(Table&& train, Table&& test, const std::string& source, const std::string& test_source);

// Categorical columns: the vocabulary of each is built on the first `vocabulary_rows` training rows (the rows the
// model trains on: the validation rows at the end are left out), its categories ordered by count, most frequent
// first (ties by text); a category seen fewer than `min_count` times goes to the unseen bucket. Then the training
// and test tables are encoded with it (codes: 0 missing, 1 unseen, 2.. the categories). Nothing to do for a
// dataset without text columns. Throws Error when min_count < 1.
void encode_categories(Dataset& d, int min_count, std::int64_t vocabulary_rows);

// Encodes a loaded table's categorical columns by their text with vocabularies built on other rows (the test
// file, predict's file): a text not in the vocabulary is code 1, a missing value code 0. A column that holds
// numbers in `t` but was categorical in training is read by its values' text ("%g"). Throws Error naming `what`
// when a column holds text in `t` but numbers in training.
void encode_with_vocabularies(Table& t, const std::vector<Vocabulary>& vocabularies, const std::string& what);

// --nan-policy indicator: each numeric feature column (not a categorical one) gets an Imputation with the mean of
// its present values in the first `rows` training rows; a column with a missing value (NaN) there also gets an
// indicator. Then apply_imputations on the training and test tables. Nothing to do when no table holds a NaN.
// Returns the number of indicator columns added.
int impute_missing_values(Dataset& d, std::int64_t rows);
// On one table (the test rows, predict's file): NaNs of each imputed column replaced by its mean, and the indicator
// columns appended. Throws Error naming `what` for a NaN in a column without an imputation (a categorical code).
void apply_imputations(Table& t, const std::vector<Imputation>& imputations, const std::string& what);

// Renumbers a table's text label classes as `classes` (the training data's): throws Error naming `what` and the
// class for a class the training data does not have, or a text label where training had numbers.
void map_label_classes(Table& t, const std::vector<std::string>& classes, const std::string& what);

// Checks labels for the task: binary 0/1, multiclass integers in [0, classes), regression finite. The error
// names the row and the value. Returns the class count for multiclass (max label + 1 when classes <= 0).
int validate_labels(Task task, int classes, const Table& table, const std::string& what);

// Rows padded to a multiple of 4 floats: the leading dimension of every uploaded table.
inline int padded_width(int cols) { return (cols + 3) / 4 * 4; }

// A table in backend memory: features[rows, ld] (padding zero) and labels[rows]. Uploaded once, or the caller's
// array borrowed in place (features not owned; ld = cols).
struct DeviceTable {
  BackendBuffer<float> features, labels;
  std::int64_t rows = 0;
  int cols = 0, ld = 0;
};

// Uploads a host table, or its rows [begin, end). Checks first that it fits: the Error says how many bytes it needs
// and how many are free.
DeviceTable upload_table(Backend& backend, const Table& table, const char* what);
DeviceTable upload_rows(Backend& backend, const Table& table, std::int64_t begin, std::int64_t end, const char* what);
// Whether the backend reads a caller's features in place: CUDA memory that the backend can read (always: a copy
// would double the card's share of the table), and host memory that the CPU backend reads when its rows are
// already a multiple of 4 floats wide (as upload_rows pads them; rows of another width are copied into padded rows,
// which the CPU's GEMMs read about 4% faster: measured with 21 features, 2026-11-29, docs/python.md).
bool reads_in_place(const Backend& backend, const FeatureView& view);
// Rows [begin, end) of a caller's features with the matching labels[begin, end) (host memory): the features read in
// place when reads_in_place (the DeviceTable borrows them), else copied into padded rows in backend memory as
// upload_rows does; the labels are always uploaded (the trainer transforms them), unless `labels` is empty (a
// prediction: the table then has no labels). Throws Error naming `what` when
// the view is on another device than the backend's, and when a feature or label is NaN or infinite (row, column).
DeviceTable view_rows(Backend& backend, const FeatureView& view, const std::vector<float>& labels, std::int64_t begin,
                      std::int64_t end, const char* what);
// A table whose features the caller may change: `table` itself when it owns them, else a padded copy in backend
// memory (the fit is checked first, as upload_rows does) that replaces the borrowed view.
void make_features_writable(Backend& backend, DeviceTable& table, const char* what);

// Standardisation statistics of the training split (computed by the backend, on the device for CUDA).
struct Standardization {
  std::vector<float> mean, inv_std;  // empty when off
  bool enabled() const { return !mean.empty(); }
};
Standardization compute_standardization(Backend& backend, const DeviceTable& train);
// The same from the first `rows` rows of a host table (for loaders that keep the training table in host memory).
Standardization compute_standardization(const Table& train, std::int64_t rows);
// Applies (x - mean) * inv_std in place on the backend table and, identically, on a host table.
void apply_standardization(Backend& backend, const Standardization& s, DeviceTable& table);
void apply_standardization(const Standardization& s, Table& table);

// A regression model's target transform: it trains on z = (t - mean) / std, where t = log(y) under --log-target
// and t = y otherwise; mean and std (population) are those of t over the training rows (std 0 -> 1), or 0 and 1
// without --standardize-target. Binary and multiclass models: the identity. Its predictions come back as
// y = t = z * std + mean, or exp of that under --log-target, in the user's units.
struct TargetTransform {
  bool log = false;
  double mean = 0, std = 1;
  bool identity() const { return !log && mean == 0 && std == 1; }
  double forward(double y) const { return ((log ? std::log(y) : y) - mean) / std; }
  double inverse(double z) const {
    const double t = z * std + mean;
    return log ? std::exp(t) : t;
  }
  // Metrics of standardised outputs against standardised labels, in the scale the model was trained on (y, or
  // log y under --log-target): exactly, since z = (t - mean) / std is affine, the differences scale by std:
  // rmse and mae by std, the MSE loss by std^2; R^2 (a ratio of two such sums) is unchanged.
  Metrics trained_scale(Metrics m) const;
  bool operator==(const TargetTransform& o) const { return log == o.log && mean == o.mean && std == o.std; }
};

// The transform of `task` from the first `rows` labels of `train` (the rows the model trains on). Under `log` every
// label of `train` and of `test` must be finite and > 0: the Error names the table (`train_what`, `test_what`), the
// row and the value.
TargetTransform compute_target_transform(Task task, bool standardize, bool log, const Table& train, std::int64_t rows,
                                         const std::string& train_what, const Table& test, const std::string& test_what);
// Labels y -> float(forward(y)) in place: of a backend table (through a host copy) and of a host table.
void apply_target_transform(Backend& backend, const TargetTransform& t, DeviceTable& table);
void apply_target_transform(const TargetTransform& t, Table& table);

}  // namespace fasttab
