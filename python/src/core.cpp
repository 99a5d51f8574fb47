// fasttab._core: the engine behind the Python package, bound with nanobind. Only the public API
// (include/fasttab/) is used: a Table built from a float32 C-order NumPy array, fasttab::train with the GIL
// released, a TrainObserver that takes the GIL back briefly per batch (signals: Ctrl-C) and per epoch (the
// Python side's figures, verbose lines and callback), and predictions from a SavedModel loaded from the CLI's
// checkpoint file.
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "fasttab/checkpoint.hpp"  // load_saved_model, SavedModel
#include "fasttab/fasttab.hpp"
#include "fasttab/predictor.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

using fasttab::Error;

// Host arrays the binding reads: float32, C order, on the CPU (the Python side converts once before).
using Matrix = nb::ndarray<const float, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using Vector = nb::ndarray<const float, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

// Thrown from the observer when a Python error is set (KeyboardInterrupt from a signal handler, an exception
// from the callback): it unwinds train() and is turned back into that Python error once the GIL is held again.
struct PythonErrorPending {};
// Thrown from on_epoch when the callback returned False: training ends after that epoch (whose checkpoint the
// trainer has already written, before calling on_epoch).
struct StopRequested {};

// An input matrix as the Python side passes it (python/fasttab/_inputs.py, cuda_matrix): a float32 C-order NumPy
// array, or a CUDA array as the tuple (device pointer, rows, cols) taken from its __cuda_array_interface__ or
// DLPack. The Python side holds the array for the whole call, so its memory stays valid without the GIL.
struct InputMatrix {
  std::optional<Matrix> host;  // keeps nanobind's view of a NumPy array
  fasttab::FeatureView view;
  int device = -1;  // the CUDA device whose memory holds it; -1: host memory
};

InputMatrix input_matrix(nb::handle h, const char* what) {
  InputMatrix m;
  if (nb::isinstance<nb::tuple>(h)) {
    const auto [pointer, rows, cols] = nb::cast<std::tuple<std::uintptr_t, std::int64_t, int>>(h);
    m.view = fasttab::FeatureView{reinterpret_cast<const float*>(pointer), rows, cols};
    m.device = fasttab::cuda_pointer_device(m.view.data);
    if (m.device < 0)
      throw nb::value_error((std::string(what) + " was passed as a CUDA array, but its pointer is not CUDA device "
                             "memory that this process can read").c_str());
    return m;
  }
  m.host = nb::cast<Matrix>(h, /*convert=*/false);
  m.view = fasttab::FeatureView{m.host->data(), std::int64_t(m.host->shape(0)), int(m.host->shape(1))};
  return m;
}

// The CUDA device of the arrays passed (-1: all in host memory). ValueError for arrays on two devices, or for a CUDA
// array with device="cpu".
int cuda_device_of(const std::vector<std::pair<const InputMatrix*, const char*>>& arrays, fasttab::DeviceChoice choice) {
  int device = -1;
  const char* first = nullptr;
  for (const auto& [m, what] : arrays) {
    if (m->device < 0) continue;
    if (choice == fasttab::DeviceChoice::cpu)
      throw nb::value_error((std::string(what) + " is a CUDA array (device " + std::to_string(m->device) +
                             ") but device='cpu'; pass a NumPy array, or use device='cuda'").c_str());
    if (device >= 0 && m->device != device)
      throw nb::value_error((std::string(what) + " is on CUDA device " + std::to_string(m->device) + " but " + first +
                             " is on device " + std::to_string(device) + "; fasttab trains on one GPU: move them to "
                             "the same device").c_str());
    device = m->device;
    first = what;
  }
  return device;
}

// The backend for arrays on CUDA device `device` (-1: host arrays, the estimator's device choice).
std::unique_ptr<fasttab::Backend> backend_for(fasttab::DeviceChoice choice, int device) {
  return device >= 0 ? fasttab::make_cuda_backend(device) : fasttab::make_backend(choice);
}

