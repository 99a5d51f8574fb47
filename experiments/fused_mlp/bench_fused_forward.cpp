// build/bench_fused_forward: the experiment's fused bf16 forward pass (experiments/fused_mlp/fused_forward.cuh)
// against the engine's (Mlp::forward_rows in bf16: cuBLAS GEMMs and the fused element-wise kernels), on the seed's
// model by default, on the CUDA device:
// - correctness: both outputs on the same random rows and weights (biases drawn too, so that their path shows), the
//   relative L2 difference and the largest one; exit 1 when the relative difference is over --bound (the two differ
//   only in the order of each float32 sum, which can move an activation by one bfloat16 step);
// - --training: the training pass instead (dropout after the first hidden layer as the engine draws it, and the
//   activations the backward pass reads written out): also the first layer's dropout zeros compared, exit 1 when
//   one differs;
// - --backward (with --training): the backward pass after it too, the engine's (Mlp::backward in bf16) against the
//   fused one (experiments/fused_mlp/fused_backward.cuh: the chain through the layers in one kernel, then the
//   weight gradients as cuBLAS GEMMs and the bias gradients from the kernel's per-block sums), on the same random
//   loss gradient; exit 1 when a layer's dW or db differs by more than --bound (relative L2);
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
#include "cuda/cuda_check.cuh"
#include "cuda/event_timer.cuh"
#include "experiments/fused_mlp/fused_backward_host.hpp"
#include "experiments/fused_mlp/fused_forward.cuh"
#include "experiments/fused_mlp/fused_forward_host.hpp"
#include "fasttab/fasttab.hpp"
#include "fasttab/names.hpp"

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

// The relative L2 difference of got from want (the norm of the difference when want is all zeros).
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

// The fused kernel's model on the device: the host model's arrays uploaded, mlp pointing at them.
struct FusedDeviceModel {
  std::vector<BackendBuffer<bfloat16>> weights;
  std::vector<BackendBuffer<float>> biases;
  experiments::FusedMlp mlp;
  FusedDeviceModel(Backend& backend, const experiments::FusedHostModel& host) : mlp(host.mlp) {
    for (int l = 0; l < host.mlp.count; ++l) {
      const std::size_t count = host.weight_count(l), outs = std::size_t(host.mlp.layers[l].out_padded);
      weights.emplace_back(backend, count, "fused weights");
      biases.emplace_back(backend, outs, "fused biases");
      backend.copy_to_backend(weights.back().data(), host.weights[std::size_t(l)].get(), count * sizeof(bfloat16));
      backend.copy_to_backend(biases.back().data(), host.biases[std::size_t(l)].get(), outs * sizeof(float));
      mlp.layers[l].weights = reinterpret_cast<const __nv_bfloat16*>(weights.back().data());
      mlp.layers[l].bias = biases.back().data();
    }
  }
};

