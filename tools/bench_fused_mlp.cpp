// build/bench_fused_mlp: the fused bf16 MLP passes (Mlp with `fused`, --fused-mlp: host/backend/fused_mlp.hpp)
// against the engine's per-layer ones (cuBLAS GEMMs and the element-wise kernels), the same model, weights and rows
// in both, on the seed's model by default, on the CUDA device:
// - inference: Mlp::forward_rows in both; the relative L2 difference of the outputs and the largest one; exit 1
//   when the relative difference is over --bound (the two differ only in the order of each float32 sum, which can
//   move an activation by one bfloat16 step);
// - --training: the training pass instead (Mlp::forward with dropout after the first hidden layer): also the first
//   layer's dropout zeros compared, exit 1 when one differs;
// - --backward (with --training): then Mlp::backward in both on the same random loss gradient; each layer's dW and
//   db compared, exit 1 when one differs by more than --bound (relative L2);
// - speed: the median over --repeats of each pass over --rows rows (CUDA events on the backend's stream), per
//   16384 rows, and the GEMM FLOPs per second it reaches.
// On a machine without a CUDA device it says so and exits 1.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <cuda_runtime_api.h>

#include "cuda/cuda_backend.hpp"
#include "cuda/event_timer.cuh"
#include "fasttab/fasttab.hpp"
#include "fasttab/names.hpp"
#include "host/backend/fused_mlp.hpp"
#include "host/backend/philox.hpp"
#include "host/backend/reference_math.hpp"

using namespace fasttab;

namespace {

struct Flags {
  int rows = 16384 * 8, inputs = 21, repeats = 20;
  std::vector<int> hidden = {300, 300, 300, 300};
  std::string activation = "tanh";
  double bound = 1e-2;
  std::uint64_t seed = 1;
  bool training = false;   // the training pass: dropout after the first layer, activations written out
  float dropout = 0.5f;
  bool backward = false;   // --training, then the backward pass
};

// The relative L2 difference of got from want (the norm of the difference when want is all zeros); NaN anywhere
// gives infinity.
double relative_difference(const float* got, const float* want, std::size_t count, double* largest = nullptr) {
  double diff2 = 0, norm2 = 0, most = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const double d = double(got[i]) - double(want[i]);
    diff2 += d * d;
    norm2 += double(want[i]) * want[i];
    most = std::isnan(d) ? INFINITY : std::max(most, std::fabs(d));
  }
  if (largest != nullptr) *largest = most;
  if (std::isnan(diff2)) return INFINITY;
  return norm2 > 0 ? std::sqrt(diff2 / norm2) : std::sqrt(diff2);
}

void print_pass(const char* what, double ms, double flop, int rows) {
  std::printf("%-44s %8.4f ms, %.4f ms per 16384 rows, %6.1f TFLOP/s\n", what, ms, ms * 16384.0 / rows,
              flop / ms * 1e-9);
}

// --backward: after both training passes, Mlp::backward in both on the same random loss gradient; prints each
// layer's dW and db difference and both times. False (after saying why) when a layer differs past f.bound.
bool backward_pass(const Flags& f, const MlpSpec& spec, Backend& backend, Mlp& engine, Mlp& fused, const float* x,
                   int ld_x, DropoutKey key) {
  const std::size_t count = std::size_t(f.rows) * spec.outputs;
  std::vector<float> loss_gradient(count);
  std::mt19937_64 random(f.seed + 2);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& g : loss_gradient) g = normal(random) / float(f.rows);  // a mean's gradient, both signs
  BackendBuffer<float> pristine(backend, count, "loss gradient"), scratch(backend, count, "loss gradient copy");
  backend.copy_to_backend(pristine.data(), loss_gradient.data(), pristine.bytes());
  // Mlp::backward may overwrite its loss gradient, so each pass starts from a copy (rows x outputs floats, both).
  auto pass = [&](Mlp& mlp) {
    return [&, m = &mlp] {
      backend.copy_within(scratch.data(), pristine.data(), pristine.bytes());
      m->backward(x, ld_x, f.rows, scratch.data(), key);
    };
  };
  pass(engine)();
  pass(fused)();
  const std::vector<float> want = engine.download(engine.gradients()), got = fused.download(fused.gradients());
  double worst = 0;
  for (int l = 0; l < spec.layers(); ++l) {
    const std::size_t w = spec.weight_offset(l), b = spec.bias_offset(l);
    const double dw = relative_difference(got.data() + w, want.data() + w, b - w);
    const double db = relative_difference(got.data() + b, want.data() + b, std::size_t(spec.out_width(l)));
    std::printf("layer %d gradients: dW relative L2 difference %.3g, db %.3g\n", l, dw, db);
    worst = std::max({worst, dw, db});
  }
  const cudaStream_t stream = cuda_stream(backend);
  EventTimer timer;
  const double engine_ms = timer.median_ms(stream, f.repeats, 1, pass(engine));
  const double fused_ms = timer.median_ms(stream, f.repeats, 1, pass(fused));
  double flop = 0;  // dW for every layer, d(input) for every layer but the first
  for (int l = 0; l < spec.layers(); ++l) flop += (l > 0 ? 4.0 : 2.0) * f.rows * spec.in_width(l) * spec.out_width(l);
  print_pass("engine backward (cuBLAS + element-wise):", engine_ms, flop, f.rows);
  print_pass("fused backward (one kernel + cuBLAS dW):", fused_ms, flop, f.rows);
  std::printf("fused / engine backward time: %.3f; gradients: largest layer relative L2 difference %.3g (bound "
              "%.3g)\n", fused_ms / engine_ms, worst, f.bound);
  if (!(worst <= f.bound)) {
    std::fprintf(stderr, "error: the fused backward pass's gradients differ from the engine's by %.3g (relative L2) "
                 "> %.3g\n", worst, f.bound);
    return false;
  }
  return true;
}