// ValueError for a NaN or infinity among the features of a CUDA array (the Python side checks host arrays as
// scikit-learn does). One pass on the device. `fix`: what the message advises.
void require_finite(fasttab::Backend& backend, const fasttab::FeatureView& v, const char* what,
                    const char* fix = "fasttab does not take missing values in arrays: impute them first") {
  if (v.rows == 0 || fasttab::cuda_pointer_device(v.data) < 0 || !backend.can_read(v.data)) return;
  const std::int64_t bad = backend.find_nonfinite(v.data, v.rows * v.cols);
  if (bad >= 0)
    throw nb::value_error((std::string(what) + " holds a NaN or an infinity (row " + std::to_string(bad / v.cols) +
                           ", feature " + std::to_string(bad % v.cols) + "); " + fix).c_str());
}

// Whether a host array holds a NaN.
bool host_has_nan(const InputMatrix& m) {
  const float* v = m.view.data;
  return std::any_of(v, v + m.view.rows * m.view.cols, [](float x) { return std::isnan(x); });
}

// A dataset table holding the rows' count, columns and labels of a view (the features stay in the caller's array).
fasttab::Table labels_table(const fasttab::FeatureView& v, const Vector& y, const char* what) {
  FASTTAB_REQUIRE(std::int64_t(y.shape(0)) == v.rows, what, " has ", v.rows, " rows but its labels ", y.shape(0));
  fasttab::Table t;
  t.rows = v.rows;
  t.cols = v.cols;
  t.labels.assign(y.data(), y.data() + y.size());
  return t;
}

fasttab::Table make_table(const Matrix& x, const Vector& y) {
  FASTTAB_REQUIRE(x.shape(0) == y.shape(0), "X has ", x.shape(0), " rows but y has ", y.shape(0));
  fasttab::Table t;
  t.rows = static_cast<std::int64_t>(x.shape(0));
  t.cols = static_cast<int>(x.shape(1));
  t.features.assign(x.data(), x.data() + x.size());
  t.labels.assign(y.data(), y.data() + y.size());
  return t;
}

// Categorical columns as the Python side passes them: (feature index, levels), the column's values in X being level
// indices (NaN: missing), as a loader's CategoricalColumn holds them.
using Levels = std::vector<std::pair<int, std::vector<std::string>>>;

// The table's CategoricalColumns from `levels` (in increasing feature order), after checking that every value of
// those columns is a level index or NaN: the engine's encoding indexes the levels by them.
void add_categorical(fasttab::Table& t, const Levels& levels, const std::string& what) {
  for (const auto& [feature, names] : levels) {
    FASTTAB_REQUIRE(feature >= 0 && feature < t.cols, what, ": categorical feature ", feature, " is not among its ",
                    t.cols, " features");
    for (std::int64_t r = 0; r < t.rows; ++r) {
      const float v = t.features[std::size_t(r) * t.cols + feature];
      FASTTAB_REQUIRE(std::isnan(v) || (v >= 0 && v < float(names.size()) && v == std::floor(v)), what, ": row ", r,
                      " of categorical feature ", feature, " holds ", v, ", not a level index below ", names.size());
    }
    t.categorical.push_back(fasttab::CategoricalColumn{feature, names});
  }
  std::sort(t.categorical.begin(), t.categorical.end(),
            [](const fasttab::CategoricalColumn& a, const fasttab::CategoricalColumn& b) { return a.feature < b.feature; });
  for (std::size_t i = 1; i < t.categorical.size(); ++i)
    FASTTAB_REQUIRE(t.categorical[i].feature != t.categorical[i - 1].feature, what, ": categorical feature ",
                    t.categorical[i].feature, " is given twice");
}

