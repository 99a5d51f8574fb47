// Each CPU backend op against a plain double-precision loop on random inputs.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <set>

#include "fasttab/backend.hpp"
#include "host/backend/philox.hpp"
#include "test_support.hpp"

using namespace fasttab;
using test::random_vector;
using test::relative_error;

TEST_CASE("cpu gemm matches a double loop for every transpose combination") {
  auto backend = make_cpu_backend();
  const int m = 37, n = 29, k = 53;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      const int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
      auto a = random_vector(std::size_t(ta ? k : m) * lda, 1 + ta);
      auto b = random_vector(std::size_t(tb ? n : k) * ldb, 3 + tb);
      auto c = random_vector(std::size_t(m) * ldc, 5);
      std::vector<double> expect(std::size_t(m) * n);
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
          double s = 0;
          for (int p = 0; p < k; ++p) {
            const double av = ta ? a[std::size_t(p) * lda + i] : a[std::size_t(i) * lda + p];
            const double bv = tb ? b[std::size_t(j) * ldb + p] : b[std::size_t(p) * ldb + j];
            s += av * bv;
          }
          expect[std::size_t(i) * n + j] = 0.5 * s + 0.25 * c[std::size_t(i) * ldc + j];
        }
      backend->gemm(ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, 0.25f, c.data(), ldc);
      std::vector<float> got(std::size_t(m) * n);
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) got[std::size_t(i) * n + j] = c[std::size_t(i) * ldc + j];
      CHECK(relative_error(got, expect) < 1e-5);
    }
}

TEST_CASE("cpu bias+activation+dropout forward and backward match the definitions") {
  auto backend = make_cpu_backend();
  const int rows = 41, cols = 67, ld = 70;
  const DropoutKey key{1234, 7, 2};
  for (Activation act : {Activation::tanh, Activation::relu, Activation::identity})
    for (float p : {0.0f, 0.5f, 0.2f}) {
      auto z = random_vector(std::size_t(rows) * ld, 11, -2, 2);
      auto bias = random_vector(cols, 12);
      auto out = z;
      backend->bias_activation_dropout_forward(out.data(), rows, cols, ld, bias.data(), act, p, key);
      auto grad_out = random_vector(std::size_t(rows) * ld, 13);
      auto grad = grad_out;
      backend->activation_dropout_backward(grad.data(), out.data(), rows, cols, ld, act, p, key);
      std::vector<double> expect_out, expect_grad;
      std::vector<float> got_out, got_grad;
      std::size_t dropped = 0;
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
          const std::size_t i = std::size_t(r) * ld + c;
          const double x = double(z[i]) + bias[c];
          double a = act == Activation::tanh ? std::tanh(x) : act == Activation::relu ? std::max(x, 0.0) : x;
          double d = act == Activation::tanh ? 1 - a * a : act == Activation::relu ? (x > 0 ? 1.0 : 0.0) : 1.0;
          const bool keep = p == 0 || dropout_keep(key.seed, key.step, key.layer, std::uint64_t(r) * cols + c, p);
          dropped += !keep;
          expect_out.push_back(keep ? a / (1 - p) : 0.0);
          expect_grad.push_back(keep ? grad_out[i] * d / (1 - p) : 0.0);
          got_out.push_back(out[i]);
          got_grad.push_back(grad[i]);
        }
      CHECK(relative_error(got_out, expect_out) < 1e-6);
      CHECK(relative_error(got_grad, expect_grad) < 1e-5);
      if (p > 0) {  // the mask drops about p of the elements
        const double fraction = double(dropped) / (rows * cols);
        CHECK(std::fabs(fraction - p) < 0.05);
      }
    }
}

TEST_CASE("cpu bias gradient is the column sum") {
  auto backend = make_cpu_backend();
  const int rows = 1000, cols = 33, ld = 36;
  auto g = random_vector(std::size_t(rows) * ld, 21);
  std::vector<float> db(cols);
  backend->bias_gradient(g.data(), rows, cols, ld, db.data());
  std::vector<double> expect(cols, 0.0);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) expect[c] += g[std::size_t(r) * ld + c];
  CHECK(relative_error(db, expect) < 1e-6);
}

