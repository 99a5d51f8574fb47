// The fused backward experiment (experiments/fused_mlp/fused_backward.cuh) run by its host emulation, which executes
// the CUDA kernel's block code (fused_backward_block.cuh) for every block, warp and lane with scalar 16x16 tiles,
// after the emulated fused training forward pass, then fused_backward_finish on the CPU backend (the weight
// gradients as bf16 GEMMs, the bias gradients from the per-block sums): the whole fused training step's parameter
// gradients against the engine's bf16 step on the CPU backend (Mlp::forward with dropout, Mlp::backward).
//
// The two differ in the order of float32 sums (the forward's and the backward's products, the bias sums), which can
// move a bfloat16 activation or gradient by one step (2^-8 relative) here and there, and the bias gradients by
// float32 rounding: bound 1e-3 on each layer's relative L2 difference of dW and of db. Measured on this machine
// (2026-11-30): dW identical (every bfloat16 activation and gradient the same), db within 4e-7; on another CPU
// OpenBLAS's order can move a bfloat16 value by a step, about 1e-5 each. A missed dropout decision differs by 1.3
// (the second test); a wrong index or derivative by O(0.1) or more.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "experiments/fused_mlp/fused_backward_host.hpp"
#include "experiments/fused_mlp/fused_forward_host.hpp"
#include "fasttab/backend.hpp"
#include "fasttab/error.hpp"
#include "fasttab/model.hpp"
#include "test_support.hpp"

using namespace fasttab;

namespace {

// The fused pass's host buffers: the training forward's (input16, hidden activations) and the backward's (g16 per
// layer, per-block bias sums), in the engine's leading dimensions (Mlp::bf16_ld).
struct FusedBuffers {
  std::vector<__nv_bfloat16> input16;
  std::vector<std::vector<__nv_bfloat16>> activations, grad16;
  std::vector<std::vector<float>> bias_partials;
  experiments::FusedTraining forward;
  experiments::FusedGradients gradients;
  FusedBuffers(const MlpSpec& spec, int rows, DropoutKey key) {
    const __nv_bfloat16 zero = __float2bfloat16_rn(0.0f);
    forward.key = key;
    forward.ld_input16 = Mlp::bf16_ld(spec.input_width());
    input16.assign(std::size_t(rows) * forward.ld_input16, zero);
    forward.input16 = input16.data();
    for (int l = 0; l < spec.layers(); ++l) {
      const int units = spec.out_width(l), ld = Mlp::bf16_ld(units);
      if (l + 1 < spec.layers()) {
        forward.dropout[l] = spec.dropout_after(l);
        forward.ld_activations[l] = ld;
        activations.emplace_back(std::size_t(rows) * ld, zero);
      }
      grad16.emplace_back(std::size_t(rows) * ld, zero);
      bias_partials.emplace_back(std::size_t(experiments::fused_blocks(rows)) * units, std::nanf(""));
      gradients.ld_grad16[l] = ld;
    }
    for (std::size_t l = 0; l < activations.size(); ++l) forward.activations[l] = activations[l].data();
    for (std::size_t l = 0; l < grad16.size(); ++l) {
      gradients.grad16[l] = grad16[l].data();
      gradients.bias_partials[l] = bias_partials[l].data();
    }
  }
};

struct Step {
  std::vector<float> engine, fused;  // dL/dparameters, spec's flat layout
};

Step both_steps(const MlpSpec& spec, int rows, DropoutKey key, std::uint64_t seed, bool drop_scale_mutation = false) {
  std::vector<float> parameters = initial_parameters(spec, seed);
  std::mt19937_64 random(seed + 1);
  std::uniform_real_distribution<float> uniform(-0.2f, 0.2f);
  for (int l = 0; l < spec.layers(); ++l)
    for (int o = 0; o < spec.out_width(l); ++o) parameters[spec.bias_offset(l) + std::size_t(o)] = uniform(random);
  const int ld_x = padded_width(spec.input_width());
  std::vector<float> x(std::size_t(rows) * ld_x, 0.0f);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < spec.input_width(); ++c) x[std::size_t(r) * ld_x + c] = normal(random);
  // A loss gradient of the usual size (a mean over the rows) with both signs.
  std::vector<float> grad_outputs(std::size_t(rows) * spec.outputs);
  for (float& g : grad_outputs) g = normal(random) / float(rows);

  Step s;
  auto cpu = make_cpu_backend();
  Mlp mlp(*cpu, spec, rows, Precision::bf16);
  mlp.set_parameters(parameters);
  BackendBuffer<float> bx(*cpu, x.size(), "x"), bgrad(*cpu, grad_outputs.size(), "grad");
  cpu->copy_to_backend(bx.data(), x.data(), bx.bytes());
  cpu->copy_to_backend(bgrad.data(), grad_outputs.data(), bgrad.bytes());
  mlp.forward(bx.data(), ld_x, rows, true, key);
  mlp.backward(bx.data(), ld_x, rows, bgrad.data(), key);
  s.engine = mlp.download(mlp.gradients());

  const experiments::FusedHostModel model(spec, parameters);
  FusedBuffers buffers(spec, rows, key);
  std::vector<float> logits(std::size_t(rows) * spec.outputs);
  experiments::fused_mlp_forward_emulated(model.mlp, x.data(), ld_x, rows, logits.data(), buffers.forward);
  experiments::FusedTraining backward_view = buffers.forward;
  if (drop_scale_mutation) backward_view.dropout[0] = 0.0f;  // as if the backward missed the dropout after layer 0
  experiments::fused_mlp_backward_emulated(model.mlp, backward_view, grad_outputs.data(), rows, buffers.gradients);
  s.fused.assign(spec.parameter_count(), std::nanf(""));
  experiments::fused_backward_finish(*cpu, spec, buffers.forward, buffers.gradients, rows, s.fused.data());
  return s;
}