// The checkpoint's column layout of a model trained with categorical columns or imputations (of the caller's
// `columns`, before the indicators): as if from a CSV file of X's columns (header: their names, when X had them)
// with the label last, so that build/predict reads a CSV of the same frame (df.to_csv(index=False), the label
// column optional), or a .npy of X, and knows which columns are categories and which means replace missing values.
void record_layout(const fasttab::Table& train, int columns, const std::vector<std::string>& feature_names,
                   fasttab::ColumnLayout& l) {
  l.known = true;
  l.format = "csv";
  l.source_cols = columns + 1;
  l.label_col = columns;
  l.features = "all";
  l.feature_cols.clear();
  for (int c = 0; c < columns; ++c) l.feature_cols.push_back(c);
  l.feature_names = feature_names;
  l.delimiter = ',';
  l.header = !feature_names.empty();
  l.vocabularies = train.vocabularies;
  l.categorical_cols.clear();
  for (const fasttab::Vocabulary& v : l.vocabularies) l.categorical_cols.push_back(v.feature);
  l.imputations = train.imputations;
}

// The host tables of X and the evaluation set (a copy of the arrays), with their categorical columns encoded by
// vocabularies of the training rows less the validation rows, and with impute_missing (nan_policy="indicator")
// each numeric column's missing values replaced by its mean over those rows, plus an indicator column per column
// that had one there (impute_missing_values, as build/train --nan-policy indicator). The layout goes to the config.
void host_tables(fasttab::Dataset& dataset, fasttab::TrainConfig& config, const Matrix& x, const Vector& y,
                 const Matrix& x_test, const Vector& y_test, const Levels& categorical, const Levels& categorical_test,
                 const std::vector<std::string>& feature_names, bool impute_missing) {
  dataset.train = make_table(x, y);
  dataset.test = make_table(x_test, y_test);
  dataset.train.feature_names = dataset.test.feature_names = feature_names;
  add_categorical(dataset.train, categorical, "X");
  add_categorical(dataset.test, categorical_test, "the evaluation set");
  FASTTAB_REQUIRE(config.val_rows < dataset.train.rows, "the validation rows (", config.val_rows,
                  ") leave no training rows of ", dataset.train.rows);
  const int columns = dataset.train.cols;
  const std::int64_t rows = dataset.train.rows - config.val_rows;
  fasttab::encode_categories(dataset, config.min_category_count, rows);
  if (impute_missing) fasttab::impute_missing_values(dataset, rows);
  record_layout(dataset.train, columns, feature_names, config.data_layout);
}

fasttab::DeviceChoice device_choice(const std::string& name) {
  return fasttab::parse_name<fasttab::DeviceChoice>(name, "device");
}

// A setting's Python parameter: its flag without the dashes, '-' as '_' ("--batch-size" -> "batch_size").
std::string parameter_name(const fasttab::Setting& s) {
  std::string name = std::string(s.flag).substr(2);
  for (char& ch : name)
    if (ch == '-') ch = '_';
  return name;
}

template <class T>
T get(const nb::dict& d, const char* key) {
  if (!d.contains(key)) FASTTAB_FAIL("internal: training option '", key, "' missing");
  return nb::cast<T>(d[key]);
}

// The config from the estimator's parameters, by the settings table (settings.hpp): a setting the dict does not
// name keeps the engine's default (the CLI's); enums are parsed by their names (names.hpp).
fasttab::TrainConfig make_config(const nb::dict& o) {
  fasttab::TrainConfig c;
  fasttab::for_each_setting(c, [&](const fasttab::Setting& s, auto& field) {
    using T = std::decay_t<decltype(field)>;
    const std::string name = parameter_name(s);
    if (!o.contains(name.c_str())) return;
    if constexpr (std::is_enum_v<T>) field = fasttab::parse_name<T>(nb::cast<std::string>(o[name.c_str()]), name.c_str());
    else field = nb::cast<T>(o[name.c_str()]);
  });
  c.save_path = get<std::string>(o, "save_path");
  if (o.contains("cuda_graphs")) c.cuda_graphs = nb::cast<bool>(o["cuda_graphs"]);  // not settings of the model
  if (o.contains("overlap_weight_gradients")) c.overlap_weight_gradients = nb::cast<bool>(o["overlap_weight_gradients"]);
  return c;
}

