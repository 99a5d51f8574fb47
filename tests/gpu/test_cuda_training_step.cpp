// One whole training step (forward, loss, backward, Adam) and a short training run on the CUDA backend against
// the CPU reference, from the same initial weights on the same batch.
#include <cmath>

#include "fasttab/dataset.hpp"
#include "fasttab/model.hpp"
#include "fasttab/optimizer.hpp"
#include "fasttab/synthetic.hpp"
#include "fasttab/trainer.hpp"
#include "gpu_test_support.hpp"

using namespace fasttab;

TEST_CASE("cuda training step (forward, BCE, backward, Adam) matches the CPU on fresh random inputs") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto backends = gpu_test::make_backends();
  MlpSpec spec;  // the seed's 21-300-300-300-300-1, tanh, dropout 0.5
  const int rows = 2048, ld = 24;
  std::vector<float> x = gpu_test::random_floats(std::size_t(rows) * ld, 1234, -2.0f, 2.0f);
  std::vector<float> y(rows);
  for (int r = 0; r < rows; ++r) y[r] = (x[std::size_t(r) * ld] + x[std::size_t(r) * ld + 3] > 0) ? 1.0f : 0.0f;
  const gpu_test::StepOutputs cpu = gpu_test::one_step(*backends.cpu, spec, x, y, rows, ld);
  const gpu_test::StepOutputs gpu = gpu_test::one_step(*backends.gpu, spec, x, y, rows, ld);
  // Bounds: float32 GEMMs summed in different orders (K up to 2048) and tanhf vs std::tanh.
  CHECK(gpu_test::relative_error(gpu.outputs, cpu.outputs) < 1e-4);
  CHECK(std::fabs(gpu.loss - cpu.loss) < 1e-5 * std::fabs(cpu.loss) + 1e-6);
  CHECK(gpu_test::relative_error(gpu.gradients, cpu.gradients) < 1e-3);
  CHECK(gpu_test::relative_error(gpu.parameters, cpu.parameters) < 1e-5);
}

TEST_CASE("cuda training run: two epochs with every loader track the CPU run and are deterministic") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto backends = gpu_test::make_backends();
  auto make_data = [] {
    SyntheticSpec s;
    s.rows = 40'000;
    s.seed = 4;
    SyntheticData d = make_synthetic(s);
    return split_train_test(std::move(d.table), 8'000, "synthetic");
  };
  TrainConfig c;
  c.model.hidden = {128, 128};
  c.batch_size = 1024;
  c.epochs = 2;
  c.eval_every = 10;
  c.shuffle = true;
  Dataset d_cpu = make_data();
  const TrainResult cpu = train(*backends.cpu, c, d_cpu);
  std::vector<TrainResult> gpu_runs;
  for (const char* loader : {"gather", "gather", "slice", "per-sample-device", "per-sample"}) {
    c.loader = loader;
    Dataset d = make_data();
    gpu_runs.push_back(train(*backends.gpu, c, d));
    INFO("loader " << loader);
    const TrainResult& g = gpu_runs.back();
    REQUIRE(g.evals.size() == cpu.evals.size());
    CHECK(std::fabs(g.final_test.loss - cpu.final_test.loss) < 2e-3 * cpu.final_test.loss);
    CHECK(std::fabs(g.final_test.auc - cpu.final_test.auc) < 2e-3);
  }
  // The GPU kernels are deterministic: every GPU run, whatever the loader, gives the same bits.
  for (std::size_t i = 1; i < gpu_runs.size(); ++i) {
    CHECK(gpu_runs[i].parameters == gpu_runs[0].parameters);
    for (std::size_t e = 0; e < gpu_runs[0].evals.size(); ++e)
      CHECK(gpu_runs[i].evals[e].train_loss == gpu_runs[0].evals[e].train_loss);
  }
}
