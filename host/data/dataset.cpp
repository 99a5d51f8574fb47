#include "fasttab/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <utility>

#include "fasttab/error.hpp"
#include "host/backend/philox.hpp"
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
  d.split = "last rows";
  return d;
}

namespace {

void require_fraction(const char* flag, double f) {
  FASTTAB_REQUIRE(std::isfinite(f) && f > 0 && f < 1, flag, " ", f, ": must be a fraction in (0, 1), ends excluded");
}

// round(fraction * rows), at least 1 and at most rows - 1; the marked rows are the first `count` of the rows
// sorted by their split keys (stable).
std::vector<char> choose_rows(std::int64_t rows, double fraction, std::uint64_t seed, std::uint32_t part,
                              const char* flag, const std::string& what) {
  FASTTAB_REQUIRE(rows >= 2, what, " has ", rows, " rows: too few for ", flag, " (at least 2)");
  FASTTAB_REQUIRE(rows <= std::int64_t(std::numeric_limits<std::uint32_t>::max()), what, " has ", rows, " rows: too many for ", flag);
  const std::int64_t count =
      std::clamp<std::int64_t>(std::llround(fraction * double(rows)), 1, rows - 1);
  std::vector<std::pair<std::uint64_t, std::uint32_t>> keys(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r)
    keys[r] = {split_key(seed, part, static_cast<std::uint32_t>(r)), static_cast<std::uint32_t>(r)};
  std::nth_element(keys.begin(), keys.begin() + count, keys.end());  // (key, row) pairs are distinct: well defined
  std::vector<char> chosen(static_cast<std::size_t>(rows), 0);
  for (std::int64_t i = 0; i < count; ++i) chosen[keys[i].second] = 1;
  return chosen;
}

// The rows whose mark equals `mark`, in order.
Table select_rows(const Table& t, const std::vector<char>& marks, char mark) {
  Table out = table_like(t);
  for (std::int64_t r = 0; r < t.rows; ++r) {
    if (marks[r] != mark) continue;
    out.features.insert(out.features.end(), t.features.begin() + r * t.cols, t.features.begin() + (r + 1) * t.cols);
    out.labels.push_back(t.labels[r]);
    ++out.rows;
  }
  return out;
}

std::string fraction_text(double f) {
  std::ostringstream s;
  s << f;
  return s.str();
}

}  // namespace

Dataset split_random(Table&& all, double test_fraction, std::uint64_t split_seed, const std::string& source) {
  require_fraction("--test-fraction", test_fraction);
  const std::vector<char> test = choose_rows(all.rows, test_fraction, split_seed, 0, "--test-fraction", source);
  Dataset d;
  d.source = source;
  d.test = select_rows(all, test, 1);
  d.train = select_rows(all, test, 0);
  all = Table();
  d.split = "random test " + fraction_text(test_fraction) + " seed " + std::to_string(split_seed);
  return d;
}

std::int64_t take_validation_rows(Table& train, double val_fraction, std::uint64_t split_seed) {
  require_fraction("--val-fraction", val_fraction);
  const std::vector<char> val = choose_rows(train.rows, val_fraction, split_seed, 1, "--val-fraction", "the training set");
  Table rest = select_rows(train, val, 0);
  const Table chosen = select_rows(train, val, 1);
  rest.features.insert(rest.features.end(), chosen.features.begin(), chosen.features.end());
  rest.labels.insert(rest.labels.end(), chosen.labels.begin(), chosen.labels.end());
  rest.rows += chosen.rows;
  train = std::move(rest);
  return chosen.rows;
}

Dataset with_test_table(Table&& train, Table&& test, const std::string& source, const std::string& test_source) {
  FASTTAB_REQUIRE(test.cols == train.cols, "--test-data ", test_source, " has ", test.cols, " features but ", source,
                  " has ", train.cols, "; the test file must have the training file's columns");
  FASTTAB_REQUIRE(test.rows >= 1, "--test-data ", test_source, " has no rows");
  FASTTAB_REQUIRE(train.rows >= 1, source, " has no rows");
  if (!train.label_classes.empty() || !test.label_classes.empty())
    map_label_classes(test, train.label_classes, "--test-data " + test_source);
  Dataset d;
  d.source = source;
  d.train = std::move(train);
  d.test = std::move(test);
  d.split = "test file";
  return d;
}