TEST_CASE("cpu losses and their gradients match the definitions") {
  auto backend = make_cpu_backend();
  const int rows = 64;
  SUBCASE("binary cross-entropy from the logit, stable at large logits") {
    auto x = random_vector(rows, 31, -30, 30);
    std::vector<float> y(rows);
    for (int r = 0; r < rows; ++r) y[r] = r % 3 == 0 ? 1.0f : 0.0f;
    std::vector<float> grad(rows);
    float loss = 0;
    backend->loss_forward_backward(Task::binary, x.data(), rows, 1, 1, y.data(), grad.data(), &loss);
    double expect = 0;
    std::vector<double> expect_grad(rows);
    for (int r = 0; r < rows; ++r) {
      const double p = 1 / (1 + std::exp(-double(x[r])));
      // log(1 + e^x) - y x, written out independently
      expect += (x[r] > 0 ? x[r] + std::log1p(std::exp(-double(x[r]))) : std::log1p(std::exp(double(x[r])))) - y[r] * x[r];
      expect_grad[r] = (p - y[r]) / rows;
    }
    CHECK(loss == doctest::Approx(expect / rows).epsilon(1e-6));
    CHECK(relative_error(grad, expect_grad) < 1e-6);
  }
  SUBCASE("softmax cross-entropy") {
    const int k = 5;
    auto x = random_vector(std::size_t(rows) * k, 32, -4, 4);
    std::vector<float> y(rows);
    for (int r = 0; r < rows; ++r) y[r] = float(r % k);
    std::vector<float> grad(std::size_t(rows) * k);
    float loss = 0;
    backend->loss_forward_backward(Task::multiclass, x.data(), rows, k, k, y.data(), grad.data(), &loss);
    double expect = 0;
    std::vector<double> expect_grad(std::size_t(rows) * k);
    for (int r = 0; r < rows; ++r) {
      double z = 0;
      for (int j = 0; j < k; ++j) z += std::exp(double(x[r * k + j]));
      expect += std::log(z) - x[r * k + int(y[r])];
      for (int j = 0; j < k; ++j) expect_grad[r * k + j] = (std::exp(double(x[r * k + j])) / z - (j == int(y[r]))) / rows;
    }
    CHECK(loss == doctest::Approx(expect / rows).epsilon(1e-6));
    CHECK(relative_error(grad, expect_grad) < 1e-6);
  }
  SUBCASE("softmax cross-entropy with labels that name no class: finite, no -1 in the gradient, never correct") {
    // The loaders refuse such labels; through the API they must not index past the row (class_label.hpp), and
    // both backends treat them alike: the loss term is logsumexp - the largest logit.
    const int k = 3;
    const std::vector<float> x = {0.5f, 2.0f, -1.0f, 1.0f, 0.0f, 3.0f, -2.0f, 4.0f, 1.5f, 0.25f, 0.75f, 0.5f};
    const std::vector<float> y = {std::nanf(""), -1.0f, 3.0f, 1e30f};
    std::vector<float> grad(x.size());
    float loss = 0;
    backend->loss_forward_backward(Task::multiclass, x.data(), 4, k, k, y.data(), grad.data(), &loss);
    double expect = 0;
    for (int r = 0; r < 4; ++r) {
      double top = x[r * k], z = 0;
      for (int j = 1; j < k; ++j) top = std::max(top, double(x[r * k + j]));
      for (int j = 0; j < k; ++j) z += std::exp(double(x[r * k + j]));
      expect += std::log(z) - top;
      for (int j = 0; j < k; ++j) CHECK(grad[r * k + j] == doctest::Approx(std::exp(double(x[r * k + j])) / z / 4));
    }
    CHECK(loss == doctest::Approx(expect / 4).epsilon(1e-6));
    const Metrics m = backend->evaluate(Task::multiclass, x.data(), 4, k, k, y.data());
    CHECK(m.accuracy == 0.0);
    CHECK(m.loss == doctest::Approx(expect / 4).epsilon(1e-9));
  }
  SUBCASE("mean squared error") {
    auto x = random_vector(rows, 33, -3, 3);
    auto y = random_vector(rows, 34, -3, 3);
    std::vector<float> grad(rows);
    float loss = 0;
    backend->loss_forward_backward(Task::regression, x.data(), rows, 1, 1, y.data(), grad.data(), &loss);
    double expect = 0;
    std::vector<double> expect_grad(rows);
    for (int r = 0; r < rows; ++r) {
      expect += (double(x[r]) - y[r]) * (double(x[r]) - y[r]);
      expect_grad[r] = 2 * (double(x[r]) - y[r]) / rows;
    }
    CHECK(loss == doctest::Approx(expect / rows).epsilon(1e-6));
    CHECK(relative_error(grad, expect_grad) < 1e-6);
  }
}

