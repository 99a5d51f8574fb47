// The fused-forward experiment (experiments/fused_mlp) run by its host emulation, which executes the CUDA kernel's
// block code (fused_forward_block.cuh) for every block, warp and lane with scalar 16x16 tiles, against the engine's
// bf16 forward pass on the CPU backend (Mlp::forward_rows). The two differ only in the order of each float32 sum,
// which can move an activation by one bfloat16 step (2^-8 relative): bound 2e-3 on the outputs' relative L2
// difference. A wrong index, a padding not held at zero, a missed bias or row would differ by O(1).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "experiments/fused_mlp/fused_forward_host.hpp"
#include "fasttab/backend.hpp"
#include "fasttab/error.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/model.hpp"
#include "host/backend/reference_math.hpp"
#include "test_support.hpp"

using namespace fasttab;

namespace {

struct Compared {
  double relative = 0;
  std::vector<float> fused, engine;
};

Compared compare(const MlpSpec& spec, int rows, std::uint64_t seed) {
  std::vector<float> parameters = initial_parameters(spec, seed);
  std::mt19937_64 random(seed + 1);
  std::uniform_real_distribution<float> uniform(-0.2f, 0.2f);
  for (int l = 0; l < spec.layers(); ++l)  // biases drawn, so that their path shows
    for (int o = 0; o < spec.out_width(l); ++o) parameters[spec.bias_offset(l) + std::size_t(o)] = uniform(random);
  const int ld_x = spec.input_width() + 3;  // a leading dimension wider than the row
  std::vector<float> x(std::size_t(rows) * ld_x, 1e30f);  // the padding is never read
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < spec.input_width(); ++c) x[std::size_t(r) * ld_x + c] = normal(random);

  auto cpu = make_cpu_backend();
  Mlp mlp(*cpu, spec, 64, Precision::bf16);
  mlp.set_parameters(parameters);
  BackendBuffer<float> bx(*cpu, x.size(), "x"), bout(*cpu, std::size_t(rows) * spec.outputs, "out");
  cpu->copy_to_backend(bx.data(), x.data(), bx.bytes());
  mlp.forward_rows(bx.data(), ld_x, rows, bout.data());
  Compared c;
  c.engine.resize(std::size_t(rows) * spec.outputs);
  cpu->copy_to_host(c.engine.data(), bout.data(), bout.bytes());

  const experiments::FusedHostModel model(spec, parameters);
  c.fused.assign(c.engine.size(), std::nanf(""));
  experiments::fused_mlp_forward_emulated(model.mlp, x.data(), ld_x, rows, c.fused.data());
  c.relative = test::relative_error(c.fused, c.engine);
  return c;
}

}  // namespace

TEST_CASE("fused forward (host emulation of the kernel's block code) equals the engine's bf16 forward pass") {
  struct Case {
    const char* name;
    int inputs;
    std::vector<int> hidden;
    int outputs;
    Activation activation;
    int rows;
  };
  const Case cases[] = {
      {"the seed's model, a partial last block", 21, {300, 300, 300, 300}, 1, Activation::tanh, 130},
      {"odd widths, relu", 7, {45, 300, 17}, 1, Activation::relu, 64},
      {"three outputs, widths at the tile edges", 16, {16, 320, 33}, 3, Activation::tanh, 97},
      {"one hidden layer, one row", 2, {5}, 1, Activation::tanh, 1}};
  for (const Case& k : cases) {
    const std::string name = k.name;
    CAPTURE(name);
    MlpSpec spec;
    spec.inputs = k.inputs;
    spec.hidden = k.hidden;
    spec.outputs = k.outputs;
    spec.activation = k.activation;
    spec.dropout = 0.0f;
    const Compared c = compare(spec, k.rows, 7);
    std::size_t nan = 0;
    for (float v : c.fused) nan += std::isnan(v) ? 1 : 0;
    CHECK(nan == 0);  // every output written
    MESSAGE(name << ": relative L2 difference " << c.relative);
    CHECK(c.relative <= 2e-3);
  }
}

TEST_CASE("fused forward refuses what the kernel cannot run, naming it") {
  MlpSpec spec;
  spec.inputs = 4;
  spec.hidden = {336};  // over the 320 the shared buffers hold
  CHECK_THROWS_WITH_AS(experiments::FusedHostModel model(spec, initial_parameters(spec, 1));
                       experiments::check_fused_mlp(model.mlp, 4),
                       doctest::Contains("widths must be multiples of 16 up to 320"), Error);
  spec.hidden = {32};
  const experiments::FusedHostModel model(spec, initial_parameters(spec, 1));
  CHECK_THROWS_WITH_AS(experiments::check_fused_mlp(model.mlp, 3), doctest::Contains("ld_x 3 < inputs 4"), Error);
}

