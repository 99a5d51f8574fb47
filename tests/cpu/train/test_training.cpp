// End-to-end training on the CPU backend: learning close to the Bayes limit, and bit-for-bit reproducibility.
#include <doctest/doctest.h>

#include <cmath>

#include "fasttab/dataset.hpp"
#include "fasttab/metrics.hpp"
#include "fasttab/synthetic.hpp"
#include "fasttab/trainer.hpp"

using namespace fasttab;

namespace {

Dataset synthetic_dataset(std::int64_t rows, std::int64_t test_rows, std::uint64_t seed) {
  SyntheticSpec spec;
  spec.rows = rows;
  spec.seed = seed;
  SyntheticData data = make_synthetic(spec);
  const std::vector<float> probabilities = std::move(data.probabilities);
  Dataset d = split_train_test(std::move(data.table), test_rows, "synthetic");
  d.synthetic = true;
  d.bayes_auc = roc_auc(probabilities.data() + (rows - test_rows), d.test.labels.data(), test_rows);
  return d;
}

TrainConfig small_config() {
  TrainConfig c;
  c.model.hidden = {64, 64};
  c.model.dropout = 0.1f;
  c.batch_size = 256;
  c.epochs = 4;
  c.eval_every = 0;
  c.optimizer.lr = 3e-3f;
  c.shuffle = true;
  c.seed = 3;
  return c;
}

}  // namespace

TEST_CASE("a small MLP on synthetic data reaches a test AUC close to the Bayes limit") {
  Dataset d = synthetic_dataset(200'000, 20'000, 3);
  auto backend = make_cpu_backend();
  const TrainResult r = train(*backend, small_config(), d);
  MESSAGE("test AUC " << r.final_test.auc << ", Bayes AUC " << d.bayes_auc);
  CHECK(d.bayes_auc > 0.75);
  CHECK(r.final_test.auc > d.bayes_auc - 0.02);
  CHECK(r.final_test.auc <= d.bayes_auc + 0.01);  // no model beats the true probabilities by more than noise
  CHECK(r.epochs.back().train_loss < r.epochs.front().train_loss);
}

TEST_CASE("two runs with the same seed give identical losses, another seed does not") {
  auto run = [](std::uint64_t seed) {
    Dataset d = synthetic_dataset(12'000, 2'000, 5);
    auto backend = make_cpu_backend();
    TrainConfig c = small_config();
    c.epochs = 2;
    c.eval_every = 10;
    c.seed = seed;
    return train(*backend, c, d);
  };
  const TrainResult a = run(8), b = run(8), other = run(9);
  REQUIRE(a.evals.size() == b.evals.size());
  for (std::size_t i = 0; i < a.evals.size(); ++i) {
    CHECK(a.evals[i].train_loss == b.evals[i].train_loss);
    CHECK(a.evals[i].test.loss == b.evals[i].test.loss);
  }
  CHECK(a.parameters == b.parameters);
  CHECK(a.epochs.back().train_loss != other.epochs.back().train_loss);
}

TEST_CASE("early stopping keeps the best validation epoch's weights") {
  Dataset d = synthetic_dataset(12'000, 2'000, 6);
  auto backend = make_cpu_backend();
  TrainConfig c = small_config();
  c.epochs = 30;
  c.optimizer.lr = 3e-2f;  // overfits fast on 8k rows
  c.val_rows = 2'000;
  c.patience = 2;
  const TrainResult r = train(*backend, c, d);
  CHECK(r.stopped_early);
  CHECK(r.epochs.size() < 30);
  CHECK(r.best_epoch == int(r.epochs.size()) - c.patience);
  double best = 1e30;
  for (const auto& e : r.epochs) best = std::min(best, e.validation.loss);
  CHECK(r.epochs[r.best_epoch - 1].validation.loss == best);
  CHECK(r.train_rows == 8'000);
}

TEST_CASE("bad configurations are refused with the flag's name") {
  Dataset d = synthetic_dataset(3'000, 500, 7);
  auto backend = make_cpu_backend();
  TrainConfig c = small_config();
  c.batch_size = 0;
  CHECK_THROWS_WITH(train(*backend, c, d), doctest::Contains("--batch-size"));
  c = small_config();
  c.model.hidden = {64, 0};
  CHECK_THROWS_WITH(train(*backend, c, d), doctest::Contains("--hidden"));
  c = small_config();
  c.batch_size = 4'000;  // more than the 2,500 training rows
  CHECK_THROWS_WITH(train(*backend, c, d), doctest::Contains("fewer than one batch"));
  c = small_config();
  d.train.labels[10] = 2.0f;
  CHECK_THROWS_WITH(train(*backend, c, d), doctest::Contains("row 11: label 2 is not 0 or 1"));
}

TEST_CASE("a run whose loss becomes NaN stops and names the step") {
  Dataset d = synthetic_dataset(6'000, 1'000, 8);
  auto backend = make_cpu_backend();
  TrainConfig c = small_config();
  c.shuffle = false;
  SUBCASE("a NaN feature in the first batch: step 1") {
    d.train.features[100 * d.train.cols] = std::nanf("");
    CHECK_THROWS_WITH(train(*backend, c, d), doctest::Contains("at step 1 (epoch 1, batch 1)"));
  }
  SUBCASE("a NaN feature in the third batch: step 3") {
    d.train.features[(2 * 256 + 7) * d.train.cols] = std::nanf("");
    CHECK_THROWS_WITH(train(*backend, c, d), doctest::Contains("at step 3 (epoch 1, batch 3)"));
  }
}
