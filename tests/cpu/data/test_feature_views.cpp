// Features the caller holds (FeatureView), read in place: the CPU backend reads a host array itself, so these
// tests run the in-place path that CUDA arrays take on the GPU (tests/gpu/test_feature_views.cpp).
#include <doctest/doctest.h>

#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

#include "fasttab/checkpoint.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/error.hpp"
#include "fasttab/predictor.hpp"
#include "fasttab/synthetic.hpp"
#include "fasttab/trainer.hpp"
#include "test_support.hpp"

using namespace fasttab;

namespace {

// The synthetic table's first `cols` features (it has 21).
Dataset synthetic_tables(std::int64_t rows, std::int64_t test_rows, int cols = 21) {
  SyntheticSpec spec;
  spec.rows = rows;
  spec.seed = 4;
  Table t = make_synthetic(spec).table;
  if (cols < t.cols) {
    std::vector<float> kept;
    for (std::int64_t r = 0; r < t.rows; ++r)
      kept.insert(kept.end(), t.features.begin() + r * t.cols, t.features.begin() + r * t.cols + cols);
    t.features = std::move(kept);
    t.cols = cols;
  }
  return split_train_test(std::move(t), test_rows, "synthetic");
}

// The same data with the features as views of the tables' own memory (which must outlive the result).
Dataset as_views(const Dataset& tables) {
  Dataset d;
  d.source = tables.source;
  d.split = tables.split;
  for (auto [from, to, view] : {std::tuple{&tables.train, &d.train, &d.train_features},
                                std::tuple{&tables.test, &d.test, &d.test_features}}) {
    to->rows = from->rows;
    to->cols = from->cols;
    to->labels = from->labels;
    *view = FeatureView{from->features.data(), from->rows, from->cols};
  }
  return d;
}

TrainConfig small_config() {
  TrainConfig c;
  c.model.hidden = {32, 32};
  c.model.dropout = 0.1f;
  c.batch_size = 256;
  c.epochs = 2;
  c.eval_every = 10;
  c.shuffle = true;
  c.seed = 7;
  return c;
}

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("fasttab-views-" + std::to_string(::getpid()) + "-" + name);
}

}  // namespace

TEST_CASE("view_rows reads host rows of 4k floats in place on the CPU backend, pads others, and checks both") {
  const std::vector<float> x = test::random_vector(5 * 4, 1);
  const std::vector<float> y = {0, 1, 0, 1, 1};
  const FeatureView view{x.data(), 5, 4};
  auto backend = make_cpu_backend();
  CHECK(reads_in_place(*backend, view));
  DeviceTable t = view_rows(*backend, view, y, 1, 4, "training rows");
  CHECK(t.features.data() == x.data() + 4);  // the caller's row 1, not a copy
  CHECK_FALSE(t.features.owned());
  CHECK(t.ld == 4);
  CHECK(t.rows == 3);
  CHECK(t.labels.owned());
  CHECK(t.labels.data()[0] == 1.0f);
  CHECK(t.labels.data()[2] == 1.0f);

  // Rows of 3 floats: copied into rows of 4 (as upload_rows pads them), the padding zero.
  const FeatureView narrow{x.data(), 5, 3};
  CHECK_FALSE(reads_in_place(*backend, narrow));
  DeviceTable padded = view_rows(*backend, narrow, y, 1, 4, "training rows");
  CHECK(padded.features.owned());
  REQUIRE(padded.ld == 4);
  CHECK(padded.features.data()[4] == x[6]);
  CHECK(padded.features.data()[7] == 0.0f);

  // A writable copy of the borrowed rows; the caller's array is untouched by changes to it.
  make_features_writable(*backend, t, "copy");
  CHECK(t.features.owned());
  CHECK(t.features.data()[4] == x[8]);
  t.features.data()[0] = 99.0f;
  CHECK(x[4] != 99.0f);

  std::vector<float> bad = x;
  bad[2 * 4 + 1] = std::numeric_limits<float>::quiet_NaN();
  const FeatureView bad_view{bad.data(), 5, 4};
  CHECK_THROWS_WITH_AS(view_rows(*backend, bad_view, y, 0, 5, "training rows"),
                       doctest::Contains("row 2, feature 1"), Error);
  const FeatureView bad_narrow{bad.data(), 5, 3};  // flat index 9: row 3, feature 0 of rows of 3
  CHECK_THROWS_WITH_AS(view_rows(*backend, bad_narrow, y, 0, 5, "training rows"),
                       doctest::Contains("row 3, feature 0"), Error);
  std::vector<float> bad_y = y;
  bad_y[4] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH_AS(view_rows(*backend, view, bad_y, 0, 5, "training rows"), doctest::Contains("row 4"), Error);
}

