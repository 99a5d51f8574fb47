// The multiclass and regression tasks learn synthetic problems with a known structure well past chance.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "fasttab/dataset.hpp"
#include "fasttab/error.hpp"
#include "fasttab/trainer.hpp"

#include "test_support.hpp"

using namespace fasttab;

namespace {

// rows x 4 standard normal features; the label from `label_of(x, noise draw)` (test_support.hpp).
template <class LabelOf>
Table make_table(std::int64_t rows, std::uint32_t seed, LabelOf label_of) {
  return test::normal_table(rows, seed, label_of);
}

TrainConfig task_config(Task task) {
  TrainConfig c;
  c.task = task;
  c.model.hidden = {64, 64};
  c.model.dropout = 0.0f;
  c.batch_size = 256;
  c.epochs = 8;
  c.eval_every = 0;
  c.shuffle = true;
  c.optimizer.lr = 3e-3f;
  c.seed = 4;
  return c;
}

}  // namespace

TEST_CASE("multiclass: 3 classes from nonlinear scores, accuracy far above the 1/3 of chance") {
  auto label = [](const float* x, std::mt19937& rng, std::normal_distribution<float>& normal) {
    const float s[3] = {x[0] + 0.5f * x[1] * x[1] + 0.3f * normal(rng), x[1] - x[2] * x[3] + 0.3f * normal(rng),
                        -x[0] + std::sin(2.0f * x[2]) + 0.3f * normal(rng)};
    return float(std::max_element(s, s + 3) - s);
  };
  Dataset d = split_train_test(make_table(24'000, 21, label), 4'000, "3-class synthetic");
  auto backend = make_cpu_backend();
  const TrainResult r = train(*backend, task_config(Task::multiclass), d);
  MESSAGE("multiclass test accuracy " << r.final_test.accuracy << ", loss " << r.final_test.loss);
  CHECK(r.final_test.accuracy > 0.6);
  CHECK(r.final_test.loss < 0.75 * std::log(3.0));  // well below the log loss of the uniform guess
  CHECK(std::isnan(r.final_test.auc));              // AUC is the binary task's metric
  CHECK(r.epochs.back().train_loss < r.epochs.front().train_loss);
}

TEST_CASE("multiclass: a label not below --classes is refused with its row") {
  auto label = [](const float* x, std::mt19937&, std::normal_distribution<float>&) { return x[0] > 0 ? 3.0f : 0.0f; };
  Dataset d = split_train_test(make_table(2'000, 3, label), 500, "4-class synthetic");
  TrainConfig c = task_config(Task::multiclass);
  c.classes = 3;
  auto backend = make_cpu_backend();
  CHECK_THROWS_WITH_AS(train(*backend, c, d), doctest::Contains("row"), Error);
}

TEST_CASE("regression: y = sin(x0) + x1^2 / 2 + x2 x3 / 2 + noise reaches R^2 > 0.8") {
  auto label = [](const float* x, std::mt19937& rng, std::normal_distribution<float>& normal) {
    return std::sin(x[0]) + 0.5f * x[1] * x[1] + 0.5f * x[2] * x[3] + 0.1f * normal(rng);
  };
  Dataset d = split_train_test(make_table(24'000, 22, label), 4'000, "regression synthetic");
  auto backend = make_cpu_backend();
  const TrainResult r = train(*backend, task_config(Task::regression), d);
  MESSAGE("regression test R^2 " << r.final_test.r2 << ", RMSE " << r.final_test.rmse);
  CHECK(r.final_test.r2 > 0.8);
  CHECK(r.final_test.rmse < 0.5);  // the labels' standard deviation is about 1.1
  CHECK(r.final_test.loss == doctest::Approx(r.final_test.rmse * r.final_test.rmse).epsilon(1e-6));
  CHECK(std::isnan(r.final_test.auc));
}
