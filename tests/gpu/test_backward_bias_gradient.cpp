// The fused backward + bias gradient (cuda/ops/backward_bias_gradient.cu) against the CPU backend's two passes:
// <= 1e-5, the same bits on a second run.
#include "gpu_test_support.hpp"

using namespace fasttab;
using namespace fasttab::gpu_test;

namespace {

struct Shape {
  int rows, cols, ld;
};

}  // namespace

TEST_CASE("cuda fused backward + bias gradient matches the CPU's two passes and is deterministic") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto b = make_backends();
  // Fused shapes (whole float4 rows, at most 256 float4s) and ones that fall back to the two passes.
  const Shape shapes[] = {{16384, 300, 300}, {14636, 300, 300}, {37, 8, 8}, {1, 4, 4}, {513, 128, 132},
                          {1000, 1024, 1024}, {77, 301, 304}, {50, 1028, 1028}};
  std::uint32_t seed = 700;
  for (const Shape& s : shapes)
    for (float p : {0.0f, 0.5f}) {
      ++seed;
      INFO("rows=" << s.rows << " cols=" << s.cols << " ld=" << s.ld << " p=" << p);
      const DropoutKey key{99 + seed, 5, 1};
      const std::vector<float> grad = random_floats(static_cast<std::size_t>(s.rows) * s.ld, seed);
      const std::vector<float> out = random_floats(static_cast<std::size_t>(s.rows) * s.ld, seed + 1, -1.5f, 1.5f);
      auto cg = upload(*b.cpu, grad), co = upload(*b.cpu, out);
      BackendBuffer<float> cbg(*b.cpu, s.cols, "bias grad");
      b.cpu->activation_dropout_backward(cg.data(), co.data(), s.rows, s.cols, s.ld, Activation::tanh, p, key);
      b.cpu->bias_gradient(cg.data(), s.rows, s.cols, s.ld, cbg.data());
      const std::vector<float> want_grad = region(download(*b.cpu, cg), s.rows, s.cols, s.ld);
      const std::vector<float> want_bias = download(*b.cpu, cbg);

      std::vector<float> first_bias;
      for (int run = 0; run < 2; ++run) {
        auto gg = upload(*b.gpu, grad), go = upload(*b.gpu, out);
        BackendBuffer<float> gbg(*b.gpu, s.cols, "bias grad");
        b.gpu->fill(gbg.data(), kNaN, s.cols);
        b.gpu->activation_dropout_backward_bias_gradient(gg.data(), go.data(), s.rows, s.cols, s.ld, Activation::tanh,
                                                         p, key, gbg.data());
        const std::vector<float> all = download(*b.gpu, gg);
        const std::vector<float> got_bias = download(*b.gpu, gbg);
        CHECK(relative_error(region(all, s.rows, s.cols, s.ld), want_grad) <= 1e-5);
        CHECK(padding(all, s.rows, s.cols, s.ld) == padding(grad, s.rows, s.cols, s.ld));  // padding untouched
        CHECK(count_nan(got_bias) == 0);
        CHECK(relative_error(got_bias, want_bias) <= 1e-5);
        if (run == 0) first_bias = got_bias;
        else CHECK(same_bits(got_bias, first_bias));
      }
    }
}
