// AUC and the other metrics on hand-computed cases.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "fasttab/backend.hpp"
#include "fasttab/metrics.hpp"
#include "test_support.hpp"

using namespace fasttab;

TEST_CASE("AUC of hand-computed cases, ties counted one half") {
  // Perfect ranking.
  std::vector<float> s1 = {0.1f, 0.2f, 0.8f, 0.9f}, y1 = {0, 0, 1, 1};
  CHECK(roc_auc(s1.data(), y1.data(), 4) == 1.0);
  // Reversed.
  std::vector<float> y2 = {1, 1, 0, 0};
  CHECK(roc_auc(s1.data(), y2.data(), 4) == 0.0);
  // All scores tied: every pair counts one half.
  std::vector<float> s3 = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f}, y3 = {1, 0, 1, 0, 0};
  CHECK(roc_auc(s3.data(), y3.data(), 5) == 0.5);
  // Mixed: positives {0.3, 0.7, 0.7}, negatives {0.1, 0.3, 0.7}.
  // Pairs (pos, neg): 0.3 vs 0.1 win, vs 0.3 tie, vs 0.7 loss -> 1.5; each 0.7: win, win, tie -> 2.5 + 2.5.
  // AUC = (1.5 + 2.5 + 2.5) / 9 = 6.5 / 9.
  std::vector<float> s4 = {0.3f, 0.7f, 0.7f, 0.1f, 0.3f, 0.7f}, y4 = {1, 1, 1, 0, 0, 0};
  CHECK(roc_auc(s4.data(), y4.data(), 6) == doctest::Approx(6.5 / 9.0).epsilon(1e-15));
  // One class only: undefined.
  std::vector<float> y5 = {1, 1, 1, 1};
  CHECK(std::isnan(roc_auc(s1.data(), y5.data(), 4)));
}

TEST_CASE("AUC equals the pairwise definition on random data with many ties") {
  const int n = 600;
  auto scores = test::random_vector(n, 7, 0, 1);
  std::vector<float> labels(n);
  for (int i = 0; i < n; ++i) {
    scores[i] = std::round(scores[i] * 20) / 20;  // 21 distinct values: many ties
    labels[i] = (i * 7919 % 13) < 6 ? 1.0f : 0.0f;
  }
  double wins = 0, pairs = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      if (labels[i] == 1 && labels[j] == 0) {
        pairs += 1;
        wins += scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0;
      }
  CHECK(roc_auc(scores.data(), labels.data(), n) == doctest::Approx(wins / pairs).epsilon(1e-14));
}

TEST_CASE("evaluate: binary log loss and accuracy, multiclass accuracy, regression RMSE, MAE and R^2") {
  auto backend = make_cpu_backend();
  std::vector<float> logits = {2.0f, -1.0f, 0.5f, -3.0f}, labels = {1, 0, 0, 0};
  Metrics m = backend->evaluate(Task::binary, logits.data(), 4, 1, 1, labels.data());
  double expect = 0;
  for (int i = 0; i < 4; ++i) {
    const double p = 1 / (1 + std::exp(-double(logits[i])));
    expect -= labels[i] ? std::log(p) : std::log(1 - p);
  }
  CHECK(m.loss == doctest::Approx(expect / 4).epsilon(1e-12));
  CHECK(m.accuracy == doctest::Approx(0.75));  // 0.5 -> predicted 1, label 0
  CHECK(m.auc == 1.0);
  CHECK(std::isnan(m.mae));

  std::vector<float> scores = {1, 2, 0, /**/ 3, 0, 0, /**/ 0, 0, 5};
  std::vector<float> classes = {1, 1, 2};
  m = backend->evaluate(Task::multiclass, scores.data(), 3, 3, 3, classes.data());
  CHECK(m.accuracy == doctest::Approx(2.0 / 3.0));
  CHECK(std::isnan(m.auc));

  std::vector<float> pred = {1, 2, 3, 4}, truth = {1, 2, 3, 5};
  m = backend->evaluate(Task::regression, pred.data(), 4, 1, 1, truth.data());
  CHECK(m.loss == doctest::Approx(0.25));
  CHECK(m.rmse == doctest::Approx(0.5));
  CHECK(m.mae == doctest::Approx(0.25));  // |errors| 0, 0, 0, 1

  // Signed errors of both signs: -0.5, 1.5, 0, -2 and 0.25: MAE 4.25 / 5.
  std::vector<float> pred5 = {1.5f, 0.5f, -1, 3, 2.25f}, truth5 = {2, -1, -1, 5, 2};
  const Metrics m5 = backend->evaluate(Task::regression, pred5.data(), 5, 1, 1, truth5.data());
  CHECK(m5.mae == doctest::Approx(4.25 / 5).epsilon(1e-12));
  // SST = sum (y - 2.75)^2 = 3.0625 + 0.5625 + 0.0625 + 5.0625 = 8.75; R^2 = 1 - 1/8.75
  CHECK(m.r2 == doctest::Approx(1 - 1 / 8.75));
}

TEST_CASE("AUC with NaN or infinite scores returns (NaN or a value) instead of hanging") {
  const float nan = std::nanf(""), inf = INFINITY;
  std::vector<float> s = {nan, 0.5f, nan, 0.1f}, y = {1, 0, 0, 1};
  CHECK(std::isnan(roc_auc(s.data(), y.data(), 4)));
  std::vector<float> all_nan(1000, nan), labels(1000);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = float(i % 2);
  CHECK(std::isnan(roc_auc(all_nan.data(), labels.data(), 1000)));
  // Infinities are ordered: they rank like any other score.
  std::vector<float> s2 = {-inf, -inf, inf, inf}, y2 = {0, 0, 1, 1};
  CHECK(roc_auc(s2.data(), y2.data(), 4) == 1.0);
}

TEST_CASE("find_nonfinite: the first NaN or infinite element, or -1") {
  std::unique_ptr<Backend> backend = make_backend(DeviceChoice::cpu);
  std::vector<float> v = {1.0f, -3.4e38f, 3.4e38f, 0.0f};
  CHECK(backend->find_nonfinite(v.data(), 4) == -1);
  CHECK(backend->find_nonfinite(v.data(), 0) == -1);
  v[2] = std::nanf("");
  CHECK(backend->find_nonfinite(v.data(), 4) == 2);
  v[1] = -INFINITY;
  CHECK(backend->find_nonfinite(v.data(), 4) == 1);
}