int validate_labels(Task task, int classes, const Table& table, const std::string& what) {
  if (!table.label_classes.empty()) {  // a text label: its class count decides, before any row does
    const int count = static_cast<int>(table.label_classes.size());
    std::string names;
    for (int i = 0; i < count && i < 8; ++i) names += (i ? ", '" : "'") + table.label_classes[std::size_t(i)] + "'";
    if (count > 8) names += ", ...";
    FASTTAB_REQUIRE(task != Task::regression, what, ": the label column holds text (", names, "); regression needs "
                    "numbers (use --task binary or multiclass, or another --label-col)");
    FASTTAB_REQUIRE(task != Task::binary || count <= 2, what, ": the label column holds ", count, " classes (", names,
                    "); the binary task needs two (use --task multiclass, or another --label-col)");
  }
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

namespace {

// Throws Error when `bytes` for a table of rows x cols (`what`) exceed the backend's free memory.
void require_room(Backend& backend, std::size_t bytes, std::int64_t rows, int cols, const char* what) {
  const std::size_t free = backend.free_bytes();
  FASTTAB_REQUIRE(bytes <= free, "the ", what, " (", rows, " rows x ", cols, " features) needs ", bytes, " bytes of ",
                  backend.kind(), " memory but only ", free, " bytes are free on ", backend.device_name(),
                  "; use fewer --rows or another --loader that keeps the table in host memory (slice)");
}

// rows x cols host floats, rows src_ld floats apart, into a new padded DeviceTable's features (labels not set).
DeviceTable upload_features(Backend& backend, const float* src, std::int64_t rows, int cols, int src_ld,
                            const char* what) {
  DeviceTable d;
  d.rows = rows;
  d.cols = cols;
  d.ld = padded_width(cols);
  require_room(backend, std::size_t(rows) * (d.ld + 1) * sizeof(float), rows, cols, what);
  d.features = BackendBuffer<float>(backend, std::size_t(rows) * d.ld, what);
  backend.copy_rows_to_backend(d.features.data(), d.ld * sizeof(float), src, src_ld * sizeof(float),
                               cols * sizeof(float), std::size_t(rows));
  return d;
}

void upload_labels(Backend& backend, const float* labels, DeviceTable& d, const char* what) {
  d.labels = BackendBuffer<float>(backend, std::size_t(d.rows), what);
  backend.copy_to_backend(d.labels.data(), labels, d.labels.bytes());
}

}  // namespace

DeviceTable upload_rows(Backend& backend, const Table& table, std::int64_t begin, std::int64_t end, const char* what) {
  FASTTAB_REQUIRE(0 <= begin && begin <= end && end <= table.rows, "upload_rows: rows [", begin, ", ", end,
                  ") of a table of ", table.rows);
  DeviceTable d = upload_features(backend, table.features.data() + std::size_t(begin) * table.cols, end - begin,
                                  table.cols, table.cols, what);
  upload_labels(backend, table.labels.data() + begin, d, what);
  return d;
}

bool reads_in_place(const Backend& backend, const FeatureView& view) {
  if (!view.set() || !backend.can_read(view.data)) return false;
  return cuda_pointer_device(view.data) >= 0 || view.cols == padded_width(view.cols);
}

DeviceTable view_rows(Backend& backend, const FeatureView& view, const std::vector<float>& labels, std::int64_t begin,
                      std::int64_t end, const char* what) {
  FASTTAB_REQUIRE(view.set() && 0 <= begin && begin <= end && end <= view.rows &&
                      (labels.empty() || labels.size() == std::size_t(view.rows)),
                  "view_rows: rows [", begin, ", ", end, ") of a view of ", view.rows, " rows with ", labels.size(),
                  " labels");
  const float* first = view.data + std::size_t(begin) * view.cols;
  const std::int64_t rows = end - begin;
  const int device = cuda_pointer_device(view.data);
  DeviceTable d;
  if (backend.can_read(view.data)) {
    d.rows = rows;
    d.cols = view.cols;
    d.ld = view.cols;
    d.features = BackendBuffer<float>::borrow(const_cast<float*>(first), std::size_t(rows) * view.cols);
    if (!reads_in_place(backend, view)) make_features_writable(backend, d, what);  // host rows, padded
  } else {
    FASTTAB_REQUIRE(device < 0, "the ", what, " is in the memory of CUDA device ", device, ", which the ",
                    backend.kind(), " backend (", backend.device_name(), ") cannot read; train on that device, or "
                    "move the array there (or to the host) first");
    d = upload_features(backend, first, rows, view.cols, view.cols, what);
  }
  const std::int64_t bad = backend.find_nonfinite(d.features.data(), std::int64_t(d.rows) * d.ld);
  if (bad >= 0)
    FASTTAB_FAIL("a NaN or an infinity in row ", begin + bad / d.ld, ", feature ", bad % d.ld, " (counting from 0) "
                 "of the ", what, "; replace missing values before training (e.g. SimpleImputer)");
  if (labels.empty()) return d;
  upload_labels(backend, labels.data() + begin, d, what);
  const std::int64_t bad_label = backend.find_nonfinite(d.labels.data(), d.rows);
  FASTTAB_REQUIRE(bad_label < 0, "a NaN or an infinity as the label of row ", begin + bad_label, " of the ", what);
  return d;
}

void make_features_writable(Backend& backend, DeviceTable& table, const char* what) {
  if (table.features.owned() || table.features.data() == nullptr) return;
  DeviceTable copy;
  copy.rows = table.rows;
  copy.cols = table.cols;
  copy.ld = padded_width(table.cols);
  require_room(backend, std::size_t(copy.rows) * copy.ld * sizeof(float), copy.rows, copy.cols, what);
  copy.features = BackendBuffer<float>(backend, std::size_t(copy.rows) * copy.ld, what);
  backend.copy_rows_within(copy.features.data(), copy.ld * sizeof(float), table.features.data(),
                           table.ld * sizeof(float), table.cols * sizeof(float), std::size_t(table.rows));
  table.features = std::move(copy.features);
  table.ld = copy.ld;
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

Metrics TargetTransform::trained_scale(Metrics m) const {
  m.loss *= std * std;  // regression's loss is the MSE
  m.rmse *= std;
  m.mae *= std;
  return m;
}

namespace {
void require_log_labels(const Table& table, std::int64_t rows, const std::string& what) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float y = table.labels[std::size_t(r)];
    FASTTAB_REQUIRE(std::isfinite(y) && y > 0.0f, what, " row ", r + 1, ": label ", y,
                    " is not a finite number > 0, so --log-target cannot take its log; drop --log-target or the row");
  }
}
}  // namespace

