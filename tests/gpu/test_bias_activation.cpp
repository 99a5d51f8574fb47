// The MLP's element-wise ops (cuda/ops/bias_activation.cu) on the CUDA backend against the CPU backend:
//   bias_activation_dropout_forward, activation_dropout_backward: ||gpu - cpu|| / ||cpu|| <= 1e-5 (tanhf against
//   std::tanh), the same elements dropped (identical masks), the padding columns untouched;
//   bias_gradient: <= 1e-5, every output written, the same bits on a second run.
#include "gpu_test_support.hpp"

using namespace fasttab;
using namespace fasttab::gpu_test;

namespace {

struct Shape {
  int rows, cols, ld;
};
const Shape kShapes[] = {{37, 301, 304}, {64, 24, 24}, {1, 1, 1}, {1000, 7, 9}, {513, 128, 128}, {16384, 300, 300}, {129, 300, 304}};
const Activation kActivations[] = {Activation::tanh, Activation::relu, Activation::identity};

std::vector<bool> zeros_of(const std::vector<float>& v) {
  std::vector<bool> z(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) z[i] = v[i] == 0.0f;
  return z;
}

}  // namespace

TEST_CASE("cuda bias_activation_dropout_forward and activation_dropout_backward match the CPU") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto b = make_backends();
  std::uint32_t seed = 200;
  for (const Shape& s : kShapes) {
    for (Activation act : kActivations) {
      for (float p : {0.0f, 0.3f}) {
        ++seed;
        INFO("rows=" << s.rows << " cols=" << s.cols << " ld=" << s.ld << " act=" << static_cast<int>(act)
                     << " p=" << p);
        const std::size_t size = static_cast<std::size_t>(s.rows) * s.ld;
        const std::vector<float> z = random_floats(size, seed, -2.0f, 2.0f);
        const std::vector<float> bias = random_floats(static_cast<std::size_t>(s.cols), seed + 1000, -0.5f, 0.5f);
        const DropoutKey key{0x1234567890ULL + seed, 7u + seed, 2u};

        auto cz = upload(*b.cpu, z), cbias = upload(*b.cpu, bias);
        b.cpu->bias_activation_dropout_forward(cz.data(), s.rows, s.cols, s.ld, cbias.data(), act, p, key);
        const std::vector<float> want = download(*b.cpu, cz);
        auto gz = upload(*b.gpu, z), gbias = upload(*b.gpu, bias);
        b.gpu->bias_activation_dropout_forward(gz.data(), s.rows, s.cols, s.ld, gbias.data(), act, p, key);
        const std::vector<float> got = download(*b.gpu, gz);

        const std::vector<float> got_r = region(got, s.rows, s.cols, s.ld), want_r = region(want, s.rows, s.cols, s.ld);
        CHECK(count_nan(got_r) == 0);
        CHECK(relative_error(got_r, want_r) <= 1e-5);
        CHECK(zeros_of(got_r) == zeros_of(want_r));  // the same dropout mask (and the same relu zeros)
        CHECK(same_bits(padding(got, s.rows, s.cols, s.ld), padding(z, s.rows, s.cols, s.ld)));

        // Backward from the CPU's forward output, so that both see the same `out`.
        const std::vector<float> grad = random_floats(size, seed + 2000);
        auto cg = upload(*b.cpu, grad), cout_ = upload(*b.cpu, want);
        b.cpu->activation_dropout_backward(cg.data(), cout_.data(), s.rows, s.cols, s.ld, act, p, key);
        const std::vector<float> want_g = download(*b.cpu, cg);
        auto gg = upload(*b.gpu, grad), gout = upload(*b.gpu, want);
        b.gpu->activation_dropout_backward(gg.data(), gout.data(), s.rows, s.cols, s.ld, act, p, key);
        const std::vector<float> got_g = download(*b.gpu, gg);

        const std::vector<float> got_gr = region(got_g, s.rows, s.cols, s.ld);
        const std::vector<float> want_gr = region(want_g, s.rows, s.cols, s.ld);
        CHECK(count_nan(got_gr) == 0);
        CHECK(relative_error(got_gr, want_gr) <= 1e-5);
        CHECK(zeros_of(got_gr) == zeros_of(want_gr));
        CHECK(same_bits(padding(got_g, s.rows, s.cols, s.ld), padding(grad, s.rows, s.cols, s.ld)));
      }
    }
  }
}

TEST_CASE("cuda dropout: the kept fraction is about 1 - p and the mask changes with the step") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto gpu = make_gpu();
  const int rows = 1000, cols = 301;
  const std::vector<float> ones(static_cast<std::size_t>(rows) * cols, 1.0f);
  const std::vector<float> zero_bias(cols, 0.0f);
  auto bias = upload(*gpu, zero_bias);
  std::vector<std::vector<float>> outs;
  for (std::uint32_t step : {1u, 2u}) {
    auto z = upload(*gpu, ones);
    gpu->bias_activation_dropout_forward(z.data(), rows, cols, cols, bias.data(), Activation::identity, 0.25f,
                                         DropoutKey{99, step, 0});
    outs.push_back(download(*gpu, z));
  }
  std::size_t kept = 0, differ = 0;
  for (std::size_t i = 0; i < ones.size(); ++i) {
    kept += outs[0][i] != 0.0f;
    differ += (outs[0][i] != 0.0f) != (outs[1][i] != 0.0f);
    if (outs[0][i] != 0.0f) CHECK(outs[0][i] == doctest::Approx(1.0f / 0.75f));
  }
  const double fraction = static_cast<double>(kept) / static_cast<double>(ones.size());
  CHECK(fraction > 0.74);
  CHECK(fraction < 0.76);
  CHECK(differ > ones.size() / 10);
}

TEST_CASE("cuda bias_gradient matches the CPU and is deterministic") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto b = make_backends();
  const Shape shapes[] = {{37, 301, 304}, {1, 1, 1}, {4096, 256, 256}, {(1 << 16) + 3, 5, 8}, {100, 1000, 1001}};
  std::uint32_t seed = 300;
  for (const Shape& s : shapes) {
    ++seed;
    INFO("rows=" << s.rows << " cols=" << s.cols << " ld=" << s.ld);
    const std::vector<float> grad = random_floats(static_cast<std::size_t>(s.rows) * s.ld, seed);
    auto cg = upload(*b.cpu, grad);
    BackendBuffer<float> cbg(*b.cpu, s.cols, "bias grad");
    b.cpu->bias_gradient(cg.data(), s.rows, s.cols, s.ld, cbg.data());
    const std::vector<float> want = download(*b.cpu, cbg);

    auto gg = upload(*b.gpu, grad);
    BackendBuffer<float> gbg(*b.gpu, s.cols, "bias grad");
    b.gpu->fill(gbg.data(), kNaN, s.cols);
    b.gpu->bias_gradient(gg.data(), s.rows, s.cols, s.ld, gbg.data());
    const std::vector<float> got = download(*b.gpu, gbg);
    CHECK(count_nan(got) == 0);
    CHECK(relative_error(got, want) <= 1e-5);
    b.gpu->fill(gbg.data(), kNaN, s.cols);
    b.gpu->bias_gradient(gg.data(), s.rows, s.cols, s.ld, gbg.data());
    CHECK(same_bits(download(*b.gpu, gbg), got));
  }
}
