// Precision::bf16 on the CUDA backend (bfloat16 storage, cublasGemmEx on tensor cores) against the CPU's (the same
// bfloat16 values, widened for OpenBLAS): the conversion kernel bit for bit, a whole bf16 training step within the
// issue's bf16 bound, and a bf16 run that is deterministic on the device.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

#include "fasttab/dataset.hpp"
#include "fasttab/model.hpp"
#include "fasttab/optimizer.hpp"
#include "fasttab/synthetic.hpp"
#include "fasttab/trainer.hpp"
#include "gpu_test_support.hpp"

using namespace fasttab;

namespace {

std::vector<bfloat16> converted_on(Backend& backend, const std::vector<float>& values) {
  BackendBuffer<float> buffer(backend, values.size(), "values");
  backend.copy_to_backend(buffer.data(), values.data(), buffer.bytes());
  BackendBuffer<bfloat16> converted(backend, values.size(), "bfloat16 values");
  backend.convert_to_bf16(buffer.data(), 1, int(values.size()), int(values.size()), converted.data(),
                          int(values.size()));
  std::vector<bfloat16> out(values.size());
  backend.copy_to_host(out.data(), converted.data(), converted.bytes());
  return out;
}

}  // namespace

TEST_CASE("cuda convert_to_bf16 equals the CPU's bit for bit (NaN, Inf, subnormals, ties, random bit patterns)") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto backends = gpu_test::make_backends();
  std::vector<std::uint32_t> patterns = {0x00000000u, 0x80000000u, 0x3f800000u, 0x3f808000u, 0x3f818000u, 0x3f808001u,
                                         0x3f807fffu, 0xbf818000u, 0x00000001u, 0x00008000u, 0x00018000u, 0x007fffffu,
                                         0x7f7f0000u, 0x7f7f7fffu, 0x7f7f8000u, 0x7f7fffffu, 0xff7fffffu, 0x7f800000u,
                                         0xff800000u, 0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu};
  std::mt19937 rng(3);
  for (int i = 0; i < (1 << 20) + 13; ++i) patterns.push_back(rng());  // more than one grid-stride pass, odd tail
  std::vector<float> values(patterns.size());
  std::memcpy(values.data(), patterns.data(), values.size() * sizeof(float));
  const std::vector<bfloat16> cpu = converted_on(*backends.cpu, values), gpu = converted_on(*backends.gpu, values);
  REQUIRE(cpu.size() == gpu.size());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < cpu.size(); ++i) differing += cpu[i].bits != gpu[i].bits;
  CHECK(differing == 0);
}

TEST_CASE("cuda bf16 training step (forward, BCE, backward, Adam) matches the CPU's bf16 step") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto backends = gpu_test::make_backends();
  MlpSpec spec;  // the seed's 21-300-300-300-300-1, tanh, dropout 0.5
  const int rows = 2048, ld = 24;
  std::vector<float> x = gpu_test::random_floats(std::size_t(rows) * ld, 1234, -2.0f, 2.0f);
  std::vector<float> y(rows);
  for (int r = 0; r < rows; ++r) y[r] = (x[std::size_t(r) * ld] + x[std::size_t(r) * ld + 3] > 0) ? 1.0f : 0.0f;
  const gpu_test::StepOutputs cpu = gpu_test::one_step(*backends.cpu, spec, x, y, rows, ld, Precision::bf16);
  const gpu_test::StepOutputs gpu = gpu_test::one_step(*backends.gpu, spec, x, y, rows, ld, Precision::bf16);
  // Both backends store the same bfloat16 roundings, but a value computed in a different order (cuBLAS's tensor-core
  // sums vs OpenBLAS's, tanhf vs std::tanh) may land on the other side of a rounding boundary and move by a bfloat16
  // ulp (2^-8 relative). Bounds: the bf16 tolerance, 1e-2, for outputs and gradients; the loss 1e-3 relative.
  // The parameters after one Adam step: the first step moves each weight by lr * g / (|g| + eps), about +-lr (1e-3)
  // whatever |g|, so a gradient smaller than the two backends' difference may move its weight the other way, by
  // 2e-3, against weights of rms about 0.033. Bound 1e-2 (the worst case, every sign flipped, is 6e-2); not yet
  // measured on a GPU: tighten it when it is.
  CHECK(gpu_test::relative_error(gpu.outputs, cpu.outputs) < 1e-2);
  CHECK(std::fabs(gpu.loss - cpu.loss) < 1e-3 * std::fabs(cpu.loss) + 1e-6);
  CHECK(gpu_test::relative_error(gpu.gradients, cpu.gradients) < 1e-2);
  CHECK(gpu_test::relative_error(gpu.parameters, cpu.parameters) < 1e-2);
}

TEST_CASE("cuda bf16 training run: the same seed gives identical losses on the device, and tracks the CPU run") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto backends = gpu_test::make_backends();
  auto make_data = [] {
    SyntheticSpec s;
    s.rows = 40'000;
    s.seed = 4;
    return split_train_test(make_synthetic(s).table, 8'000, "synthetic");
  };
  TrainConfig c;
  c.model.hidden = {128, 128};
  c.batch_size = 512;
  c.epochs = 2;
  c.eval_every = 0;
  c.shuffle = true;
  c.precision = Precision::bf16;
  Dataset d1 = make_data(), d2 = make_data(), d3 = make_data();
  const TrainResult a = train(*backends.gpu, c, d1), b = train(*backends.gpu, c, d2), cpu = train(*backends.cpu, c, d3);
  REQUIRE(a.epochs.size() == b.epochs.size());
  for (std::size_t i = 0; i < a.epochs.size(); ++i) {
    CHECK(a.epochs[i].train_loss == b.epochs[i].train_loss);
    CHECK(a.epochs[i].test.loss == b.epochs[i].test.loss);
  }
  CHECK(a.parameters == b.parameters);
  // Two epochs of small differences compound: the test AUC within 0.005 of the CPU's bf16 run.
  CHECK(std::fabs(a.final_test.auc - cpu.final_test.auc) < 0.005);
}
