// Features the caller holds in device memory (FeatureView: CuPy's or PyTorch's arrays from Python) read in place by
// the CUDA backend: no copy, the finite check on the device, the same training and predictions as from the uploaded
// table within float32 rounding (rows 21 floats apart in place, 24 in the padded upload).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "fasttab/checkpoint.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/predictor.hpp"
#include "fasttab/synthetic.hpp"
#include "fasttab/trainer.hpp"
#include "gpu_test_support.hpp"

using namespace fasttab;

namespace {

// CUDA memory is read in place whatever the row width (reads_in_place); the CPU stand-in of
// FASTTAB_GPU_TESTS_ON_CPU pads host rows that are not a multiple of 4 floats, as the CPU backend does.
#if defined(FASTTAB_GPU_TESTS_ON_CPU)
constexpr bool kDeviceRowsOfAnyWidthInPlace = false;
#else
constexpr bool kDeviceRowsOfAnyWidthInPlace = true;
#endif

// A host table's features copied into backend memory: what a CUDA array from Python is.
struct DeviceFeatures {
  DeviceFeatures(Backend& backend, const Table& t)
      : buffer(backend, t.features.size(), "caller's array"), view{nullptr, t.rows, t.cols} {
    backend.copy_to_backend(buffer.data(), t.features.data(), buffer.bytes());
    view.data = buffer.data();
  }
  BackendBuffer<float> buffer;
  FeatureView view;
};

Dataset synthetic_tables(std::int64_t rows, std::int64_t test_rows) {
  SyntheticSpec spec;
  spec.rows = rows;
  spec.seed = 4;
  return split_train_test(make_synthetic(spec).table, test_rows, "synthetic");
}

Dataset labels_only(const Dataset& tables, const FeatureView& train, const FeatureView& test) {
  Dataset d;
  d.source = tables.source;
  d.train.rows = tables.train.rows;
  d.train.cols = tables.train.cols;
  d.train.labels = tables.train.labels;
  d.test.rows = tables.test.rows;
  d.test.cols = tables.test.cols;
  d.test.labels = tables.test.labels;
  d.train_features = train;
  d.test_features = test;
  return d;
}

TrainConfig small_config() {
  TrainConfig c;
  c.model.hidden = {64, 64};
  c.model.dropout = 0.1f;
  c.batch_size = 512;
  c.epochs = 2;
  c.eval_every = 10;
  c.shuffle = true;
  c.seed = 7;
  c.val_rows = 1'000;
  return c;
}

}  // namespace

TEST_CASE("cuda view_rows reads device memory in place, uploads host memory, and checks for NaN on the device") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto gpu = gpu_test::make_gpu();
  Table t;
  t.rows = 6;
  t.cols = 5;
  t.features.resize(30);
  for (std::size_t i = 0; i < t.features.size(); ++i) t.features[i] = float(i) * 0.5f;
  const std::vector<float> labels = {0, 1, 1, 0, 1, 0};
  DeviceFeatures device(*gpu, t);
  CHECK(gpu->can_read(device.view.data));
  CHECK(reads_in_place(*gpu, device.view) == kDeviceRowsOfAnyWidthInPlace);

  DeviceTable in_place = view_rows(*gpu, device.view, labels, 2, 6, "training rows");
  if (kDeviceRowsOfAnyWidthInPlace) {
    CHECK(in_place.features.data() == device.buffer.data() + 2 * 5);
    CHECK_FALSE(in_place.features.owned());
    CHECK(in_place.ld == 5);
  }

  // A writable copy: padded to 8 floats a row, the values equal, the padding zero; the caller's memory unchanged.
  make_features_writable(*gpu, in_place, "copy");
  CHECK(in_place.features.owned());
  REQUIRE(in_place.ld == 8);
  std::vector<float> copied(std::size_t(4) * 8);
  gpu->copy_to_host(copied.data(), in_place.features.data(), copied.size() * sizeof(float));
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 8; ++c) CHECK(copied[std::size_t(r) * 8 + c] == (c < 5 ? t.features[(r + 2) * 5 + c] : 0.0f));