// The hidden layer 0 activations of both training passes against the engine's dropout decisions (philox.hpp, the
// key's layer 0): how many the mask drops that are not zero in a pass, plus how many are zero in one pass and
// clearly not in the other (above 1e-3: under relu a pre-activation within a rounding of 0 may be 0 in one pass
// and a tiny positive value in the other, which is no mask difference).
std::size_t dropout_mask_mismatches(Backend& backend, const Mlp& engine, const Mlp& fused, int rows, int units,
                                    const DropoutKey& key, float p) {
  const int ld = engine.activation_ld(0);
  const std::size_t count = std::size_t(rows) * ld;
  std::vector<bfloat16> a(count), b(count);
  backend.copy_to_host(a.data(), engine.bf16_activations(0), count * sizeof(bfloat16));
  backend.copy_to_host(b.data(), fused.bf16_activations(0), count * sizeof(bfloat16));
  std::size_t mismatches = 0;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < units; ++c) {
      const std::size_t i = std::size_t(r) * ld + c;
      const float va = reference::bf16_value(a[i]), vb = reference::bf16_value(b[i]);
      const std::uint64_t element = (key.first_row + std::uint64_t(r)) * std::uint64_t(units) + std::uint64_t(c);
      if (!dropout_keep(key.seed, key.step, 0, element, p)) mismatches += (va != 0.0f || vb != 0.0f) ? 1 : 0;
      else if ((va == 0.0f) != (vb == 0.0f) && std::max(std::fabs(va), std::fabs(vb)) > 1e-3f) ++mismatches;
    }
  return mismatches;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fasttab bench_fused_mlp: the fused bf16 MLP passes (--fused-mlp) against the engine's per-layer "
               "ones, on the CUDA device"};
  Flags f;
  CLI::Option* rows = app.add_option("--rows", f.rows, "rows per pass (default 131072; 65536 with --training)")
                          ->check(CLI::Range(1, 1 << 24));
  app.add_option("--inputs", f.inputs, "input features")->check(CLI::Range(1, kFusedMaxWidth));
  app.add_option("--hidden", f.hidden, "hidden widths (each at most 320)")->delimiter(',')
      ->check(CLI::Range(1, kFusedMaxWidth));
  app.add_option("--activation", f.activation, name_list<Activation>())->check(CLI::IsMember(name_map<Activation>()));
  app.add_option("--repeats", f.repeats, "timed passes (median reported)")->check(CLI::Range(1, 10000));
  app.add_option("--bound", f.bound, "largest relative L2 difference of the outputs (and gradients) accepted")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", f.seed, "seed of the weights and rows");
  CLI::Option* training = app.add_flag("--training", f.training, "the training pass (Mlp::forward with dropout after "
                                       "the first hidden layer) instead of inference; rows at most 65536");
  app.add_option("--dropout", f.dropout, "--training: dropout after the first hidden layer")
      ->check(CLI::Range(0.0, 0.9));
  app.add_flag("--backward", f.backward, "with --training: the backward pass too (Mlp::backward in both); exit 1 "
               "when a layer's dW or db differs past --bound")
      ->needs(training);
  CLI11_PARSE(app, argc, argv);
  if (f.training && rows->count() == 0) f.rows = 65536;  // one training pass holds its activations
  try {
    FASTTAB_REQUIRE(cuda_device_count() > 0, "bench_fused_mlp needs a CUDA device, and this machine has none");
    FASTTAB_REQUIRE(!f.training || f.rows <= 65536, "--training: --rows ", f.rows, " is over 65536 (one pass)");
    auto backend = make_cuda_backend(0);
    backend->set_precision(Precision::bf16);
    MlpSpec spec;
    spec.inputs = f.inputs;
    spec.hidden = f.hidden;
    spec.activation = parse_name<Activation>(f.activation, "--activation");
    spec.dropout = f.training ? f.dropout : 0.0f;
    FASTTAB_REQUIRE(fused_mlp_unsupported(spec).empty(), fused_mlp_unsupported(spec));
    std::vector<float> parameters = initial_parameters(spec, f.seed);
    std::mt19937_64 random(f.seed + 1);
    std::uniform_real_distribution<float> uniform(-0.1f, 0.1f);
    for (int l = 0; l < spec.layers(); ++l)  // biases drawn, so that their path shows
      for (int o = 0; o < spec.out_width(l); ++o) parameters[spec.bias_offset(l) + std::size_t(o)] = uniform(random);

    const int ld_x = padded_width(spec.inputs);
    std::vector<float> x(std::size_t(f.rows) * ld_x, 0.0f);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int r = 0; r < f.rows; ++r)
      for (int c = 0; c < spec.inputs; ++c) x[std::size_t(r) * ld_x + c] = normal(random);
    BackendBuffer<float> dx(*backend, x.size(), "rows"), engine_out(*backend, std::size_t(f.rows), "engine outputs"),
        fused_out(*backend, std::size_t(f.rows), "fused outputs");
    backend->copy_to_backend(dx.data(), x.data(), dx.bytes());

    const int chunk = f.training ? f.rows : std::min(f.rows, 16384);
    Mlp engine(*backend, spec, chunk, Precision::bf16), fused(*backend, spec, chunk, Precision::bf16, 1, true);
    engine.set_parameters(parameters);
    fused.set_parameters(parameters);
    DropoutKey key;
    key.seed = f.seed;
    key.step = 3;
    auto forward = [&](Mlp& mlp, BackendBuffer<float>& out) {
      return [&, m = &mlp, o = out.data()] {
        if (f.training) m->forward(dx.data(), ld_x, f.rows, true, key, o);
        else m->forward_rows(dx.data(), ld_x, f.rows, o);
      };
    };
    forward(engine, engine_out)();
    forward(fused, fused_out)();
    const std::size_t mask_mismatches =
        f.training ? dropout_mask_mismatches(*backend, engine, fused, f.rows, spec.out_width(0), key, spec.dropout) : 0;
    std::vector<float> want(std::size_t(f.rows)), got(std::size_t(f.rows));
    backend->copy_to_host(want.data(), engine_out.data(), engine_out.bytes());
    backend->copy_to_host(got.data(), fused_out.data(), fused_out.bytes());
    double largest = 0;
    const double relative = relative_difference(got.data(), want.data(), want.size(), &largest);

    const cudaStream_t stream = cuda_stream(*backend);
    EventTimer timer;
    const double engine_ms = timer.median_ms(stream, f.repeats, 1, forward(engine, engine_out));
    const double fused_ms = timer.median_ms(stream, f.repeats, 1, forward(fused, fused_out));
    double flop = 0;
    for (int l = 0; l < spec.layers(); ++l) flop += 2.0 * f.rows * spec.in_width(l) * spec.out_width(l);
    std::printf("bench_fused_mlp on %s: MLP %d", backend->device_name().c_str(), spec.inputs);
    for (int h : spec.hidden) std::printf("-%d", h);
    std::printf("-%d %s, bf16, %s pass, %d rows, median of %d\n", spec.outputs, f.activation.c_str(),
                f.training ? "training" : "inference", f.rows, f.repeats);
    print_pass("engine forward (cuBLAS + element-wise):", engine_ms, flop, f.rows);
    print_pass("fused forward (one kernel):", fused_ms, flop, f.rows);
    std::printf("fused / engine time: %.3f; outputs: relative L2 difference %.3g, largest %.3g (bound %.3g)\n",
                fused_ms / engine_ms, relative, largest, f.bound);
    if (f.training) std::printf("first layer's activations off the dropout mask: %zu\n", mask_mismatches);
    if (f.backward && !backward_pass(f, spec, *backend, engine, fused, dx.data(), ld_x, key)) return 1;
    if (mask_mismatches > 0) {
      std::fprintf(stderr, "error: %zu first-layer activations are off the engine's dropout mask (dropped but not "
                   "zero, or zero in one pass only)\n", mask_mismatches);
      return 1;
    }
    if (!(relative <= f.bound)) {
      std::fprintf(stderr, "error: the fused outputs differ from the engine's by %.3g (relative L2) > %.3g\n", relative,
                   f.bound);
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