// The settings table for the Python side's parameter checks: name, flag, help, range, and an enum's names.
nb::list settings_table() {
  nb::list out;
  fasttab::TrainConfig c;
  fasttab::for_each_setting(c, [&](const fasttab::Setting& s, const auto& field) {
    using T = std::decay_t<decltype(field)>;
    nb::dict d;
    d["name"] = parameter_name(s);
    d["key"] = s.key;
    d["flag"] = s.flag;
    d["help"] = s.help;
    d["min"] = s.min;
    d["max"] = s.max;
    d["min_open"] = s.min_open;
    nb::list names;
    if constexpr (std::is_enum_v<T>) {
      for (const auto& e : fasttab::EnumNames<T>::table) names.append(e.name);
      d["kind"] = "choice";
    } else if constexpr (std::is_same_v<T, bool>) {
      d["kind"] = "bool";
    } else if constexpr (std::is_integral_v<T>) {
      d["kind"] = "int";
    } else if constexpr (std::is_floating_point_v<T>) {
      d["kind"] = "float";
    } else {
      d["kind"] = std::is_same_v<T, std::string> ? "string" : "list";
    }
    d["choices"] = names;
    out.append(d);
  });
  nb::dict device;
  device["name"] = "device";
  device["kind"] = "choice";
  nb::list names;
  for (const auto& e : fasttab::EnumNames<fasttab::DeviceChoice>::table) names.append(e.name);
  device["choices"] = names;
  out.append(device);
  return out;
}

nb::dict metrics_dict(const fasttab::Metrics& m) {
  nb::dict d;
  d["loss"] = m.loss;
  d["auc"] = m.auc;
  d["accuracy"] = m.accuracy;
  d["rmse"] = m.rmse;
  d["mae"] = m.mae;
  d["r2"] = m.r2;
  d["rows"] = m.rows;
  return d;
}

// Runs on the training thread (the caller's), which holds no GIL while train() runs.
class PythonObserver final : public fasttab::TrainObserver {
 public:
  explicit PythonObserver(nb::object on_epoch) : on_epoch_(std::move(on_epoch)) {}

  // Signal handlers run at most every 10 ms (and at every epoch end): a step shorter than that does not wait for
  // the GIL each time, which another busy Python thread may hold for up to its switch interval.
  void on_batch(int, std::int64_t, std::int64_t, double, double) override {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_check_ < std::chrono::milliseconds(10)) return;
    last_check_ = now;
    nb::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw PythonErrorPending{};  // KeyboardInterrupt (or a handler's exception)
  }

  void on_epoch(const fasttab::EpochRecord& e) override {
    nb::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw PythonErrorPending{};
    if (on_epoch_.is_none()) return;
    if (caller_device_) caller_device_->give_back();  // the callback's own CUDA code runs on the caller's device
    bool keep_going = true;
    try {
      nb::dict d;
      d["epoch"] = e.epoch;
      d["seconds"] = e.seconds;
      d["samples_per_s"] = e.samples_per_s;
      d["train_loss"] = e.train_loss;
      d["lr"] = e.lr;
      d["test"] = metrics_dict(e.test);
      if (e.validation.rows > 0) d["validation"] = metrics_dict(e.validation);
      nb::object r = on_epoch_(d);
      keep_going = r.is_none() || nb::cast<bool>(r);
    } catch (nb::python_error& err) {
      err.restore();
      throw PythonErrorPending{};
    } catch (const nb::cast_error&) {
      PyErr_SetString(PyExc_TypeError, "fasttab: the epoch callback must return None, True or False");
      throw PythonErrorPending{};
    }
    if (!keep_going) throw StopRequested{};
  }

 public:
  void set_caller_device(const fasttab::CallerCudaDevice* caller_device) { caller_device_ = caller_device; }

 private:
  nb::object on_epoch_;
  std::chrono::steady_clock::time_point last_check_{};
  const fasttab::CallerCudaDevice* caller_device_ = nullptr;  // fasttab's ops make their own device current
};