#if !defined(FASTTAB_GPU_TESTS_ON_CPU)
  // Host memory on the CUDA backend: uploaded (owned, padded); device memory on the CPU backend: refused.
  const FeatureView host{t.features.data(), t.rows, t.cols};
  CHECK_FALSE(gpu->can_read(host.data));
  const DeviceTable uploaded = view_rows(*gpu, host, labels, 0, 6, "training rows");
  CHECK(uploaded.features.owned());
  CHECK(uploaded.ld == 8);
  auto cpu = make_cpu_backend();
  CHECK_FALSE(cpu->can_read(device.view.data));
  CHECK(cuda_pointer_device(device.view.data) == 0);
  CHECK(cuda_pointer_device(t.features.data()) == -1);
  CHECK_THROWS_WITH_AS(view_rows(*cpu, device.view, labels, 0, 6, "training rows"),
                       doctest::Contains("memory of CUDA device 0"), Error);
#endif

  t.features[3 * 5 + 4] = gpu_test::kNaN;
  DeviceFeatures with_nan(*gpu, t);
  CHECK_THROWS_WITH_AS(view_rows(*gpu, with_nan.view, labels, 0, 6, "training rows"),
                       doctest::Contains("row 3, feature 4"), Error);
}

TEST_CASE("cuda training on device views: the caller's pointer, and the uploaded table's figures within rounding") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto gpu = gpu_test::make_gpu();
  const Dataset tables = synthetic_tables(20'000, 2'000);
  DeviceFeatures train(*gpu, tables.train), test(*gpu, tables.test);
  for (bool standardize : {false, true}) {
    CAPTURE(standardize);
    TrainConfig c = small_config();
    c.standardize = standardize;
    const TrainResult copied = fasttab::train(*gpu, c, tables);
    const TrainResult in_place = fasttab::train(*gpu, c, labels_only(tables, train.view, test.view));
    CHECK((in_place.train_features == train.view.data) == (!standardize && kDeviceRowsOfAnyWidthInPlace));
    REQUIRE(in_place.evals.size() == copied.evals.size());
    // Bound: float32 rounding over 70 steps; cuBLAS may pick other kernels for leading dimensions 21 and 24.
    for (std::size_t i = 0; i < copied.evals.size(); ++i) {
      CHECK(in_place.evals[i].test.loss == doctest::Approx(copied.evals[i].test.loss).epsilon(1e-4));
      CHECK(std::abs(in_place.evals[i].test.auc - copied.evals[i].test.auc) <= 1e-3);
    }
    // The caller's array is unchanged (standardisation changed a copy).
    std::vector<float> after(tables.train.features.size());
    gpu->copy_to_host(after.data(), train.view.data, after.size() * sizeof(float));
    CHECK(after == tables.train.features);
  }
}

TEST_CASE("cuda predict_outputs on a device view equals predictions on the host table") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto gpu = gpu_test::make_gpu();
  const Dataset tables = synthetic_tables(8'000, 2'000);
  TrainConfig c = small_config();
  c.standardize = true;
  c.save_path = (std::filesystem::temp_directory_path() /
                 ("fasttab-gpu-views-" + std::to_string(::getpid()) + ".ckpt")).string();
  fasttab::train(*gpu, c, tables);
  const SavedModel model = load_saved_model(c.save_path);
  std::filesystem::remove(c.save_path);
  DeviceFeatures test(*gpu, tables.test);
  const std::vector<float> from_table = predict_outputs(*gpu, model, tables.test);
  const std::vector<float> from_view = predict_outputs(*gpu, model, test.view);
  REQUIRE(from_view.size() == from_table.size());
  double worst = 0;
  for (std::size_t i = 0; i < from_view.size(); ++i)
    worst = std::max(worst, double(std::abs(from_view[i] - from_table[i])) / (1.0 + std::abs(from_table[i])));
  CHECK(worst < 1e-5);
}
