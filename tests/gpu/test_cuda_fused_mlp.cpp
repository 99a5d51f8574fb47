// The fused bf16 MLP passes on the GPU (--fused-mlp: cuda/ops/fused_mlp.cu, the WMMA kernels) against the CPU
// backend's fused passes (the same block code with scalar tiles, tested against the per-layer passes in
// tests/cpu/model/test_fused_mlp.cpp) and against the GPU's own per-layer bf16 step; whole runs bit-reproducible,
// with and without CUDA Graphs, and resumed.
#include <cmath>
#include <string>

#include "fasttab/checkpoint.hpp"
#include "fasttab/trainer.hpp"
#include "gpu_test_support.hpp"
#include "test_support.hpp"

using namespace fasttab;

namespace {

// Rows of uniform features in [-2, 2] (a categorical column's codes cycling through its categories), a label from
// two of them.
struct Rows {
  int rows, ld = 24;
  std::vector<float> x, y;
  Rows(int n, const MlpSpec& spec) : rows(n) {
    x = gpu_test::random_floats(std::size_t(rows) * ld, 77, -2.0f, 2.0f);
    for (const EmbeddingSpec& e : spec.embeddings)
      for (int r = 0; r < rows; ++r) x[std::size_t(r) * ld + e.column] = float((r * 3) % e.cardinality);
    for (int r = 0; r < rows; ++r)
      y.push_back(x[std::size_t(r) * ld + 1] - x[std::size_t(r) * ld + 5] > 0 ? 1.0f : 0.0f);
  }
};

}  // namespace

TEST_CASE("cuda fused MLP step matches the CPU's fused step and the GPU's per-layer bf16 step") {
  // One step (forward with dropout, BCE, backward, Adam). Bounds: bf16's (test_bf16.cpp): the sums' orders differ
  // (WMMA's 16-wide k steps, the CPU's scalar ones, cuBLAS's tiles) and move a bfloat16 value by a step here and
  // there. The seed's model over 32 blocks; odd widths with relu over a partial last block; two categorical columns
  // (the input gradient scattered into the embedding tables).
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto backends = gpu_test::make_backends();
  MlpSpec seed;  // 21-300-300-300-300-1, tanh, dropout 0.5
  MlpSpec odd;
  odd.inputs = 7;
  odd.hidden = {45, 300, 17};
  odd.activation = Activation::relu;
  odd.dropout = 0.3f;
  MlpSpec categorical;
  categorical.inputs = 12;
  categorical.hidden = {64, 40};
  categorical.embeddings = {EmbeddingSpec{2, 7, 4}, EmbeddingSpec{9, 5, 3}};
  const struct {
    const char* name;
    MlpSpec spec;
    int rows;
  } cases[] = {{"the seed's model", seed, 2048}, {"odd widths, relu, a partial block", odd, 1000},
               {"two categorical columns", categorical, 700}};
  for (const auto& k : cases) {
    const std::string name = k.name;
    CAPTURE(name);
    const Rows in(k.rows, k.spec);
    const auto step = [&](Backend& backend, bool fused) {
      return gpu_test::one_step(backend, k.spec, in.x, in.y, in.rows, in.ld, Precision::bf16, 1, fused);
    };
    const gpu_test::StepOutputs cpu = step(*backends.cpu, true), gpu = step(*backends.gpu, true),
                                plain = step(*backends.gpu, false), again = step(*backends.gpu, true);
    MESSAGE(name << ": GPU fused vs CPU fused outputs " << gpu_test::relative_error(gpu.outputs, cpu.outputs)
            << ", gradients " << gpu_test::relative_error(gpu.gradients, cpu.gradients)
            << "; vs the GPU's per-layer step: outputs " << gpu_test::relative_error(gpu.outputs, plain.outputs)
            << ", gradients " << gpu_test::relative_error(gpu.gradients, plain.gradients));
    CHECK(gpu_test::relative_error(gpu.outputs, cpu.outputs) < 1e-2);
    CHECK(gpu_test::relative_error(gpu.gradients, cpu.gradients) < 1e-2);
    CHECK(gpu_test::relative_error(gpu.parameters, cpu.parameters) < 1e-2);
    CHECK(gpu_test::relative_error(gpu.outputs, plain.outputs) < 1e-2);
    CHECK(gpu_test::relative_error(gpu.gradients, plain.gradients) < 1e-2);
    // No atomics anywhere: the same bits every time.
    CHECK(gpu.outputs == again.outputs);
    CHECK(gpu.gradients == again.gradients);
  }
}

TEST_CASE("cuda fused training run: the same losses every time, op by op or as a CUDA Graph, and resumed") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto gpu = gpu_test::make_gpu();
  const std::string checkpoint = (test::temp_dir("cuda_fused") / "fused_1.ckpt").string();
  auto config = [&](bool graphs) {
    TrainConfig c;
    c.model.hidden = {60, 45};
    c.model.dropout = 0.2f;
    c.batch_size = 512;
    c.epochs = 2;
    c.shuffle = true;
    c.eval_every = 0;
    c.precision = Precision::bf16;
    c.fused_mlp = true;
    c.cuda_graphs = graphs;
    return c;
  };
  auto run = [&](const TrainConfig& c) {
    Dataset d = test::synthetic_split(12'000, 2'000, 5);
    return train(*gpu, c, d);
  };
  const TrainResult a = run(config(false)), b = run(config(false)), g = run(config(true));
  TrainConfig plain = config(false);
  plain.fused_mlp = false;
  const TrainResult per_layer = run(plain);
  TrainConfig first = config(false);
  first.epochs = 1;
  first.save_path = checkpoint;
  run(first);
  TrainConfig second = config(false);
  second.resume_path = checkpoint;
  const TrainResult resumed = run(second);
  REQUIRE(a.epochs.size() == 2);
  REQUIRE(resumed.epochs.size() == 2);
  for (std::size_t i = 0; i < a.epochs.size(); ++i) {
    CAPTURE(i);
    CHECK(a.epochs[i].train_loss == b.epochs[i].train_loss);
    CHECK(a.epochs[i].train_loss == g.epochs[i].train_loss);
    CHECK(a.epochs[i].test.loss == g.epochs[i].test.loss);
    CHECK(a.epochs[i].train_loss == resumed.epochs[i].train_loss);
    CHECK(std::fabs(a.epochs[i].train_loss - per_layer.epochs[i].train_loss) < 1e-2 * per_layer.epochs[i].train_loss);
  }
  CHECK(a.parameters == b.parameters);
  CHECK(a.parameters == g.parameters);
  CHECK(a.parameters == resumed.parameters);
  CHECK(std::fabs(a.final_test.auc - per_layer.final_test.auc) < 0.003);
}