// train(X, y, X_test, y_test, options, on_epoch) -> dict of the run's figures. The checkpoint goes to
// options["save_path"] at every epoch end (the Python side keeps its bytes).
// categorical / categorical_test: the categorical columns of X and X_test (level indices), encoded here with
// vocabularies built on the training rows less the validation rows (encode_categories), which the checkpoint's
// layout records with feature_names (the DataFrame's column names, or empty). impute_missing (nan_policy=
// "indicator"): NaN in host arrays is a missing value, imputed as build/train --nan-policy indicator does.
nb::dict train_model(nb::handle x_arg, const Vector& y, nb::handle x_test_arg, const Vector& y_test,
                     const nb::dict& options, nb::object on_epoch, const std::string& device, const Levels& categorical,
                     const Levels& categorical_test, const std::vector<std::string>& feature_names,
                     bool impute_missing) {
  fasttab::TrainConfig config = make_config(options);
  const InputMatrix x = input_matrix(x_arg, "X");
  const InputMatrix x_test = input_matrix(x_test_arg, "the evaluation set's X");
  FASTTAB_REQUIRE(x.view.cols == x_test.view.cols, "the evaluation set has ", x_test.view.cols, " features but X has ",
                  x.view.cols);
  FASTTAB_REQUIRE(feature_names.empty() || feature_names.size() == std::size_t(x.view.cols), "internal: ",
                  feature_names.size(), " feature names for ", x.view.cols, " features");
  const fasttab::DeviceChoice choice = device_choice(device);
  const int cuda_device = cuda_device_of({{&x, "X"}, {&x_test, "the evaluation set's X"}}, choice);
  if (!categorical.empty() && (!x.host || !x_test.host))
    throw nb::type_error("categorical columns come from host data (a pandas DataFrame or a NumPy array), not from "
                         "CUDA arrays");
  // Categories and imputations are applied to host tables; numbers only are read from the caller's arrays.
  // (Host arrays only: NaN in a CUDA array is refused on the device, with not_finite's advice.)
  const bool impute = impute_missing && x.host && x_test.host && (host_has_nan(x) || host_has_nan(x_test));
  const bool as_tables = !categorical.empty() || impute;
  const char* not_finite = impute_missing ? "nan_policy='indicator' imputes missing values in host arrays only: pass "
                                            "X as a NumPy array or a DataFrame"
                                          : "fasttab does not take missing values in arrays: impute them first";
  fasttab::Dataset dataset;
  dataset.source = "python";
  // Without eval_set the estimators pass one training row as a stand-in test set (evaluated at epoch ends, left out
  // of history_): no warning about it.
  dataset.split = get<bool>(options, "has_eval_set") ? "evaluation set" : "none";

  PythonObserver observer(std::move(on_epoch));
  fasttab::TrainResult result;
  bool stopped_by_callback = false;
  std::string backend_kind;
  std::exception_ptr failure;
  {
    nb::gil_scoped_release release;
    const fasttab::CallerCudaDevice caller_device;  // the backend makes its device current; the caller keeps its own
    observer.set_caller_device(&caller_device);
    try {
      if (cuda_device >= 0) fasttab::wait_for_cuda_device(cuda_device);  // the producer's streams, CuPy's or torch's
      std::unique_ptr<fasttab::Backend> backend = backend_for(choice, cuda_device);
      backend_kind = backend->kind();
      if (as_tables) {
        host_tables(dataset, config, *x.host, y, *x_test.host, y_test, categorical, categorical_test, feature_names,
                    impute_missing);
      } else {
        // Numbers only: the engine reads the caller's arrays (in place where the backend can read them: NumPy on the
        // CPU backend, CUDA arrays on their GPU; else one upload from the host array).
        require_finite(*backend, x.view, "X", not_finite);
        require_finite(*backend, x_test.view, "the evaluation set's X", not_finite);
        dataset.train = labels_table(x.view, y, "X");
        dataset.test = labels_table(x_test.view, y_test, "the evaluation set's X");
        dataset.train_features = x.view;
        dataset.test_features = x_test.view;
      }
      result = fasttab::train(*backend, config, dataset, &observer);
    } catch (const StopRequested&) {
      stopped_by_callback = true;
    } catch (...) {
      failure = std::current_exception();
    }
  }
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const PythonErrorPending&) {
      throw nb::python_error();
    }
  }
  nb::dict r;
  r["stopped_by_callback"] = stopped_by_callback;
  r["backend"] = backend_kind;
  if (!stopped_by_callback) {
    r["device"] = result.device;
    r["train_rows"] = result.train_rows;
    r["val_rows"] = result.val_rows;
    r["steps"] = result.steps;
    r["s_per_epoch"] = result.s_per_epoch;
    r["stopped_early"] = result.stopped_early;
    r["best_epoch"] = result.best_epoch;
    r["final_test"] = metrics_dict(result.final_test);
    r["train_features"] = reinterpret_cast<std::uintptr_t>(result.train_features);
  }
  return r;
}

