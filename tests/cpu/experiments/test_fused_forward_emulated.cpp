// The fused-forward experiment (experiments/fused_mlp) run by its host emulation, which executes the CUDA kernel's
// block code (fused_forward_block.cuh) for every block, warp and lane with scalar 16x16 tiles, against the engine's
// bf16 forward pass on the CPU backend (Mlp::forward_rows). The two differ only in the order of each float32 sum,
// which can move an activation by one bfloat16 step (2^-8 relative): bound 2e-3 on the outputs' relative L2
// difference. A wrong index, a padding not held at zero, a missed bias or row would differ by O(1).
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "experiments/fused_mlp/fused_forward_host.hpp"
#include "fasttab/backend.hpp"
#include "fasttab/error.hpp"
#include "fasttab/model.hpp"
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
    MESSAGE(k.name << ": relative L2 difference " << c.relative);
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