// --backward: after both training passes (the engine's buffers in mlp, the fused one's in `forward`), the engine's
// backward pass and the fused one on the same random loss gradient; prints both gradients' differences per layer
// and both times. False (after saying why) when a layer's dW or db differs past f.bound.
bool backward_pass(const Flags& f, const MlpSpec& spec, Backend& backend, Mlp& mlp, const float* x, int ld_x,
                   DropoutKey key, const experiments::FusedMlp& fused, const experiments::FusedTraining& forward) {
  const cudaStream_t stream = cuda_stream(backend);
  const std::size_t grad_count = std::size_t(f.rows) * spec.outputs;
  std::vector<float> loss_gradient(grad_count);
  std::mt19937_64 random(f.seed + 2);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& g : loss_gradient) g = normal(random) / float(f.rows);  // a mean's gradient, both signs
  BackendBuffer<float> pristine(backend, grad_count, "loss gradient"), engine_grad(backend, grad_count, "engine grad"),
      fused_parameters(backend, spec.parameter_count(), "fused gradients");
  backend.copy_to_backend(pristine.data(), loss_gradient.data(), pristine.bytes());
  experiments::FusedGradients gradients;
  std::vector<BackendBuffer<bfloat16>> grad16;
  std::vector<BackendBuffer<float>> partials;
  for (int l = 0; l < spec.layers(); ++l) {
    gradients.ld_grad16[l] = Mlp::bf16_ld(spec.out_width(l));
    grad16.emplace_back(backend, std::size_t(f.rows) * gradients.ld_grad16[l], "fused g16");
    partials.emplace_back(backend, std::size_t(experiments::fused_blocks(f.rows)) * spec.out_width(l), "bias partials");
    gradients.grad16[l] = reinterpret_cast<__nv_bfloat16*>(grad16.back().data());
    gradients.bias_partials[l] = partials.back().data();
  }
  // Mlp::backward overwrites its loss gradient, so each engine pass starts from a copy (rows x outputs floats).
  auto engine_backward = [&] {
    backend.copy_within(engine_grad.data(), pristine.data(), pristine.bytes());
    mlp.backward(x, ld_x, f.rows, engine_grad.data(), key);
  };
  auto fused_kernel = [&] {
    experiments::fused_mlp_backward_bf16(fused, forward, pristine.data(), f.rows, gradients, stream);
  };
  auto fused_backward = [&] {
    fused_kernel();
    experiments::fused_backward_finish(backend, spec, forward, gradients, f.rows, fused_parameters.data());
  };
  engine_backward();
  fused_backward();
  const std::vector<float> want = mlp.download(mlp.gradients());
  std::vector<float> got(spec.parameter_count());
  backend.copy_to_host(got.data(), fused_parameters.data(), fused_parameters.bytes());
  double worst = 0;
  for (int l = 0; l < spec.layers(); ++l) {
    const std::size_t w = spec.weight_offset(l), b = spec.bias_offset(l);
    const double dw = relative_difference(got.data() + w, want.data() + w, b - w);
    const double db = relative_difference(got.data() + b, want.data() + b, std::size_t(spec.out_width(l)));
    std::printf("layer %d gradients: dW relative L2 difference %.3g, db %.3g\n", l, dw, db);
    worst = std::max({worst, dw, db});
  }

  EventTimer timer;
  const double engine_ms = timer.median_ms(stream, f.repeats, 1, engine_backward);
  const double fused_ms = timer.median_ms(stream, f.repeats, 1, fused_backward);
  const double kernel_ms = timer.median_ms(stream, f.repeats, 1, fused_kernel);
  double flop = 0;  // dW for every layer, d(input) for every layer but the first
  for (int l = 0; l < spec.layers(); ++l) flop += (l > 0 ? 4.0 : 2.0) * f.rows * spec.in_width(l) * spec.out_width(l);
  const double per_batch = 16384.0 / f.rows;
  std::printf("engine backward (cuBLAS + element-wise):  %8.4f ms, %.4f ms per 16384 rows, %6.1f TFLOP/s\n",
              engine_ms, engine_ms * per_batch, flop / engine_ms * 1e-9);
  std::printf("fused backward (kernel + cuBLAS dW):      %8.4f ms, %.4f ms per 16384 rows, %6.1f TFLOP/s\n", fused_ms,
              fused_ms * per_batch, flop / fused_ms * 1e-9);
  std::printf("  of which the fused kernel (chain, g16, bias sums): %.4f ms\n", kernel_ms);
  std::printf("fused / engine backward time: %.3f; gradients: largest layer relative L2 difference %.3g (bound %.3g)\n",
              fused_ms / engine_ms, worst, f.bound);
  if (!(worst <= f.bound)) {
    std::fprintf(stderr, "error: the fused backward's gradients differ from the engine's by %.3g (relative L2) > %.3g\n",
                 worst, f.bound);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fasttab bench_fused_forward (experiment): one kernel for the whole bf16 forward pass against the "
               "engine's, on the CUDA device"};
  Flags f;
  app.add_option("--rows", f.rows, "rows per pass")->check(CLI::Range(1, 1 << 24));
  app.add_option("--inputs", f.inputs, "input features")->check(CLI::Range(1, experiments::kFusedMaxWidth));
  app.add_option("--hidden", f.hidden, "hidden widths (each at most 320)")->delimiter(',')
      ->check(CLI::Range(1, experiments::kFusedMaxWidth));
  app.add_option("--activation", f.activation, name_list<Activation>())->check(CLI::IsMember(name_map<Activation>()));
  app.add_option("--repeats", f.repeats, "timed passes (median reported)")->check(CLI::Range(1, 10000));
  app.add_option("--bound", f.bound, "largest relative L2 difference of the outputs accepted")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", f.seed, "seed of the weights and rows");
  CLI::Option* training = app.add_flag("--training", f.training, "the training pass (Mlp::forward with dropout after the first hidden layer, "
               "the activations the backward pass reads written out) instead of inference; rows at most 65536");
  app.add_option("--dropout", f.dropout, "--training: dropout after the first hidden layer")->check(CLI::Range(0.0, 0.9));
  app.add_flag("--backward", f.backward, "with --training: the backward pass too, the engine's against the fused "
               "kernel's (then cuBLAS weight gradients); exit 1 when a layer's dW or db differs past --bound")
      ->needs(training);
  CLI11_PARSE(app, argc, argv);
  try {
    FASTTAB_REQUIRE(cuda_device_count() > 0, "bench_fused_forward needs a CUDA device, and this machine has none");
    FASTTAB_REQUIRE(int(f.hidden.size()) + 1 <= experiments::kFusedMaxLayers, "--hidden: at most ",
                    experiments::kFusedMaxLayers - 1, " hidden layers");
    auto backend = make_cuda_backend(0);
    backend->set_precision(Precision::bf16);
    MlpSpec spec;
    spec.inputs = f.inputs;
    spec.hidden = f.hidden;
    spec.activation = parse_name<Activation>(f.activation, "--activation");
    spec.dropout = f.training ? f.dropout : 0.0f;
    FASTTAB_REQUIRE(!f.training || f.rows <= 65536, "--training: --rows ", f.rows, " is over 65536 (one pass)");
    std::vector<float> parameters = initial_parameters(spec, f.seed);
    std::mt19937_64 random(f.seed + 1);
    std::uniform_real_distribution<float> uniform(-0.1f, 0.1f);
    for (int l = 0; l < spec.layers(); ++l)
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
    Mlp mlp(*backend, spec, chunk, Precision::bf16);
    mlp.set_parameters(parameters);
    const FusedDeviceModel fused(*backend, experiments::FusedHostModel(spec, parameters));
    const cudaStream_t stream = cuda_stream(*backend);
    // --training: the engine's training pass, and the fused one writing the same buffers' contents into its own.
    DropoutKey key;
    key.seed = f.seed;
    key.step = 3;
    experiments::FusedTraining training;
    std::vector<BackendBuffer<bfloat16>> fused_activations;
    BackendBuffer<bfloat16> fused_input16;
    if (f.training) {
      training.key = key;
      training.ld_input16 = Mlp::bf16_ld(spec.inputs);
      fused_input16 = BackendBuffer<bfloat16>(*backend, std::size_t(f.rows) * training.ld_input16, "fused input16");
      training.input16 = reinterpret_cast<__nv_bfloat16*>(fused_input16.data());
      for (int l = 0; l + 1 < spec.layers(); ++l) {
        training.dropout[l] = spec.dropout_after(l);
        training.ld_activations[l] = mlp.activation_ld(l);
        fused_activations.emplace_back(*backend, std::size_t(f.rows) * mlp.activation_ld(l), "fused activations");
        training.activations[l] = reinterpret_cast<__nv_bfloat16*>(fused_activations.back().data());
      }
    }
    auto engine_pass = [&] {
      if (!f.training) return mlp.forward_rows(dx.data(), ld_x, f.rows, engine_out.data());
      const float* logits = mlp.forward(dx.data(), ld_x, f.rows, true, key);
      backend->copy_within(engine_out.data(), logits, engine_out.bytes());
    };
    auto fused_pass = [&] {
      experiments::fused_mlp_forward_bf16(fused.mlp, dx.data(), ld_x, f.rows, fused_out.data(), stream, training);
    };
    engine_pass();
    fused_pass();
    std::size_t mask_mismatches = 0;  // --training: first-layer activations zero in one pass and not the other
    if (f.training) {
      const std::size_t count = std::size_t(f.rows) * mlp.activation_ld(0);
      std::vector<bfloat16> engine_a(count), fused_a(count);
      backend->copy_to_host(engine_a.data(), mlp.bf16_activations(0), count * sizeof(bfloat16));
      backend->copy_to_host(fused_a.data(), fused_activations.front().data(), count * sizeof(bfloat16));
      for (int r = 0; r < f.rows; ++r)
        for (int c = 0; c < spec.out_width(0); ++c) {
          const std::size_t i = std::size_t(r) * mlp.activation_ld(0) + c;
          mask_mismatches += ((engine_a[i].bits & 0x7FFF) == 0) != ((fused_a[i].bits & 0x7FFF) == 0);
        }
    }
    std::vector<float> want(std::size_t(f.rows)), got(std::size_t(f.rows));
    backend->copy_to_host(want.data(), engine_out.data(), engine_out.bytes());
    backend->copy_to_host(got.data(), fused_out.data(), fused_out.bytes());
    double largest = 0;
    const double relative = relative_difference(got.data(), want.data(), want.size(), &largest);

    EventTimer timer;
    const double engine_ms = timer.median_ms(stream, f.repeats, 1, engine_pass);
    const double fused_ms = timer.median_ms(stream, f.repeats, 1, fused_pass);
    double flop = 0;
    for (int l = 0; l < spec.layers(); ++l) flop += 2.0 * f.rows * spec.in_width(l) * spec.out_width(l);
    const double per_batch = 16384.0 / f.rows;
    std::printf("bench_fused_forward (experiment) on %s: MLP %d", backend->device_name().c_str(), spec.inputs);
    for (int h : spec.hidden) std::printf("-%d", h);
    std::printf("-%d %s, bf16, %s pass, %d rows, median of %d\n", spec.outputs, f.activation.c_str(),
                f.training ? "training" : "inference", f.rows, f.repeats);
    std::printf("engine forward (cuBLAS + element-wise): %8.4f ms, %.4f ms per 16384 rows, %6.1f TFLOP/s\n",
                engine_ms, engine_ms * per_batch, flop / engine_ms * 1e-9);
    std::printf("fused forward (one kernel):             %8.4f ms, %.4f ms per 16384 rows, %6.1f TFLOP/s\n",
                fused_ms, fused_ms * per_batch, flop / fused_ms * 1e-9);
    std::printf("fused / engine time: %.3f; outputs: relative L2 difference %.3g, largest %.3g (bound %.3g)\n",
                fused_ms / engine_ms, relative, largest, f.bound);
    if (f.training) std::printf("first layer's dropout zeros that differ: %zu\n", mask_mismatches);
    if (f.backward && !backward_pass(f, spec, *backend, mlp, dx.data(), ld_x, key, fused.mlp, training)) return 1;
    if (mask_mismatches > 0) {
      std::fprintf(stderr, "error: %zu first-layer activations are zero in one pass and not in the other (dropout "
                   "masks differ)\n", mask_mismatches);
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