TEST_CASE("optimiser steps against hand-computed values") {
  auto backend = make_cpu_backend();
  // One parameter p = 1, gradient g = 0.5, fresh state.
  SUBCASE("adam, first step moves by lr (bias-corrected m/sqrt(v) = sign(g))") {
    float p = 1, g = 0.5f, m = 0, v = 0;
    OptimizerUpdate u;
    u.kind = OptimizerKind::adam;
    u.lr = 0.1f;
    u.step = 1;
    u.bias_correction1 = 1 - 0.9f;
    u.bias_correction2 = 1 - 0.999f;
    backend->optimizer_update(u, &p, &g, &m, &v, 1);
    // m = 0.05, v = 0.00025; p = 1 - 0.1 * (0.05/0.1) / (sqrt(0.00025)/sqrt(0.001) + 1e-8) = 1 - 0.1 * 0.5/0.5
    CHECK(m == doctest::Approx(0.05));
    CHECK(v == doctest::Approx(0.00025));
    CHECK(p == doctest::Approx(0.9).epsilon(1e-6));
  }
  SUBCASE("adam with L2 weight decay adds wd*p to the gradient") {
    float p = 1, g = 0.5f, m = 0, v = 0;
    OptimizerUpdate u;
    u.lr = 0.1f;
    u.weight_decay = 0.5f;  // g' = 1.0
    u.bias_correction1 = 0.1f;
    u.bias_correction2 = 0.001f;
    backend->optimizer_update(u, &p, &g, &m, &v, 1);
    CHECK(m == doctest::Approx(0.1));
    CHECK(v == doctest::Approx(0.001));
    CHECK(p == doctest::Approx(0.9).epsilon(1e-6));
  }
  SUBCASE("adamw decays the weight itself: p(1 - lr wd) then the Adam step") {
    float p = 1, g = 0.5f, m = 0, v = 0;
    OptimizerUpdate u;
    u.kind = OptimizerKind::adamw;
    u.lr = 0.1f;
    u.weight_decay = 0.5f;
    u.bias_correction1 = 0.1f;
    u.bias_correction2 = 0.001f;
    backend->optimizer_update(u, &p, &g, &m, &v, 1);
    CHECK(m == doctest::Approx(0.05));
    CHECK(p == doctest::Approx(0.95 - 0.1).epsilon(1e-6));
  }
  SUBCASE("sgd with momentum and weight decay, two steps") {
    float p = 1, g = 0.5f, buf = 0, unused = 0;
    OptimizerUpdate u;
    u.kind = OptimizerKind::sgd;
    u.lr = 0.1f;
    u.momentum = 0.9f;
    u.weight_decay = 0.2f;
    u.step = 1;
    backend->optimizer_update(u, &p, &g, &buf, &unused, 1);
    // g' = 0.5 + 0.2 = 0.7; buf = 0.7; p = 1 - 0.07 = 0.93
    CHECK(buf == doctest::Approx(0.7));
    CHECK(p == doctest::Approx(0.93));
    u.step = 2;
    backend->optimizer_update(u, &p, &g, &buf, &unused, 1);
    // g' = 0.5 + 0.186 = 0.686; buf = 0.63 + 0.686 = 1.316; p = 0.93 - 0.1316 = 0.7984
    CHECK(buf == doctest::Approx(1.316));
    CHECK(p == doctest::Approx(0.7984));
  }
}

