#include "fasttab/dataset.hpp"

#include <cmath>

#include "fasttab/error.hpp"
#include "host/backend/reference_math.hpp"

namespace fasttab {

std::int64_t default_test_rows(std::int64_t rows) {
  if (rows > 5'000'000) return 500'000;
  return std::max<std::int64_t>(1, rows / 10);
}

Dataset split_train_test(Table&& all, std::int64_t test_rows, const std::string& source) {
  FASTTAB_REQUIRE(test_rows >= 1, "--test-rows ", test_rows, " must be >= 1");
  FASTTAB_REQUIRE(test_rows < all.rows, source, " has ", all.rows, " rows: too few for --test-rows ", test_rows,
                  " plus at least one training row");
  Dataset d;
  d.source = source;
  const std::int64_t train_rows = all.rows - test_rows;
  d.test = slice_rows(all, train_rows, all.rows);
  // The training part keeps the original storage, shrunk in place.
  all.features.resize(std::size_t(train_rows) * all.cols);
  all.features.shrink_to_fit();
  all.labels.resize(std::size_t(train_rows));
  all.labels.shrink_to_fit();
  all.rows = train_rows;
  d.train = std::move(all);
  return d;
}

int validate_labels(Task task, int classes, const Table& table, const std::string& what) {
  int max_label = 0;
  for (std::int64_t r = 0; r < table.rows; ++r) {
    const float y = table.labels[r];
    switch (task) {
      case Task::binary:
        FASTTAB_REQUIRE(y == 0.0f || y == 1.0f, what, " row ", r + 1, ": label ", y,
                        " is not 0 or 1 (binary task; use --task multiclass or regression, or another --label-col)");
        break;
      case Task::multiclass:
        FASTTAB_REQUIRE(y >= 0.0f && y == std::floor(y) && (classes <= 0 || y < classes), what, " row ", r + 1,
                        ": label ", y, " is not an integer class in [0, ",
                        classes > 0 ? std::to_string(classes) : std::string("K"), ")");
        max_label = std::max(max_label, static_cast<int>(y));
        break;
      case Task::regression:
        FASTTAB_REQUIRE(std::isfinite(y), what, " row ", r + 1, ": label ", y, " is not finite");
        break;
    }
  }
  return task == Task::multiclass ? (classes > 0 ? classes : max_label + 1) : 1;
}

DeviceTable upload_table(Backend& backend, const Table& table, const char* what) {
  return upload_rows(backend, table, 0, table.rows, what);
}

DeviceTable upload_rows(Backend& backend, const Table& table, std::int64_t begin, std::int64_t end, const char* what) {
  FASTTAB_REQUIRE(0 <= begin && begin <= end && end <= table.rows, "upload_rows: rows [", begin, ", ", end,
                  ") of a table of ", table.rows);
  DeviceTable d;
  d.rows = end - begin;
  d.cols = table.cols;
  d.ld = padded_width(table.cols);
  const std::size_t feature_bytes = std::size_t(d.rows) * d.ld * sizeof(float);
  const std::size_t label_bytes = std::size_t(d.rows) * sizeof(float);
  const std::size_t free = backend.free_bytes();
  FASTTAB_REQUIRE(feature_bytes + label_bytes <= free, "the ", what, " (", d.rows, " rows x ", table.cols,
                  " features) needs ", feature_bytes + label_bytes, " bytes of ", backend.kind(),
                  " memory but only ", free, " bytes are free on ", backend.device_name(),
                  "; use fewer --rows or another --loader that keeps the table in host memory (slice)");
  d.features = BackendBuffer<float>(backend, std::size_t(d.rows) * d.ld, what);
  d.labels = BackendBuffer<float>(backend, std::size_t(d.rows), what);
  backend.copy_rows_to_backend(d.features.data(), d.ld * sizeof(float),
                               table.features.data() + std::size_t(begin) * table.cols, table.cols * sizeof(float),
                               table.cols * sizeof(float), std::size_t(d.rows));
  backend.copy_to_backend(d.labels.data(), table.labels.data() + begin, label_bytes);
  return d;
}

namespace {
// mean and 1/std per column; a constant column (std 0) stays centred, unscaled.
Standardization from_moments(const std::vector<double>& mean, const std::vector<double>& stddev) {
  Standardization s;
  for (std::size_t c = 0; c < mean.size(); ++c) {
    s.mean.push_back(static_cast<float>(mean[c]));
    s.inv_std.push_back(stddev[c] > 0 ? static_cast<float>(1.0 / stddev[c]) : 1.0f);
  }
  return s;
}
}  // namespace

Standardization compute_standardization(Backend& backend, const DeviceTable& train) {
  std::vector<double> mean(train.cols), stddev(train.cols);
  backend.column_moments(train.features.data(), train.rows, train.cols, train.ld, mean.data(), stddev.data());
  return from_moments(mean, stddev);
}

Standardization compute_standardization(const Table& train, std::int64_t rows) {
  FASTTAB_REQUIRE(0 <= rows && rows <= train.rows, "compute_standardization: ", rows, " rows of a table of ", train.rows);
  std::vector<double> mean(train.cols), stddev(train.cols);
  reference::column_moments(train.features.data(), rows, train.cols, train.cols, mean.data(), stddev.data());
  return from_moments(mean, stddev);
}

void apply_standardization(Backend& backend, const Standardization& s, DeviceTable& table) {
  if (!s.enabled()) return;
  BackendBuffer<float> mean(backend, s.mean.size(), "standardisation"), inv(backend, s.inv_std.size(), "standardisation");
  backend.copy_to_backend(mean.data(), s.mean.data(), mean.bytes());
  backend.copy_to_backend(inv.data(), s.inv_std.data(), inv.bytes());
  backend.standardize_columns(table.features.data(), table.rows, table.cols, table.ld, mean.data(), inv.data());
  backend.synchronize();  // the small buffers are freed on return
}

void apply_standardization(const Standardization& s, Table& table) {
  if (!s.enabled()) return;
  for (std::int64_t r = 0; r < table.rows; ++r) {
    float* row = table.features.data() + r * table.cols;
    for (int c = 0; c < table.cols; ++c) row[c] = (row[c] - s.mean[c]) * s.inv_std[c];
  }
}

}  // namespace fasttab