// The largest over layers of the relative L2 difference of dW_l and of db_l.
double worst_layer_difference(const MlpSpec& spec, const Step& s) {
  double worst = 0;
  for (int l = 0; l < spec.layers(); ++l) {
    const std::size_t w = spec.weight_offset(l), b = spec.bias_offset(l), end = b + std::size_t(spec.out_width(l));
    const std::vector<float> ew(s.engine.begin() + w, s.engine.begin() + b), fw(s.fused.begin() + w, s.fused.begin() + b);
    const std::vector<float> eb(s.engine.begin() + b, s.engine.begin() + end), fb(s.fused.begin() + b, s.fused.begin() + end);
    const double dw = test::relative_error(fw, ew), db = test::relative_error(fb, eb);
    MESSAGE("layer " << l << ": dW " << dw << ", db " << db);
    worst = std::max({worst, dw, db, std::isnan(dw) || std::isnan(db) ? INFINITY : 0.0});
  }
  return worst;
}

}  // namespace

TEST_CASE("fused training step (host emulation of both kernels' block code) gives the engine's bf16 gradients") {
  struct Case {
    const char* name;
    int inputs;
    std::vector<int> hidden;
    int outputs;
    Activation activation;
    float dropout;
    int rows;
    std::uint64_t first_row;
  };
  const Case cases[] = {
      {"the seed's model, dropout 0.5, two blocks and a partial one", 21, {300, 300, 300}, 1, Activation::tanh, 0.5f,
       150, 0},
      {"odd widths, relu, dropout 0.3, a rank's slice", 7, {45, 300, 17}, 1, Activation::relu, 0.3f, 97, 64},
      {"three outputs, widths at the tile edges, no dropout", 16, {16, 320, 33}, 3, Activation::tanh, 0.0f, 64, 0},
      {"one hidden layer, one row", 2, {5}, 1, Activation::tanh, 0.0f, 1, 0}};
  for (const Case& k : cases) {
    const std::string name = k.name;
    CAPTURE(name);
    MlpSpec spec;
    spec.inputs = k.inputs;
    spec.hidden = k.hidden;
    spec.outputs = k.outputs;
    spec.activation = k.activation;
    spec.dropout = k.dropout;
    DropoutKey key;
    key.seed = 21;
    key.step = 6;
    key.first_row = k.first_row;
    const Step s = both_steps(spec, k.rows, key, 5);
    std::size_t nan = 0;
    for (float v : s.fused) nan += std::isnan(v) ? 1 : 0;
    CHECK(nan == 0);  // every gradient written
    CHECK(worst_layer_difference(spec, s) <= 1e-3);
  }
}

TEST_CASE("fused backward: a missed dropout decision is far outside the bound, and the step counter draws as its step") {
  MlpSpec spec;
  spec.inputs = 9;
  spec.hidden = {64, 32};
  spec.activation = Activation::tanh;
  spec.dropout = 0.5f;
  DropoutKey key;
  key.seed = 3;
  key.step = 2;
  CHECK(worst_layer_difference(spec, both_steps(spec, 80, key, 8, true)) > 0.1);

  // The kernel reads the step from the key's counter when set (a captured step): counter 2 is step 2.
  const experiments::FusedHostModel model(spec, initial_parameters(spec, 8));
  const int rows = 70, ld_x = padded_width(spec.inputs);
  std::vector<float> x(std::size_t(rows) * ld_x, 0.5f), logits(std::size_t(rows), 0.0f),
      grad_outputs(std::size_t(rows), 0.0f);
  for (int r = 0; r < rows; ++r) grad_outputs[std::size_t(r)] = (r % 3 - 1) * 0.1f;
  auto run = [&](DropoutKey k) {
    FusedBuffers b(spec, rows, k);
    experiments::fused_mlp_forward_emulated(model.mlp, x.data(), ld_x, rows, logits.data(), b.forward);
    experiments::fused_mlp_backward_emulated(model.mlp, b.forward, grad_outputs.data(), rows, b.gradients);
    return b.grad16[0];
  };
  std::uint32_t counter = 2;
  DropoutKey counted = key;
  counted.step_counter = &counter;
  const auto by_value = run(key), by_counter = run(counted);
  CHECK(std::memcmp(by_value.data(), by_counter.data(), by_value.size() * 2) == 0);
  counter = 3;
  const auto other = run(counted);
  CHECK(std::memcmp(by_value.data(), other.data(), by_value.size() * 2) != 0);
}

TEST_CASE("fused backward refuses an inference pass and a missing buffer, naming them") {
  MlpSpec spec;
  spec.inputs = 4;
  spec.hidden = {32};
  const experiments::FusedHostModel model(spec, initial_parameters(spec, 1));
  DropoutKey key;
  FusedBuffers b(spec, 10, key);
  std::vector<float> grad(10, 0.1f);
  experiments::FusedTraining inference;  // no input16: not a training pass
  CHECK_THROWS_WITH_AS(experiments::fused_mlp_backward_emulated(model.mlp, inference, grad.data(), 10, b.gradients),
                       doctest::Contains("needs the training forward pass's buffers"), Error);
  experiments::FusedGradients missing = b.gradients;
  missing.bias_partials[1] = nullptr;
  CHECK_THROWS_WITH_AS(experiments::fused_mlp_backward_emulated(model.mlp, b.forward, grad.data(), 10, missing),
                       doctest::Contains("layer 1 needs its gradient buffer"), Error);
}