TEST_CASE("fused training forward (host emulation): the engine's dropout masks, activations and logits") {
  // The engine's bf16 training pass on the CPU backend (Mlp::forward with dropout) against the emulated kernel's
  // training pass: the same Philox decisions (the same zeros, exactly: tanh is 0 only at 0), the kept activations
  // within one bfloat16 step (2^-7 relative, plus 1e-3 near 0), the logits within 2e-3, and the input's bfloat16
  // copy exactly.
  MlpSpec spec;
  spec.inputs = 13;
  spec.hidden = {300, 40};
  spec.outputs = 2;
  spec.activation = Activation::tanh;
  spec.dropout = 0.5f;  // after the first hidden layer (Mlp: dropout_after)
  const int rows = 150;
  std::vector<float> parameters = initial_parameters(spec, 9);
  std::mt19937_64 random(10);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int ld_x = padded_width(spec.inputs);
  std::vector<float> x(std::size_t(rows) * ld_x, 0.0f);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < spec.inputs; ++c) x[std::size_t(r) * ld_x + c] = normal(random);
  DropoutKey key;
  key.seed = 11;
  key.step = 4;
  key.first_row = 32;  // a rank's slice starts past row 0: the draws' index includes it

  auto cpu = make_cpu_backend();
  Mlp mlp(*cpu, spec, rows, Precision::bf16);
  mlp.set_parameters(parameters);
  BackendBuffer<float> bx(*cpu, x.size(), "x");
  cpu->copy_to_backend(bx.data(), x.data(), bx.bytes());
  const float* engine_logits = mlp.forward(bx.data(), ld_x, rows, true, key);
  std::vector<float> want(std::size_t(rows) * spec.outputs);
  cpu->copy_to_host(want.data(), engine_logits, want.size() * sizeof(float));

  const experiments::FusedHostModel model(spec, parameters);
  experiments::FusedTraining training;
  training.key = key;
  std::vector<__nv_bfloat16> input16(std::size_t(rows) * 16, __float2bfloat16_rn(0.0f));
  training.input16 = input16.data();
  training.ld_input16 = 16;
  std::vector<std::vector<__nv_bfloat16>> activations;
  for (int l = 0; l + 1 < spec.layers(); ++l) {
    training.dropout[l] = spec.dropout_after(l);
    activations.emplace_back(std::size_t(rows) * mlp.activation_ld(l), __float2bfloat16_rn(0.0f));
    training.activations[l] = activations.back().data();
    training.ld_activations[l] = mlp.activation_ld(l);
  }
  std::vector<float> got(want.size(), std::nanf(""));
  experiments::fused_mlp_forward_emulated(model.mlp, x.data(), ld_x, rows, got.data(), training);
  CHECK(test::relative_error(got, want) <= 2e-3);

  for (int l = 0; l + 1 < spec.layers(); ++l) {
    CAPTURE(l);
    const int ld = mlp.activation_ld(l), units = spec.out_width(l);
    std::vector<bfloat16> engine(std::size_t(rows) * ld);
    cpu->copy_to_host(engine.data(), mlp.bf16_activations(l), engine.size() * sizeof(bfloat16));
    // A kept activation: within one bfloat16 step of the engine's (2^-7 relative), plus 1e-3 for a z near 0, where
    // the two sums' orders (up to 300 terms, about 6e-4 apart at worst here) are a large part of a small value.
    std::size_t zeros = 0, pattern_mismatches = 0, far = 0;
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < units; ++c) {
        const float e = reference::bf16_value(engine[std::size_t(r) * ld + c]);
        const float f = __bfloat162float(activations[std::size_t(l)][std::size_t(r) * ld + c]);
        zeros += e == 0.0f;
        pattern_mismatches += (e == 0.0f) != (f == 0.0f);
        far += e != 0.0f && std::fabs(double(f) - e) > std::fabs(double(e)) / 128 + 1e-3;
      }
    CHECK(pattern_mismatches == 0);
    CHECK(far == 0);
    if (l == 0) CHECK(zeros > std::size_t(rows) * units / 3);  // p = 0.5: the masks are really compared
    else CHECK(zeros == 0);                                    // no dropout after the second layer
  }
  std::size_t input_mismatches = 0;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < spec.inputs; ++c) {
      std::uint16_t bits = 0;
      std::memcpy(&bits, &input16[std::size_t(r) * 16 + c], sizeof bits);
      input_mismatches += reference::bf16_bits(x[std::size_t(r) * ld_x + c]).bits != bits;
    }
  CHECK(input_mismatches == 0);

  // The step from a counter (a captured step's) draws as the same step given by value; another step does not.
  std::uint32_t counter = 4;
  experiments::FusedTraining counted = training;
  counted.key.step_counter = &counter;
  std::vector<float> from_counter(want.size());
  experiments::fused_mlp_forward_emulated(model.mlp, x.data(), ld_x, rows, from_counter.data(), counted);
  CHECK(from_counter == got);
  counter = 5;
  experiments::fused_mlp_forward_emulated(model.mlp, x.data(), ld_x, rows, from_counter.data(), counted);
  CHECK(from_counter != got);
}