// A model loaded from a checkpoint file, with the backend it predicts on (made on first use).
class Model {
 public:
  Model(const std::string& path, const std::string& device)
      : model_(fasttab::load_saved_model(path)), device_(device_choice(device)) {}

  // The model's outputs: rows x width float32 (logit, class scores, or the value in y's units: predict_outputs).
  // categorical: X's text columns as level indices with their levels (Levels), encoded by the model's
  // vocabularies by their text (a category the training rows did not have is the unseen code); a column that was
  // categorical in training but holds numbers in X is read by its values' text ("%g": encode_for_model).
  nb::ndarray<nb::numpy, float, nb::ndim<2>> outputs(nb::handle x_arg, const Levels& categorical) {
    const InputMatrix x = input_matrix(x_arg, "X");
    FASTTAB_REQUIRE(x.view.cols == columns(), "X has ", x.view.cols, " features, but the model expects ", columns());
    const int cuda_device = cuda_device_of({{&x, "X"}}, device_);
    // Categories and imputations are applied on the host, to a copy in the engine's table; numbers are read in place.
    const bool as_table = !categorical.empty() || !model_.layout.vocabularies.empty() ||
                          !model_.layout.imputations.empty();
    if (as_table && !x.host)
      throw nb::type_error("this model encodes categorical columns (or imputes missing values) on the host: pass X "
                           "as a pandas DataFrame or a NumPy array, not a CUDA array");
    const int width = model_.spec.outputs;
    const std::int64_t rows = x.view.rows;
    auto* out = new std::vector<float>();
    nb::capsule owner(out, [](void* p) noexcept { delete static_cast<std::vector<float>*>(p); });
    {
      nb::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);  // one prediction at a time on the model's backend
      const fasttab::CallerCudaDevice caller_device;  // the backend makes its device current; the caller keeps its own
      if (cuda_device >= 0) fasttab::wait_for_cuda_device(cuda_device);
      if (rows > 0) {
        fasttab::Backend& backend = backend_reading(x.view, cuda_device);
        if (as_table) {
          fasttab::Table t;
          t.rows = rows;
          t.cols = x.view.cols;
          t.feature_names = model_.layout.feature_names;
          t.features.assign(x.view.data, x.view.data + std::size_t(rows) * x.view.cols);
          t.labels.assign(std::size_t(rows), 0.0f);
          add_categorical(t, categorical, "X");
          fasttab::encode_for_model(model_, t, "X");
          *out = fasttab::predict_outputs(backend, model_, t);
        } else {
          require_finite(backend, x.view, "X");
          *out = fasttab::predict_outputs(backend, model_, x.view);
        }
      }
    }
    return nb::ndarray<nb::numpy, float, nb::ndim<2>>(out->data(), {std::size_t(rows), std::size_t(width)}, owner);
  }

  // Binary: P(class 1) per row; multiclass: the softmax rows (both in double, as build/predict computes them).
  nb::ndarray<nb::numpy, double, nb::ndim<2>> probabilities(nb::handle x, const Levels& categorical) {
    FASTTAB_REQUIRE(model_.task != fasttab::Task::regression, "a regression model has no probabilities");
    nb::ndarray<nb::numpy, float, nb::ndim<2>> o = outputs(x, categorical);
    const std::size_t rows = o.shape(0);
    const int width = model_.spec.outputs;
    const int k = model_.task == fasttab::Task::binary ? 2 : width;
    auto* out = new std::vector<double>(rows * std::size_t(k));
    nb::capsule owner(out, [](void* p) noexcept { delete static_cast<std::vector<double>*>(p); });
    const float* v = o.data();
    for (std::size_t r = 0; r < rows; ++r) {
      double* p = out->data() + r * k;
      if (model_.task == fasttab::Task::binary) {
        p[1] = fasttab::probability_from_logit(v[r]);
        p[0] = 1.0 - p[1];
      } else {
        const std::vector<double> s = fasttab::softmax_row(v + r * width, width);
        std::memcpy(p, s.data(), sizeof(double) * k);
      }
    }
    return nb::ndarray<nb::numpy, double, nb::ndim<2>>(out->data(), {rows, std::size_t(k)}, owner);
  }

  std::string task() const { return fasttab::name_of(model_.task); }
  int classes() const { return model_.classes; }
  int inputs() const { return model_.spec.inputs; }
  int outputs_width() const { return model_.spec.outputs; }
  std::vector<int> hidden() const { return model_.spec.hidden; }
  int epochs_done() const { return model_.epochs_done; }
  std::string config_json() const { return model_.config_json; }
  // The caller's columns (the model's inputs less the indicator columns of its imputations).
  int columns() const { return model_.spec.inputs - model_.layout.indicator_count(); }
  // The imputations of nan_policy="indicator" from the checkpoint's layout: (feature, mean, has an indicator).
  std::vector<std::tuple<int, float, bool>> imputations() const {
    std::vector<std::tuple<int, float, bool>> out;
    for (const fasttab::Imputation& m : model_.layout.imputations) out.emplace_back(m.feature, m.mean, m.indicator);
    return out;
  }
  // The categorical columns' vocabularies from the checkpoint's layout: (feature, name, categories).
  std::vector<std::tuple<int, std::string, std::vector<std::string>>> vocabularies() const {
    std::vector<std::tuple<int, std::string, std::vector<std::string>>> out;
    for (const fasttab::Vocabulary& v : model_.layout.vocabularies) out.emplace_back(v.feature, v.name, v.categories);
    return out;
  }

 private:
  // The model's backend (made on first use), made again on the GPU of a CUDA array it cannot read.
  fasttab::Backend& backend_reading(const fasttab::FeatureView& x, int cuda_device) {
    if (!backend_ || (cuda_device >= 0 && !backend_->can_read(x.data))) backend_ = backend_for(device_, cuda_device);
    return *backend_;
  }

  fasttab::SavedModel model_;
  fasttab::DeviceChoice device_;
  std::unique_ptr<fasttab::Backend> backend_;
  std::mutex mutex_;
};

