// optimizer_update (cuda/ops/optimizer.cu) on the CUDA backend against the CPU backend: params and states after
// three steps within 1e-6 (relative 2-norm).
#include "gpu_test_support.hpp"

using namespace fasttab;
using namespace fasttab::gpu_test;

TEST_CASE("cuda optimizer_update matches the CPU for adam, adamw and sgd") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto b = make_backends();
  struct Case {
    OptimizerKind kind;
    float weight_decay, momentum;
  };
  const Case cases[] = {{OptimizerKind::adam, 0.0f, 0.0f},  {OptimizerKind::adam, 0.01f, 0.0f},
                        {OptimizerKind::adamw, 0.05f, 0.0f}, {OptimizerKind::sgd, 0.0f, 0.0f},
                        {OptimizerKind::sgd, 0.001f, 0.9f}};
  std::uint32_t seed = 700;
  for (const Case& c : cases) {
    for (std::size_t count : {std::size_t{1}, std::size_t{1000}, (std::size_t{1} << 20) + 7}) {
      ++seed;
      INFO("kind=" << static_cast<int>(c.kind) << " count=" << count << " wd=" << c.weight_decay
                   << " momentum=" << c.momentum);
      const std::vector<float> p0 = random_floats(count, seed);
      const std::vector<float> zeros(count, 0.0f);
      auto cp = upload(*b.cpu, p0), cs1 = upload(*b.cpu, zeros), cs2 = upload(*b.cpu, zeros);
      auto gp = upload(*b.gpu, p0), gs1 = upload(*b.gpu, zeros), gs2 = upload(*b.gpu, zeros);
      for (int t = 1; t <= 3; ++t) {
        OptimizerUpdate u;
        u.kind = c.kind;
        u.lr = c.kind == OptimizerKind::sgd ? 0.05f : 1e-3f;
        u.weight_decay = c.weight_decay;
        u.momentum = c.momentum;
        u.step = t;
        u.bias_correction1 = 1.0f - std::pow(u.beta1, static_cast<float>(t));
        u.bias_correction2 = 1.0f - std::pow(u.beta2, static_cast<float>(t));
        const std::vector<float> grads = random_floats(count, seed * 10 + t, -0.5f, 0.5f);
        auto cg = upload(*b.cpu, grads), gg = upload(*b.gpu, grads);
        b.cpu->optimizer_update(u, cp.data(), cg.data(), cs1.data(), cs2.data(), count);
        b.gpu->optimizer_update(u, gp.data(), gg.data(), gs1.data(), gs2.data(), count);
      }
      CHECK(relative_error(download(*b.gpu, gp), download(*b.cpu, cp)) <= 1e-6);
      CHECK(relative_error(download(*b.gpu, gs1), download(*b.cpu, cs1)) <= 1e-6);
      CHECK(relative_error(download(*b.gpu, gs2), download(*b.cpu, cs2)) <= 1e-6);
    }
  }
}
