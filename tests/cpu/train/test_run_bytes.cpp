// run_bytes_needed: the memory a run is checked against before anything is allocated (host/train/run_config.cpp).
// The scratch the GEMMs take beyond the model: bf16's float32 widening of two operands on the CPU, and the scratch C
// --gemm cublaslt-timed times its candidates into; each a batch of the widest layer (its bfloat16 leading dimension).
#include <doctest/doctest.h>

#include "host/train/training_run.hpp"

using namespace fasttab;

TEST_CASE("run_bytes_needed counts the GEMMs' scratch: bf16's widened operands and the timed plans' output") {
  TrainConfig c;  // the seed's model: 21-300x4-1, batches of 16384
  c.model.hidden = {300, 300, 300, 300};
  c.model.inputs = 21;
  c.model.outputs = 1;
  const double operand = 16384.0 * 304 * sizeof(float);  // 300 -> bf16 leading dimension 304
  auto bytes = [&](Precision precision, GemmLibrary gemm) {
    TrainConfig d = c;
    d.precision = precision;
    d.gemm = gemm;
    return run_bytes_needed(d, 28, 10'500'000, 500'000);
  };
  const double fp32 = bytes(Precision::fp32, GemmLibrary::cublas);
  CHECK(bytes(Precision::fp32, GemmLibrary::cublaslt) == fp32);
  CHECK(bytes(Precision::fp32, GemmLibrary::cublaslt_timed) == fp32 + operand);
  // bf16 stores its activations in half the bytes but adds the weight copies and two widened operands.
  const double bf16 = bytes(Precision::bf16, GemmLibrary::cublas);
  CHECK(bytes(Precision::bf16, GemmLibrary::cublaslt_timed) == bf16 + operand);
  TrainConfig d = c;
  d.precision = Precision::bf16;
  const double model_only = Mlp::bytes_needed(d.model, d.batch_size, Precision::bf16, 1) -
                            Mlp::bytes_needed(c.model, c.batch_size, Precision::fp32, 1);
  CHECK(bf16 - fp32 == doctest::Approx(model_only + 2 * operand));
}