// The "python" section of a checkpoint: the estimator's labels, feature names, parameters and history (JSON),
// which the engine's readers (load_saved_model, --resume) ignore, as they ignore any section they do not know.
nb::bytes checkpoint_with_section(nb::bytes checkpoint, const std::string& name, const std::string& text) {
  const std::string out =
      fasttab::checkpoint_with_section(std::string(checkpoint.c_str(), checkpoint.size()), name, text);
  return nb::bytes(out.data(), out.size());
}

nb::object checkpoint_section(nb::bytes checkpoint, const std::string& name) {
  const std::optional<std::string> text =
      fasttab::checkpoint_section(std::string(checkpoint.c_str(), checkpoint.size()), name);
  return text ? nb::cast(*text) : nb::none();
}

// A DLPack array (one without __cuda_array_interface__, e.g. JAX's) described for the Python side's checks:
// (data pointer, shape, float32, C-contiguous). The caller keeps the array, and so its memory, alive.
std::tuple<std::uintptr_t, std::vector<std::int64_t>, bool, bool> dlpack_matrix(nb::handle array) {
  nb::ndarray<> a;
  if (!nb::try_cast(array, a, /*convert=*/false))
    throw nb::type_error("the array names a CUDA device in __dlpack_device__ but is not a DLPack array that "
                         "fasttab can import; pass a CuPy or PyTorch array, or a NumPy one");
  std::vector<std::int64_t> shape;
  for (std::size_t d = 0; d < a.ndim(); ++d) shape.push_back(std::int64_t(a.shape(d)));
  const bool contiguous = a.ndim() != 2 || (a.stride(1) == 1 && (a.shape(0) <= 1 || a.stride(0) == std::int64_t(a.shape(1))));
  return {reinterpret_cast<std::uintptr_t>(a.data()), shape, a.dtype() == nb::dtype<float>(), contiguous};
}

}  // namespace