TEST_CASE("training on views reads the caller's array (rows of 4k floats) and gives the copied table's bits") {
  auto backend = make_cpu_backend();
  for (int cols : {20, 21}) {
    const Dataset tables = synthetic_tables(6'000, 1'000, cols);
    const std::vector<float> before = tables.train.features;
    for (bool standardize : {false, true}) {
      CAPTURE(cols);
      CAPTURE(standardize);
      TrainConfig c = small_config();
      c.standardize = standardize;
      c.val_rows = 500;
      const TrainResult copied = train(*backend, c, tables);
      const TrainResult viewed = train(*backend, c, as_views(tables));
      // In place for rows of 20 floats unless standardisation needs a copy to change; rows of 21 are copied into
      // rows of 24, as the table's upload pads them.
      CHECK((viewed.train_features == tables.train.features.data()) == (cols == 20 && !standardize));
      CHECK(tables.train.features == before);  // never written
      // The same ops on the same row layout: the same bits.
      REQUIRE(viewed.evals.size() == copied.evals.size());
      for (std::size_t i = 0; i < copied.evals.size(); ++i) {
        CHECK(viewed.evals[i].test.loss == copied.evals[i].test.loss);
        CHECK(viewed.evals[i].test.auc == copied.evals[i].test.auc);
      }
      CHECK(viewed.parameters == copied.parameters);
      CHECK(viewed.val_rows == 500);
    }
  }
}

TEST_CASE("views are refused where they cannot be read: host loaders and a NaN in the evaluation rows") {
  Dataset tables = synthetic_tables(3'000, 500);
  auto backend = make_cpu_backend();
  TrainConfig c = small_config();
  c.loader = "slice";
  CHECK_THROWS_WITH_AS(train(*backend, c, as_views(tables)), doctest::Contains("--loader slice"), Error);
  tables.test.features[7] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(train(*backend, small_config(), as_views(tables)),
                       doctest::Contains("row 0, feature 7 (counting from 0) of the test rows"), Error);
}

TEST_CASE("predict_outputs on a view equals predictions on a table, standardised or not") {
  const Dataset tables = synthetic_tables(4'000, 1'000);
  auto backend = make_cpu_backend();
  for (bool standardize : {false, true}) {
    CAPTURE(standardize);
    TrainConfig c = small_config();
    c.standardize = standardize;
    c.save_path = temp_path("predict.ckpt").string();
    train(*backend, c, tables);
    const SavedModel model = load_saved_model(c.save_path);
    std::filesystem::remove(c.save_path);
    const std::vector<float> from_table = predict_outputs(*backend, model, tables.test, 300);
    const FeatureView view{tables.test.features.data(), tables.test.rows, tables.test.cols};
    const std::vector<float> from_view = predict_outputs(*backend, model, view, 300);
    REQUIRE(from_view.size() == from_table.size());
    // Rows of 21 floats copied into rows of 24, as the table's: the same bits.
    CHECK(from_view == from_table);
    const FeatureView narrow{tables.test.features.data(), tables.test.rows / 21, 20};
    CHECK_THROWS_WITH_AS(predict_outputs(*backend, model, narrow), doctest::Contains("20 feature columns"), Error);
  }
}
