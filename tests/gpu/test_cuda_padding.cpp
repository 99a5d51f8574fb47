// Padded hidden widths on the GPU (--pad-hidden, Mlp's pad_multiple): the seed's model with its 300-wide layers run
// at 304 and 320, one training step in every precision against the CPU's padded step (the CPU side is tested in
// tests/cpu/model/test_padding.cpp), the padding exactly zero on the device after it, and a padded run
// bit-reproducible with and without CUDA Graphs.
#include <cmath>
#include <string>

#include "fasttab/names.hpp"
#include "fasttab/trainer.hpp"
#include "gpu_test_support.hpp"
#include "test_support.hpp"

using namespace fasttab;

TEST_CASE("cuda padded step (300 -> 304, 320) matches the CPU's padded step in every precision, padding stays zero") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto backends = gpu_test::make_backends();
  MlpSpec spec;  // the seed's 21-300-300-300-300-1, tanh, dropout 0.5
  const int rows = 2048, ld = 24;
  std::vector<float> x = gpu_test::random_floats(std::size_t(rows) * ld, 77, -2.0f, 2.0f);
  std::vector<float> y(rows);
  for (int r = 0; r < rows; ++r) y[r] = (x[std::size_t(r) * ld + 1] - x[std::size_t(r) * ld + 5] > 0) ? 1.0f : 0.0f;
  // The bounds of the unpadded steps' tests (test_cuda_training_step.cpp, test_bf16.cpp); tf32 the GEMM test's.
  const struct {
    Precision precision;
    double outputs, gradients, parameters;
  } cases[] = {{Precision::fp32, 1e-4, 1e-3, 1e-5}, {Precision::tf32, 5e-3, 1e-2, 1e-2},
               {Precision::bf16, 1e-2, 1e-2, 1e-2}};
  for (const auto& k : cases) {
    for (int multiple : {8, 64}) {
      CAPTURE(std::string(name_of(k.precision)));
      CAPTURE(multiple);
      const gpu_test::StepOutputs cpu = gpu_test::one_step(*backends.cpu, spec, x, y, rows, ld, k.precision, multiple);
      const gpu_test::StepOutputs gpu = gpu_test::one_step(*backends.gpu, spec, x, y, rows, ld, k.precision, multiple);
      const gpu_test::StepOutputs plain = gpu_test::one_step(*backends.gpu, spec, x, y, rows, ld, k.precision);
      MESSAGE(std::string(name_of(k.precision)) << " pad " << multiple << ": GPU vs CPU outputs "
              << gpu_test::relative_error(gpu.outputs, cpu.outputs) << ", gradients "
              << gpu_test::relative_error(gpu.gradients, cpu.gradients) << "; padded vs unpadded GPU outputs "
              << gpu_test::relative_error(gpu.outputs, plain.outputs));
      CHECK(gpu.padding_zero);
      CHECK(cpu.padding_zero);
      CHECK(gpu_test::relative_error(gpu.outputs, cpu.outputs) < k.outputs);
      CHECK(gpu_test::relative_error(gpu.gradients, cpu.gradients) < k.gradients);
      CHECK(gpu_test::relative_error(gpu.parameters, cpu.parameters) < k.parameters);
      // The same step unpadded, on the same device: only the GEMMs' summation order differs.
      CHECK(gpu_test::relative_error(gpu.outputs, plain.outputs) < k.outputs);
      CHECK(gpu_test::relative_error(gpu.gradients, plain.gradients) < k.gradients);
    }
  }
}

TEST_CASE("cuda padded training run: the same losses every time, op by op or as a CUDA Graph, in every precision") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto gpu = gpu_test::make_gpu();
  auto run = [&](Precision precision, int multiple, bool graphs) {
    Dataset d = test::synthetic_split(12'000, 2'000, 5);
    TrainConfig c;
    c.model.hidden = {60, 45};
    c.batch_size = 512;
    c.epochs = 2;
    c.shuffle = true;
    c.eval_every = 0;
    c.precision = precision;
    c.pad_hidden = multiple;
    c.cuda_graphs = graphs;
    return train(*gpu, c, d);
  };
  for (Precision precision : {Precision::fp32, Precision::tf32, Precision::bf16}) {
    CAPTURE(std::string(name_of(precision)));
    const TrainResult a = run(precision, 64, false), b = run(precision, 64, false), g = run(precision, 64, true);
    const TrainResult plain = run(precision, 1, false);
    REQUIRE(a.epochs.size() == 2);
    for (std::size_t i = 0; i < a.epochs.size(); ++i) {
      CAPTURE(i);
      CHECK(a.epochs[i].train_loss == b.epochs[i].train_loss);
      CHECK(a.epochs[i].train_loss == g.epochs[i].train_loss);
      CHECK(a.epochs[i].test.loss == g.epochs[i].test.loss);
      CHECK(std::fabs(a.epochs[i].train_loss - plain.epochs[i].train_loss) < 1e-2 * plain.epochs[i].train_loss);
    }
    CHECK(a.parameters == b.parameters);
    CHECK(a.parameters == g.parameters);
    CHECK(a.parameters.size() == plain.parameters.size());
  }
}
