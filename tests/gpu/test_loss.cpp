// loss_forward_backward (cuda/ops/loss.cu) on the CUDA backend against the CPU backend:
//   loss: |loss_gpu - loss_cpu| / |loss_cpu| <= 1e-5 and ||grad_gpu - grad_cpu|| / ||grad_cpu|| <= 1e-5, every
//   gradient element written, the same loss bits on a second run;
#include "gpu_test_support.hpp"

using namespace fasttab;
using namespace fasttab::gpu_test;

namespace {

std::vector<float> labels_for(Task task, int rows, int width, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<float> y(static_cast<std::size_t>(rows));
  std::uniform_int_distribution<int> cls(0, width - 1), bit(0, 1);
  std::normal_distribution<float> normal(0.5f, 2.0f);
  for (float& v : y) {
    switch (task) {
      case Task::binary: v = static_cast<float>(bit(gen)); break;
      case Task::multiclass: v = static_cast<float>(cls(gen)); break;
      case Task::regression: v = normal(gen); break;
    }
  }
  return y;
}

}  // namespace

TEST_CASE("cuda loss_forward_backward matches the CPU for every task") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto b = make_backends();
  struct Case {
    Task task;
    int width, ld;
  };
  const Case cases[] = {{Task::binary, 1, 1},     {Task::binary, 1, 4},     {Task::regression, 1, 1},
                        {Task::regression, 1, 3}, {Task::multiclass, 5, 8}, {Task::multiclass, 3, 3},
                        {Task::multiclass, 10, 10}};
  std::uint32_t seed = 600;
  for (const Case& c : cases) {
    for (int rows : {1, 37, 1000, 100003}) {
      ++seed;
      INFO("task=" << static_cast<int>(c.task) << " rows=" << rows << " width=" << c.width << " ld=" << c.ld);
      std::vector<float> x = random_floats(static_cast<std::size_t>(rows) * c.ld, seed, -6.0f, 6.0f);
      if (rows > 10) {  // a few large logits: the stable forms must not overflow
        x[0] = 40.0f;
        x[static_cast<std::size_t>(c.ld)] = -40.0f;
      }
      const std::vector<float> y = labels_for(c.task, rows, c.width, seed + 1);
      const std::vector<float> grad0 = random_floats(static_cast<std::size_t>(rows) * c.ld, seed + 2);

      auto cx = upload(*b.cpu, x), cy = upload(*b.cpu, y), cg = upload(*b.cpu, grad0);
      BackendBuffer<float> closs(*b.cpu, 1, "loss");
      b.cpu->loss_forward_backward(c.task, cx.data(), rows, c.width, c.ld, cy.data(), cg.data(), closs.data());
      const std::vector<float> want_g = download(*b.cpu, cg);
      const float want_loss = download(*b.cpu, closs)[0];

      auto gx = upload(*b.gpu, x), gy = upload(*b.gpu, y), gg = upload(*b.gpu, grad0);
      b.gpu->fill(gg.data(), kNaN, gg.size());
      BackendBuffer<float> gloss(*b.gpu, 1, "loss");
      b.gpu->fill(gloss.data(), kNaN, 1);
      b.gpu->loss_forward_backward(c.task, gx.data(), rows, c.width, c.ld, gy.data(), gg.data(), gloss.data());
      const std::vector<float> got_g = download(*b.gpu, gg);
      const float got_loss = download(*b.gpu, gloss)[0];

      const std::vector<float> got_gr = region(got_g, rows, c.width, c.ld);
      CHECK(count_nan(got_gr) == 0);
      CHECK(relative_error(got_gr, region(want_g, rows, c.width, c.ld)) <= 1e-5);
      CHECK(std::isfinite(got_loss));
      CHECK(std::fabs(static_cast<double>(got_loss) - want_loss) <= 1e-5 * std::fabs(static_cast<double>(want_loss)));

      b.gpu->loss_forward_backward(c.task, gx.data(), rows, c.width, c.ld, gy.data(), gg.data(), gloss.data());
      const float again = download(*b.gpu, gloss)[0];
      CHECK(std::memcmp(&again, &got_loss, sizeof again) == 0);
    }
  }
}

// Labels that name no class (NaN, negative, past the last, huge) reach the backends only through the C++ API (the
// loaders refuse them). Both treat them alike (host/backend/class_label.hpp): loss term logsumexp minus the largest
// logit, no -1 in the gradient, never counted correct. Before, the GPU took NaN as class 0 and the CPU indexed
// outside the row.
TEST_CASE("cuda multiclass loss and metrics treat labels that name no class as the CPU does") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto b = make_backends();
  const int rows = 6, width = 3;
  const std::vector<float> x = random_floats(static_cast<std::size_t>(rows) * width, 77, -3.0f, 3.0f);
  const std::vector<float> y = {kNaN, -1.0f, 3.0f, 1e30f, 2.0f, 0.0f};  // the last two are real classes
  std::vector<float> loss(2), grad_cpu, grad_gpu;
  Metrics metrics[2];
  Backend* backends[2] = {b.cpu.get(), b.gpu.get()};
  for (int i = 0; i < 2; ++i) {
    Backend& backend = *backends[i];
    auto dx = upload(backend, x), dy = upload(backend, y);
    BackendBuffer<float> dg(backend, x.size(), "gradient"), dl(backend, 1, "loss");
    backend.loss_forward_backward(Task::multiclass, dx.data(), rows, width, width, dy.data(), dg.data(), dl.data());
    loss[static_cast<std::size_t>(i)] = download(backend, dl)[0];
    (i == 0 ? grad_cpu : grad_gpu) = download(backend, dg);
    metrics[i] = backend.evaluate(Task::multiclass, dx.data(), rows, width, width, dy.data());
  }
  CHECK(std::isfinite(loss[1]));
  CHECK(std::fabs(static_cast<double>(loss[1]) - loss[0]) <= 1e-5 * std::fabs(static_cast<double>(loss[0])));
  CHECK(relative_error(grad_gpu, grad_cpu) <= 1e-5);
  for (std::size_t e = 0; e < 4 * static_cast<std::size_t>(width); ++e) CHECK(grad_gpu[e] >= 0.0f);  // no -1
  CHECK(metrics[1].accuracy == metrics[0].accuracy);
  CHECK(std::fabs(metrics[1].loss - metrics[0].loss) <= 1e-9 * std::fabs(metrics[0].loss));
}