// copy_within is bench_step's bandwidth ceiling: bit-exact, only the bytes asked for, nothing for 0 bytes.
TEST_CASE("cpu copy_within copies exactly the bytes asked for, bit for bit") {
  auto backend = make_cpu_backend();
  auto source = random_vector(1000, 43);
  source[250] = std::nanf("");
  source[251] = -0.0f;
  std::vector<float> dest(1000, 5.0f);
  backend->copy_within(dest.data() + 100, source.data() + 200, 300 * sizeof(float));
  backend->copy_within(dest.data(), source.data(), 0);
  for (std::size_t i = 0; i < dest.size(); ++i) {
    if (i < 100 || i >= 400) {
      CHECK(dest[i] == 5.0f);
    } else {
      CHECK(std::memcmp(&dest[i], &source[i + 100], sizeof(float)) == 0);
    }
  }
  backend->copy_within(dest.data(), source.data(), source.size() * sizeof(float));
  CHECK(std::memcmp(dest.data(), source.data(), source.size() * sizeof(float)) == 0);
}

TEST_CASE("cpu gather copies the indexed rows and labels exactly") {
  auto backend = make_cpu_backend();
  const int ld = 24, rows = 500;
  auto table = random_vector(std::size_t(rows) * ld, 41);
  auto labels = random_vector(rows, 42);
  std::vector<std::uint32_t> idx = {499, 0, 17, 17, 250};
  std::vector<float> out(idx.size() * ld), out_labels(idx.size());
  backend->gather_rows(table.data(), ld, labels.data(), idx.data(), std::int64_t(idx.size()), out.data(), out_labels.data());
  for (std::size_t i = 0; i < idx.size(); ++i) {
    CHECK(std::equal(out.begin() + i * ld, out.begin() + (i + 1) * ld, table.begin() + std::size_t(idx[i]) * ld));
    CHECK(out_labels[i] == labels[idx[i]]);
  }
}

TEST_CASE("the permutation is a permutation, differs by epoch and is the same for the same seed") {
  auto backend = make_cpu_backend();
  const std::uint32_t n = 10007;
  std::vector<std::uint32_t> a(n), b(n), c(n);
  backend->random_permutation(5, 0, n, a.data());
  backend->random_permutation(5, 0, n, b.data());
  backend->random_permutation(5, 1, n, c.data());
  CHECK(a == b);
  CHECK(a != c);
  std::vector<std::uint32_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (std::uint32_t i = 0; i < n; ++i) REQUIRE(sorted[i] == i);
  // keys ascend along the permutation
  for (std::uint32_t i = 1; i < n; ++i) REQUIRE(permutation_key(5, 0, a[i - 1]) <= permutation_key(5, 0, a[i]));
}

TEST_CASE("column moments and standardisation") {
  auto backend = make_cpu_backend();
  const int rows = 3000, cols = 5, ld = 8;
  auto t = random_vector(std::size_t(rows) * ld, 51, -3, 7);
  std::vector<double> mean(cols), sd(cols);
  backend->column_moments(t.data(), rows, cols, ld, mean.data(), sd.data());
  for (int c = 0; c < cols; ++c) {
    double s = 0, q = 0;
    for (int r = 0; r < rows; ++r) s += t[std::size_t(r) * ld + c];
    const double mu = s / rows;
    for (int r = 0; r < rows; ++r) q += (t[std::size_t(r) * ld + c] - mu) * (t[std::size_t(r) * ld + c] - mu);
    CHECK(mean[c] == doctest::Approx(mu).epsilon(1e-12));
    CHECK(sd[c] == doctest::Approx(std::sqrt(q / rows)).epsilon(1e-12));
  }
  std::vector<float> m(cols), inv(cols);
  for (int c = 0; c < cols; ++c) { m[c] = float(mean[c]); inv[c] = float(1 / sd[c]); }
  backend->standardize_columns(t.data(), rows, cols, ld, m.data(), inv.data());
  backend->column_moments(t.data(), rows, cols, ld, mean.data(), sd.data());
  for (int c = 0; c < cols; ++c) {
    CHECK(std::fabs(mean[c]) < 1e-5);
    CHECK(sd[c] == doctest::Approx(1.0).epsilon(1e-5));
  }
}
