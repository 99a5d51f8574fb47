// evaluate on the CUDA backend against the CPU backend and hand-computed cases:
//   AUC within 1e-12 (exact integer counts on both), with many tied scores and mixed -0/+0; log loss and MSE within
//   1e-6 relative; accuracy, RMSE, R^2 within 1e-9; the fields that do not apply are NaN on both.
#include "gpu_test_support.hpp"

using namespace fasttab;
using namespace fasttab::gpu_test;

namespace {

bool close_or_both_nan(double got, double want, double relative) {
  if (std::isnan(want)) return std::isnan(got);
  return std::fabs(got - want) <= relative * std::fabs(want) + 1e-300;
}

Metrics run(Backend& backend, Task task, const std::vector<float>& outputs, std::int64_t rows, int width, int ld,
            const std::vector<float>& labels) {
  auto o = upload(backend, outputs), l = upload(backend, labels);
  return backend.evaluate(task, o.data(), rows, width, ld, l.data());
}

void compare(const Metrics& got, const Metrics& want) {
  INFO("gpu loss " << got.loss << " auc " << got.auc << " acc " << got.accuracy << " rmse " << got.rmse << " mae " << got.mae << " r2 " << got.r2);
  INFO("cpu loss " << want.loss << " auc " << want.auc << " acc " << want.accuracy << " rmse " << want.rmse << " mae " << want.mae << " r2 " << want.r2);
  CHECK(got.rows == want.rows);
  CHECK(close_or_both_nan(got.loss, want.loss, 1e-6));
  CHECK(close_or_both_nan(got.auc, want.auc, 1e-12));
  CHECK(close_or_both_nan(got.accuracy, want.accuracy, 1e-9));
  CHECK(close_or_both_nan(got.rmse, want.rmse, 1e-9));
  CHECK(close_or_both_nan(got.mae, want.mae, 1e-9));
  CHECK(close_or_both_nan(got.r2, want.r2, 1e-9));
}

}  // namespace

TEST_CASE("cuda evaluate: binary AUC with ties, log loss and accuracy match the CPU") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto b = make_backends();
  std::uint32_t seed = 900;
  for (std::int64_t rows : {std::int64_t{2}, std::int64_t{37}, std::int64_t{1000}, std::int64_t{200003}}) {
    for (int ld : {1, 3}) {
      for (int distinct : {5, 1000000}) {  // 5 score levels: almost everything tied; else few ties
        ++seed;
        INFO("rows=" << rows << " ld=" << ld << " distinct=" << distinct);
        std::mt19937 gen(seed);
        std::uniform_int_distribution<int> level(0, distinct - 1), bit(0, 1);
        std::vector<float> outputs(static_cast<std::size_t>(rows) * ld, 0.0f);
        std::vector<float> labels(static_cast<std::size_t>(rows));
        for (std::int64_t r = 0; r < rows; ++r) {
          const int l = level(gen);
          float score = static_cast<float>(l - distinct / 2) * (distinct > 5 ? 1e-5f : 1.0f);
          if (score == 0.0f && bit(gen)) score = -0.0f;  // -0 and +0 are one score
          outputs[static_cast<std::size_t>(r) * ld] = score;
          labels[static_cast<std::size_t>(r)] = static_cast<float>(bit(gen));
        }
        const Metrics want = run(*b.cpu, Task::binary, outputs, rows, 1, ld, labels);
        const Metrics got = run(*b.gpu, Task::binary, outputs, rows, 1, ld, labels);
        compare(got, want);
      }
    }
  }
}

TEST_CASE("cuda evaluate: hand-computed AUCs") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto gpu = make_gpu();
  // Classic: scores 0.1 0.4 0.35 0.8 with labels 0 0 1 1: 3 of 4 pairs ranked right.
  CHECK(run(*gpu, Task::binary, {0.1f, 0.4f, 0.35f, 0.8f}, 4, 1, 1, {0, 0, 1, 1}).auc == 0.75);
  // Ties: positives at 1 and 2, negatives at 1 and 0: (tie 1/2) + 1 + 1 + 1 = 3.5 of 4.
  CHECK(run(*gpu, Task::binary, {1.0f, 1.0f, 2.0f, 0.0f}, 4, 1, 1, {1, 0, 1, 0}).auc == 0.875);
  // All tied: 1/2.
  CHECK(run(*gpu, Task::binary, {3.0f, 3.0f, 3.0f, 3.0f, 3.0f}, 5, 1, 1, {1, 0, 0, 1, 1}).auc == 0.5);
  // -0 and +0 are the same score.
  CHECK(run(*gpu, Task::binary, {-0.0f, 0.0f}, 2, 1, 1, {1, 0}).auc == 0.5);
  // One class only: NaN.
  CHECK(std::isnan(run(*gpu, Task::binary, {0.1f, 0.2f, 0.3f}, 3, 1, 1, {1, 1, 1}).auc));
  // Perfectly wrong: 0.
  const Metrics m = run(*gpu, Task::binary, {-1.0f, -2.0f, 1.0f, 2.0f}, 4, 1, 1, {1, 1, 0, 0});
  CHECK(m.auc == 0.0);
  CHECK(m.accuracy == 0.0);
  CHECK(std::isnan(m.rmse));
  CHECK(std::isnan(m.mae));
  CHECK(std::isnan(m.r2));
  // Regression, by hand: errors 0, 0, 0, -1 and 2: MAE 3/5, MSE 5/5.
  const Metrics r = run(*gpu, Task::regression, {1, 2, 3, 4, 7}, 5, 1, 1, {1, 2, 3, 5, 5});
  CHECK(r.mae == doctest::Approx(0.6).epsilon(1e-12));
  CHECK(r.loss == doctest::Approx(1.0).epsilon(1e-12));
}

TEST_CASE("cuda evaluate: multiclass and regression match the CPU") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto b = make_backends();
  std::uint32_t seed = 1000;
  for (std::int64_t rows : {std::int64_t{1}, std::int64_t{37}, std::int64_t{100003}}) {
    ++seed;
    INFO("rows=" << rows);
    {
      const int width = 4, ld = 6;
      std::vector<float> outputs = random_floats(static_cast<std::size_t>(rows) * ld, seed, -4.0f, 4.0f);
      std::mt19937 gen(seed + 1);
      std::uniform_int_distribution<int> cls(0, width - 1);
      std::vector<float> labels(static_cast<std::size_t>(rows));
      for (float& y : labels) y = static_cast<float>(cls(gen));
      compare(run(*b.gpu, Task::multiclass, outputs, rows, width, ld, labels),
              run(*b.cpu, Task::multiclass, outputs, rows, width, ld, labels));
    }
    {
      const int ld = 2;
      const std::vector<float> outputs = random_floats(static_cast<std::size_t>(rows) * ld, seed + 2, -3.0f, 3.0f);
      const std::vector<float> labels = random_floats(static_cast<std::size_t>(rows), seed + 3, -2.0f, 4.0f);
      const Metrics want = run(*b.cpu, Task::regression, outputs, rows, 1, ld, labels);
      const Metrics got = run(*b.gpu, Task::regression, outputs, rows, 1, ld, labels);
      compare(got, want);
      CHECK(std::isnan(got.auc));
      CHECK(std::isnan(got.accuracy));
    }
  }
}