TargetTransform compute_target_transform(Task task, bool standardize, bool log, const Table& train, std::int64_t rows,
                                         const std::string& train_what, const Table& test, const std::string& test_what) {
  TargetTransform t;
  if (task != Task::regression) return t;
  FASTTAB_REQUIRE(0 <= rows && rows <= train.rows, "compute_target_transform: ", rows, " rows of a table of ", train.rows);
  t.log = log;
  if (log) {
    require_log_labels(train, train.rows, train_what);  // the validation rows too
    require_log_labels(test, test.rows, test_what);
  }
  if (!standardize || rows == 0) return t;
  // Two passes in double, the centred second one for accuracy (as column_moments).
  const auto value = [&](std::int64_t r) {
    const double y = train.labels[std::size_t(r)];
    return log ? std::log(y) : y;
  };
  double sum = 0;
  for (std::int64_t r = 0; r < rows; ++r) sum += value(r);
  t.mean = sum / double(rows);
  double squares = 0;
  for (std::int64_t r = 0; r < rows; ++r) squares += (value(r) - t.mean) * (value(r) - t.mean);
  const double stddev = std::sqrt(squares / double(rows));
  t.std = stddev > 0 ? stddev : 1.0;
  return t;
}

void apply_target_transform(Backend& backend, const TargetTransform& t, DeviceTable& table) {
  if (t.identity() || table.rows == 0) return;
  std::vector<float> labels(std::size_t(table.rows));
  backend.copy_to_host(labels.data(), table.labels.data(), labels.size() * sizeof(float));
  for (float& y : labels) y = static_cast<float>(t.forward(y));
  backend.copy_to_backend(table.labels.data(), labels.data(), labels.size() * sizeof(float));
  backend.synchronize();  // `labels` is freed on return
}

void apply_target_transform(const TargetTransform& t, Table& table) {
  if (t.identity()) return;
  for (float& y : table.labels) y = static_cast<float>(t.forward(y));
}

void apply_standardization(const Standardization& s, Table& table) {
  if (!s.enabled()) return;
  for (std::int64_t r = 0; r < table.rows; ++r) {
    float* row = table.features.data() + r * table.cols;
    for (int c = 0; c < table.cols; ++c) row[c] = (row[c] - s.mean[c]) * s.inv_std[c];
  }
}

}  // namespace fasttab