NB_MODULE(_core, m) {
  m.doc() = "fasttab's engine (libfasttab.a), bound with nanobind; use the estimators in the fasttab package";
  nb::exception<fasttab::Error>(m, "EngineError", PyExc_RuntimeError);
  m.def("train", &train_model, "X"_a, "y"_a, "X_test"_a, "y_test"_a, "options"_a, "on_epoch"_a.none(), "device"_a,
        "categorical"_a = Levels(), "categorical_test"_a = Levels(), "feature_names"_a = std::vector<std::string>(),
        "impute_missing"_a = false,
        "Trains on (X, y), evaluating on (X_test, y_test); the checkpoint goes to options['save_path'].");
  m.def("dlpack_matrix", &dlpack_matrix, "array"_a,
        "A DLPack array's (data pointer, shape, is float32, is C-contiguous), for the input checks.");
  m.def("settings", &settings_table, "The engine's settings table: name, flag, help, range, kind, choices.");
  m.def("cuda_device_count", &fasttab::cuda_device_count, "Number of usable CUDA devices (0 without a driver or GPU).");
  m.def("checkpoint_with_section", &checkpoint_with_section, "checkpoint"_a, "name"_a, "text"_a,
        "The checkpoint's bytes with one section set (replaced or appended), checksummed again.");
  m.def("checkpoint_section", &checkpoint_section, "checkpoint"_a, "name"_a,
        "One section of a checkpoint's bytes as text, or None.");
  nb::class_<Model>(m, "Model")
      .def(nb::init<const std::string&, const std::string&>(), "path"_a, "device"_a = "auto")
      .def("outputs", &Model::outputs, "X"_a, "categorical"_a = Levels())
      .def("probabilities", &Model::probabilities, "X"_a, "categorical"_a = Levels())
      .def_prop_ro("task", &Model::task)
      .def_prop_ro("classes", &Model::classes)
      .def_prop_ro("inputs", &Model::inputs)
      .def_prop_ro("width", &Model::outputs_width)
      .def_prop_ro("hidden", &Model::hidden)
      .def_prop_ro("epochs_done", &Model::epochs_done)
      .def_prop_ro("config_json", &Model::config_json)
      .def_prop_ro("columns", &Model::columns)
      .def_prop_ro("imputations", &Model::imputations)
      .def_prop_ro("vocabularies", &Model::vocabularies);
}
