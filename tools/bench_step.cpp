// build/bench_step: where the time of a training epoch goes, measured piece by piece on the chosen backend.
// Prints the device name and the precision, then the card's two ceilings measured in the same run (the copy
// bandwidth of a large backend-to-backend copy, the rate of a large square GEMM through the model's GEMM), then
// per op: the median time, the bytes it moves or the FLOPs it does, the rate that makes, and its fraction of the
// matching ceiling; then the epoch estimate. Ops: the GEMMs of one step, one whole training step, its
// element-wise parts and the optimiser, the evaluation of the test set, the epoch permutation and an epoch of
// gathers. Every time is the median of repeated runs (host clock around backend.synchronize(): throughput
// figures, launch gaps included). --json PATH writes the same as one JSON object.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "fasttab/fasttab.hpp"
#include "fasttab/names.hpp"
#include "host/backend/fused_mlp.hpp"
#include "host/comm/communicators.hpp"
#include "tools/cli_common.hpp"

using namespace fasttab;

namespace {

template <typename F>
double median_ms(Backend& backend, int repeats, F&& work) {
  work();  // warm-up: workspaces, cuBLAS heuristics
  backend.synchronize();
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    work();
    backend.synchronize();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Every flag of build/bench_step.
struct StepBenchFlags {
  std::int64_t train_rows = 10'500'000, test_rows = 500'000;
  int batch = 16384, repeats = 20;
  std::string device = "auto", precision = "fp32", gemm = "cublas";
  std::vector<int> hidden = {300, 300, 300, 300};
  int gemm_size = 0;  // the ceiling GEMM's m = n = k; 0: 8192 on CUDA, 2048 on the CPU
  int copy_mib = 0;   // the ceiling copy's size in MiB; 0: 1024 on CUDA, 256 on the CPU
  std::string json;   // empty: no JSON
  bool all_reduce = false;  // also time the gradient all-reduce through a one-rank communicator
  bool fused_mlp = false;   // the model's fused bf16 passes (train --fused-mlp)
};

void add_step_bench_flags(CLI::App& app, StepBenchFlags& f) {
  app.add_option("--train-rows", f.train_rows, "training rows")->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 31));
  app.add_option("--test-rows", f.test_rows, "test rows")->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 31));
  app.add_option("--batch-size", f.batch, "rows per batch")->check(CLI::Range(1, 1 << 24));
  app.add_option("--hidden", f.hidden, "hidden widths")->delimiter(',')->check(CLI::Range(1, 65536));
  app.add_option("--repeats", f.repeats, "timed repetitions (median reported)")->check(CLI::Range(1, 100000));
  app.add_option("--device", f.device, name_list<DeviceChoice>())->check(CLI::IsMember(name_map<DeviceChoice>()));
  app.add_option("--precision", f.precision, name_list<Precision>())->check(CLI::IsMember(name_map<Precision>()));
  app.add_option("--gemm", f.gemm, "the GPU's GEMM library (train --gemm), for the step and the ceiling GEMM: " +
                 name_list<GemmLibrary>())->check(CLI::IsMember(name_map<GemmLibrary>()));
  app.add_option("--gemm-size", f.gemm_size, "m = n = k of the GEMM that measures the GEMM ceiling "
                 "(default 8192 on CUDA, 2048 on the CPU)")->check(CLI::Range(1, 32768));
  app.add_option("--copy-mib", f.copy_mib, "MiB copied by the copy that measures the bandwidth ceiling "
                 "(default 1024 on CUDA, 256 on the CPU)")->check(CLI::Range(1, 65536));
  app.add_flag("--fused-mlp", f.fused_mlp, "the model's fused bf16 passes (train --fused-mlp): the step, its "
               "forward and backward passes and the evaluation run them; the per-layer element-wise rows are left out "
               "(the GEMM row stays, as the per-layer step's reference)");
  app.add_flag("--all-reduce", f.all_reduce, "also time one all-reduce of the gradient vector per step through a "
               "one-rank communicator (NCCL on CUDA, MPI on the CPU): the fixed cost a data-parallel step adds "
               "(docs/scaling.md); run without mpirun");
  app.add_option("--json", f.json, "also write the device, precision, shapes, ceilings and per-op rows as one JSON "
                 "object to this file (replaced if it exists, as train's --json)");
}

// The optimiser the bench steps: Adam with PyTorch's defaults, as the seed.
const OptimizerConfig kBenchOptimizer{};

// The resident tables, the model, its optimiser and the buffers every measurement uses.
struct StepBench {
  StepBench(Backend& b, const MlpSpec& s, const Dataset& d, int batch_rows, Precision precision, bool fused)
      : backend(b), spec(s), ld(padded_width(s.inputs)), batch(batch_rows),
        train(upload_table(b, d.train, "training table")), test(upload_table(b, d.test, "test table")),
        mlp(b, s, batch_rows, precision, 1, fused), opt(b, kBenchOptimizer, ScheduleConfig{}, s.parameter_count(), 1 << 30),
        grad(b, std::size_t(batch_rows), "grad"), loss(b, 1, "loss"),
        outputs(b, std::size_t(test.rows), "test outputs"),
        scratch(b, std::size_t(batch_rows) * s.max_width() * 2, "gemm scratch"),
        perm(b, std::size_t(train.rows), "permutation"), bx(b, std::size_t(batch_rows) * ld, "batch"),
        by(b, std::size_t(batch_rows), "batch") {
    mlp.set_parameters(initial_parameters(spec, 1));
    if (bf16()) {  // bfloat16 operands for the GEMM and element-wise timings, as Mlp stores them
      const int width = s.max_width(), ld16 = Mlp::bf16_ld(width);
      scratch16 = BackendBuffer<bfloat16>(b, std::size_t(2) * batch_rows * ld16, "bfloat16 scratch");
      weights16 = BackendBuffer<bfloat16>(b, std::size_t(width) * ld16, "bfloat16 weights");
      BackendBuffer<float> values(b, std::max(std::size_t(2) * batch_rows, std::size_t(width)) * width, "values");
      backend.fill(values.data(), 0.25f, values.size());
      backend.convert_to_bf16(values.data(), 2 * batch_rows, width, width, scratch16.data(), ld16);
      backend.convert_to_bf16(values.data(), width, width, width, weights16.data(), ld16);
    }
  }
  bool bf16() const { return mlp.precision() == Precision::bf16; }
  Backend& backend;
  const MlpSpec& spec;
  const int ld;
  const int batch;
  DeviceTable train, test;
  Mlp mlp;
  Optimizer opt;
  BackendBuffer<float> grad, loss, outputs, scratch;
  BackendBuffer<std::uint32_t> perm;
  BackendBuffer<float> bx, by;
  BackendBuffer<bfloat16> scratch16, weights16;  // bf16 only: two [batch, bf16_ld(max width)] panels; one weight
};

// Milliseconds of each piece.
struct StepTimes {
  double gemm = 0, step = 0, overlapped_step = 0, captured_step = 0, forward_pass = 0, backward_pass = 0,
         forward_elementwise = 0, backward_elementwise = 0, fused_backward = 0, bias_gradient = 0, optimizer = 0,
         eval = 0, perm = 0, gather = 0;
  double all_reduce = std::nan("");  // --all-reduce only
  std::string communicator;          // its kind: "nccl" or "mpi"
};

// The GEMMs of one bf16 step, as Mlp runs them: bfloat16 operands (the first layer's input, the activations, the
// weights and the gradients, in rows padded to 8), float32 outputs.
double time_step_gemms_bf16(StepBench& b, int repeats) {
  const MlpSpec& spec = b.spec;
  const int batch = b.batch;
  const std::size_t panel = std::size_t(batch) * Mlp::bf16_ld(spec.max_width());
  const bfloat16* a = b.scratch16.data();
  const bfloat16* g = b.scratch16.data() + panel;
  const bfloat16* w = b.weights16.data();
  float* out = b.scratch.data();
  float* dw = b.mlp.gradients();
  return median_ms(b.backend, repeats, [&] {
    for (int l = 0; l < spec.layers(); ++l) {
      const int in = spec.in_width(l), out_w = spec.out_width(l);
      const int ld_in = Mlp::bf16_ld(in), ld_out = Mlp::bf16_ld(out_w);
      b.backend.gemm_bf16(false, true, batch, out_w, in, 1.0f, a, ld_in, w, ld_in, 0.0f, out, out_w);
      b.backend.gemm_bf16(true, false, out_w, in, batch, 1.0f, g, ld_out, a, ld_in, 0.0f, dw + spec.weight_offset(l), in);
      if (l > 0) b.backend.gemm_bf16(false, false, batch, in, out_w, 1.0f, g, ld_out, w, ld_in, 0.0f, out, in);
    }
  });
}

// 1. The GEMMs of one step alone (forward and weight gradient per layer, input gradient per layer but the
// first), on the model's own buffers (bf16: time_step_gemms_bf16); 2. one whole training step on a resident batch, op by op; 3. the same step
// as captured work (below).
void time_step(StepBench& b, int repeats, StepTimes& t) {
  Backend* const backend = &b.backend;
  const MlpSpec& spec = b.spec;
  const int batch = b.batch, ld = b.ld;
  t.gemm = b.bf16() ? time_step_gemms_bf16(b, repeats) : median_ms(*backend, repeats, [&] {
    float* a = b.scratch.data();
    float* out_buf = b.scratch.data() + std::size_t(batch) * spec.max_width();
    const float* w = b.mlp.parameters();
    float* dw = b.mlp.gradients();
    for (int l = 0; l < spec.layers(); ++l) {
      const int in = spec.in_width(l), out = spec.out_width(l);
      const float* x = l == 0 ? b.train.features.data() : a;
      backend->gemm(false, true, batch, out, in, 1.0f, x, l == 0 ? ld : in, w + spec.weight_offset(l), in, 0.0f, out_buf, out);
      backend->gemm(true, false, out, in, batch, 1.0f, out_buf, out, x, l == 0 ? ld : in, 0.0f, dw + spec.weight_offset(l), in);
      if (l > 0) backend->gemm(false, false, batch, in, out, 1.0f, out_buf, out, w + spec.weight_offset(l), in, 0.0f, a, in);
    }
  });
  std::uint32_t step = 0;
  const auto training_step = [&] {
    const DropoutKey key{1, step++, 0};
    const float* out = b.mlp.forward(b.train.features.data(), ld, batch, true, key);
    backend->loss_forward_backward(Task::binary, out, batch, 1, 1, b.train.labels.data(), b.grad.data(), b.loss.data());
    b.mlp.backward(b.train.features.data(), ld, batch, b.grad.data(), key);
    b.opt.step(b.mlp.parameters(), b.mlp.gradients());
  };
  t.step = median_ms(*backend, repeats, training_step);
  // 2a. Its forward pass (training: dropout, the activations kept) and its backward pass alone.
  const DropoutKey pass_key{1, 2, 0};
  t.forward_pass = median_ms(*backend, repeats, [&] {
    b.mlp.forward(b.train.features.data(), ld, batch, true, pass_key);
  });
  const float* pass_out = b.mlp.forward(b.train.features.data(), ld, batch, true, pass_key);
  backend->loss_forward_backward(Task::binary, pass_out, batch, 1, 1, b.train.labels.data(), b.grad.data(),
                                 b.loss.data());
  t.backward_pass = median_ms(*backend, repeats, [&] {  // (the bf16 and fp32 passes may overwrite the loss gradient)
    b.mlp.backward(b.train.features.data(), ld, batch, b.grad.data(), pass_key);
  });
  // 2c. The same step with each layer's weight gradient on the side queue (train --overlap-weight-gradients).
  b.mlp.set_overlap_weight_gradients(true);
  t.overlapped_step = median_ms(*backend, repeats, training_step);
  b.mlp.set_overlap_weight_gradients(false);
  // 3. The same step recorded once and replayed (train --cuda-graphs: one CUDA Graph launch a step), its dropout
  // step and optimiser step read from a counter in backend memory, its schedule from a window of `repeats` + 1 steps
  // (median_ms runs the work repeats + 1 times).
  BackendBuffer<std::uint32_t> counter(*backend, 1, "step counter");
  const std::uint32_t first = 0;
  backend->copy_to_backend(counter.data(), &first, sizeof first);
  const std::int64_t window = repeats + 1;
  std::vector<float> values(std::size_t(window) * 3);
  b.opt.schedule_values(1, window, window, values.data());
  BackendBuffer<float> schedule(*backend, values.size(), "schedule window");
  backend->copy_to_backend(schedule.data(), values.data(), schedule.bytes());
  DropoutKey key{1, 0, 0};
  key.step_counter = counter.data();
  const std::unique_ptr<Backend::CapturedWork> captured = backend->capture([&] {
    const float* out = b.mlp.forward(b.train.features.data(), ld, batch, true, key);
    backend->loss_forward_backward(Task::binary, out, batch, 1, 1, b.train.labels.data(), b.grad.data(), b.loss.data());
    b.mlp.backward(b.train.features.data(), ld, batch, b.grad.data(), key);
    b.opt.step_from_counter(b.mlp.parameters(), b.mlp.gradients(), counter.data(), schedule.data(), window);
    backend->increment_counter(counter.data());
  });
  t.captured_step = median_ms(*backend, repeats, [&] { captured->run(); });
}

// 2b. The element-wise parts of one step, alone, on the same shapes (hidden layers only), and the optimiser. Under
// bf16 the element-wise ops as Mlp runs them: float32 z in, bfloat16 activations out; the float32 gradient and the
// bfloat16 activations in, the bfloat16 gradient out, with the bias gradient. The element-wise backward without
// the bias gradient is not an op of the bf16 step: its row is left out.
void time_step_parts(StepBench& b, int repeats, StepTimes& t) {
  Backend* const backend = &b.backend;
  const MlpSpec& spec = b.spec;
  Mlp& mlp = b.mlp;
  const int batch = b.batch;
  float* act = b.scratch.data();
  float* act_grad = b.scratch.data() + std::size_t(batch) * spec.max_width();
  backend->fill(act, 0.25f, std::size_t(batch) * spec.max_width());
  backend->fill(act_grad, 0.5f, std::size_t(batch) * spec.max_width());
  auto key = [](int l) { return DropoutKey{1, 2, std::uint32_t(l)}; };
  t.optimizer = median_ms(*backend, repeats, [&] { b.opt.step(mlp.parameters(), mlp.gradients()); });
  if (mlp.fused()) {  // none of the per-layer element-wise ops runs in the fused step
    t.forward_elementwise = t.backward_elementwise = t.fused_backward = t.bias_gradient = std::nan("");
    return;
  }
  if (b.bf16()) {
    const int ld16 = Mlp::bf16_ld(spec.max_width());
    bfloat16* act16 = b.scratch16.data();
    bfloat16* grad16 = b.scratch16.data() + std::size_t(batch) * ld16;
    t.forward_elementwise = median_ms(*backend, repeats, [&] {
      for (int l = 0; l + 1 < spec.layers(); ++l)
        backend->bias_activation_dropout_forward_bf16(act, batch, spec.out_width(l), spec.out_width(l),
                                                      mlp.parameters() + spec.bias_offset(l), spec.activation,
                                                      spec.dropout_after(l), key(l), act16, ld16);
    });
    t.backward_elementwise = std::nan("");
    t.fused_backward = median_ms(*backend, repeats, [&] {
      for (int l = 0; l + 1 < spec.layers(); ++l)
        backend->activation_dropout_backward_bias_gradient_bf16(act_grad, spec.out_width(l), act16, ld16, batch,
                                                                spec.out_width(l), spec.activation,
                                                                spec.dropout_after(l), key(l),
                                                                mlp.gradients() + spec.bias_offset(l), grad16, ld16);
    });
  } else {
    t.forward_elementwise = median_ms(*backend, repeats, [&] {
      for (int l = 0; l + 1 < spec.layers(); ++l)
        backend->bias_activation_dropout_forward(act, batch, spec.out_width(l), spec.out_width(l),
                                                 mlp.parameters() + spec.bias_offset(l), spec.activation,
                                                 spec.dropout_after(l), key(l));
    });
    t.backward_elementwise = median_ms(*backend, repeats, [&] {
      for (int l = 0; l + 1 < spec.layers(); ++l)
        backend->activation_dropout_backward(act_grad, act, batch, spec.out_width(l), spec.out_width(l),
                                             spec.activation, spec.dropout_after(l), key(l));
    });
    t.fused_backward = median_ms(*backend, repeats, [&] {
      for (int l = 0; l + 1 < spec.layers(); ++l)
        backend->activation_dropout_backward_bias_gradient(act_grad, act, batch, spec.out_width(l), spec.out_width(l),
                                                           spec.activation, spec.dropout_after(l), key(l),
                                                           mlp.gradients() + spec.bias_offset(l));
    });
  }
  t.bias_gradient = median_ms(*backend, repeats, [&] {
    for (int l = 0; l < spec.layers(); ++l)
      backend->bias_gradient(act_grad, batch, spec.out_width(l), spec.out_width(l), mlp.gradients() + spec.bias_offset(l));
  });
}

// 3. Evaluation of the test set: forward in batches, then loss and exact AUC; 4. the epoch's permutation, and
// 5. every batch's gather.
void time_epoch_parts(StepBench& b, int repeats, std::int64_t batches, StepTimes& t) {
  Backend* const backend = &b.backend;
  const int batch = b.batch, ld = b.ld;
  const DeviceTable& train = b.train;
  const DeviceTable& test = b.test;
  t.eval = median_ms(*backend, std::max(3, repeats / 4), [&] {
    b.mlp.forward_rows(test.features.data(), ld, test.rows, b.outputs.data());
    backend->evaluate(Task::binary, b.outputs.data(), test.rows, 1, 1, test.labels.data());
  });
  std::uint32_t epoch = 0;
  t.perm = median_ms(*backend, repeats, [&] {
    backend->random_permutation(7, epoch++, static_cast<std::uint32_t>(train.rows), b.perm.data());
  });
  t.gather = median_ms(*backend, std::max(3, repeats / 4), [&] {
    for (std::int64_t i = 0; i < batches; ++i) {
      const std::int64_t first = i * batch;
      const int rows = static_cast<int>(std::min<std::int64_t>(batch, train.rows - first));
      backend->gather_rows(train.features.data(), ld, train.labels.data(), b.perm.data() + first, rows, b.bx.data(),
                           b.by.data());
    }
  });
}

// 6. --all-reduce: one all-reduce of the gradient vector in place (what a data-parallel step adds after the
// backward pass) through a one-rank communicator: NCCL on the backend's stream for CUDA, MPI for the CPU. With one
// rank it moves no data between GPUs: it measures the collective's fixed cost (launch, NCCL's or MPI's own
// latency), the `a` of docs/scaling.md's model; the bandwidth term needs several GPUs.
void time_all_reduce(StepBench& b, int repeats, StepTimes& t) {
  const bool cuda = std::string(b.backend.kind()) == "cuda";
  const std::unique_ptr<Communicator> comm = cuda ? make_nccl_communicator(b.backend) : make_mpi_communicator();
  t.communicator = comm->kind();
  const std::size_t count = b.spec.parameter_count();
  t.all_reduce = median_ms(b.backend, repeats, [&] { comm->all_reduce_sum(b.mlp.gradients(), count); });
}

// ---- the ceilings ------------------------------------------------------------------------------------------

// The card's two ceilings, measured in this run on the chosen backend.
struct Ceilings {
  std::size_t copy_bytes = 0;  // the size of the copy; it reads and writes that many bytes
  double copy_ms = 0;
  int gemm_size = 0;  // m = n = k
  double gemm_ms = 0;
  std::string gemm_op = "Backend::gemm(A, B^T)";

  // Bytes moved by the copy: each byte read once and written once.
  double copy_traffic() const { return 2.0 * double(copy_bytes); }
  double copy_gb_per_s() const { return copy_traffic() / copy_ms / 1e6; }  // bytes / (ms * 1e-3) / 1e9
  // FLOPs of the square GEMM: one multiply and one add per (i, j, p), 2 m n k.
  double gemm_flop() const { return 2.0 * double(gemm_size) * gemm_size * gemm_size; }
  double gemm_tflop_per_s() const { return gemm_flop() / gemm_ms / 1e9; }  // flop / (ms * 1e-3) / 1e12
};

// Bandwidth: one copy of `bytes` from one backend buffer to another (Backend::copy_within: cudaMemcpyAsync
// device to device on CUDA, memmove on the CPU), far larger than any cache.
void measure_copy_ceiling(Backend& backend, std::size_t bytes, int repeats, Ceilings& c) {
  const std::size_t count = bytes / sizeof(float);
  BackendBuffer<float> from(backend, count, "copy ceiling source"), to(backend, count, "copy ceiling destination");
  backend.fill(from.data(), 1.0f, count);  // touch both, so that no page is first mapped inside the timing
  backend.fill(to.data(), 0.0f, count);
  c.copy_bytes = count * sizeof(float);
  c.copy_ms = median_ms(backend, repeats, [&] { backend.copy_within(to.data(), from.data(), c.copy_bytes); });
}

// Compute: C = A B^T with m = n = k = size through Backend::gemm, the call and the orientation of the model's
// forward GEMMs, in the precision set on the backend. The operands are random in [-1, 1) (a constant operand can
// draw less power and clock higher); under bf16 they are converted to bfloat16 and the GEMM is gemm_bf16, as Mlp's.
void measure_gemm_ceiling(Backend& backend, int size, Precision precision, int repeats, Ceilings& c) {
  const std::size_t count = std::size_t(size) * size;
  std::vector<float> host(count);
  std::minstd_rand random(12345);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (float& v : host) v = uniform(random);
  BackendBuffer<float> a(backend, count, "gemm ceiling A"), b(backend, count, "gemm ceiling B"),
      out(backend, count, "gemm ceiling C");
  backend.copy_to_backend(a.data(), host.data(), a.bytes());
  std::reverse(host.begin(), host.end());  // B differs from A
  backend.copy_to_backend(b.data(), host.data(), b.bytes());
  c.gemm_size = size;
  if (precision == Precision::bf16) {
    c.gemm_op = "Backend::gemm_bf16(A, B^T)";
    BackendBuffer<bfloat16> a16(backend, count, "gemm ceiling A"), b16(backend, count, "gemm ceiling B");
    backend.convert_to_bf16(a.data(), size, size, size, a16.data(), size);
    backend.convert_to_bf16(b.data(), size, size, size, b16.data(), size);
    c.gemm_ms = median_ms(backend, repeats, [&] {
      backend.gemm_bf16(false, true, size, size, size, 1.0f, a16.data(), size, b16.data(), size, 0.0f, out.data(), size);
    });
    return;
  }
  c.gemm_ms = median_ms(backend, repeats, [&] {
    backend.gemm(false, true, size, size, size, 1.0f, a.data(), size, b.data(), size, 0.0f, out.data(), size);
  });
}

// ---- what each op moves or computes, counted from the shapes -------------------------------------------------
// Bytes: every float (4 bytes) or index (4 bytes) the op must read from or write to backend memory, each counted
// once per pass, as if nothing stayed in a cache between passes; parameters smaller than a row (biases) counted
// too. Rates above the copy ceiling therefore mean that part of the traffic was served from a cache.
// FLOPs: 2 m n k per GEMM (a multiply and an add); element-wise work is not counted.

constexpr double kFloat = 4;  // bytes per float and per uint32 index

// The GEMMs of one training step: forward X W^T for every layer, the weight gradient dZ^T X for every layer, and
// the input gradient dZ W for every layer but the first (its input is the data: no gradient is formed).
// Each is 2 * batch * in * out FLOPs.
int step_gemm_calls(const MlpSpec& spec) { return 2 * spec.layers() + (spec.layers() - 1); }
double step_gemm_flop(const MlpSpec& spec, int batch) {
  double flop = 0;
  for (int l = 0; l < spec.layers(); ++l)
    flop += (l > 0 ? 3.0 : 2.0) * 2.0 * batch * spec.in_width(l) * spec.out_width(l);
  return flop;
}

// The forward GEMMs over `rows` rows (the evaluation): 2 * rows * in * out per layer.
double forward_flop(const MlpSpec& spec, std::int64_t rows) {
  double flop = 0;
  for (int l = 0; l < spec.layers(); ++l) flop += 2.0 * double(rows) * spec.in_width(l) * spec.out_width(l);
  return flop;
}

// Bytes per stored activation and activation gradient: float32, or bfloat16 under bf16 (z and the float32
// gradient that the backward GEMM writes stay float32).
double stored_bytes(bool bf16) { return bf16 ? 2.0 : kFloat; }

// Bias + activation (+ dropout, whose mask is computed, not loaded) over the hidden layers: per layer read z
// (batch x width, float32), read the bias (width), write a (batch x width, stored).
double elementwise_forward_bytes(const MlpSpec& spec, int batch, bool bf16) {
  double bytes = 0;
  for (int l = 0; l + 1 < spec.layers(); ++l)
    bytes += (double(batch) * (kFloat + stored_bytes(bf16)) + kFloat) * spec.out_width(l);
  return bytes;
}

// activation' (+ dropout) over the hidden layers, in place: per layer read the gradient and the stored output,
// write the gradient: 3 x batch x width floats.
double elementwise_backward_bytes(const MlpSpec& spec, int batch) {
  double bytes = 0;
  for (int l = 0; l + 1 < spec.layers(); ++l) bytes += 3.0 * batch * spec.out_width(l) * kFloat;
  return bytes;
}

// Bias gradients of every layer in a pass of their own: read the gradient (batch x width), write width sums.
double bias_gradient_bytes(const MlpSpec& spec, int batch) {
  double bytes = 0;
  for (int l = 0; l < spec.layers(); ++l) bytes += (double(batch) + 1) * spec.out_width(l) * kFloat;
  return bytes;
}

// The backward pass of the hidden layers that also sums their bias gradients: per layer read the float32 gradient
// and the stored output, write the gradient (float32 in place, or bfloat16), plus width sums written.
double fused_backward_bytes(const MlpSpec& spec, int batch, bool bf16) {
  double bytes = 0;
  for (int l = 0; l + 1 < spec.layers(); ++l)
    bytes += (double(batch) * (kFloat + 2.0 * stored_bytes(bf16)) + kFloat) * spec.out_width(l);
  return bytes;
}

// One optimiser step over P parameters: Adam and AdamW read p, g, m, v and write p, m, v (7 floats per
// parameter); SGD with momentum reads p, g, m and writes p, m (5); plain SGD reads p, g and writes p (3).
double optimizer_bytes(const OptimizerConfig& config, std::size_t parameters) {
  const double floats = config.kind == OptimizerKind::sgd ? (config.momentum != 0 ? 5.0 : 3.0) : 7.0;
  return floats * double(parameters) * kFloat;
}
std::string optimizer_counting(const OptimizerConfig& config) {
  if (config.kind != OptimizerKind::sgd) return "Adam(W): read p, g, m, v, write p, m, v";
  return config.momentum != 0 ? "SGD: read p, g, m, write p, m" : "SGD: read p, g, write p";
}

// The epoch permutation: only its output, n indices written once. A floor: the sort behind it (keys made, then
// several radix passes over keys and values) moves many times this, so its fraction of the copy ceiling is a
// lower bound on the bandwidth the sort uses.
double permutation_bytes(std::int64_t rows) { return double(rows) * kFloat; }

// The gathers of one epoch: every training row's ld floats and its label read and written, and its index read.
double gather_bytes(std::int64_t rows, int ld) { return double(rows) * ((ld + 1) * kFloat * 2 + kFloat); }

// ---- the report ----------------------------------------------------------------------------------------------

enum class CeilingKind { copy, gemm };

// One op's row: its median time and what it moves (bytes, against the copy ceiling) or computes (FLOPs, against
// the GEMM ceiling).
struct OpRow {
  std::string name;
  double ms = 0;
  CeilingKind ceiling = CeilingKind::copy;
  double amount = 0;  // bytes read + written, or FLOPs
  std::string counting;  // the counting rule, in words
};

// GB/s for bytes, TFLOP/s for FLOPs.
double rate(const OpRow& r) { return r.amount / r.ms / (r.ceiling == CeilingKind::copy ? 1e6 : 1e9); }
double ceiling_rate(const OpRow& r, const Ceilings& c) {
  return r.ceiling == CeilingKind::copy ? c.copy_gb_per_s() : c.gemm_tflop_per_s();
}
double fraction_of_ceiling(const OpRow& r, const Ceilings& c) { return rate(r) / ceiling_rate(r, c); }

std::vector<OpRow> op_rows(const StepTimes& t, const StepBench& b, std::int64_t test_rows) {
  const MlpSpec& spec = b.spec;
  const int batch = b.batch;
  const bool bf16 = b.bf16();
  const std::string gemm_name = "GEMMs of one step (" + std::to_string(step_gemm_calls(spec)) + " calls)";
  std::vector<OpRow> rows = {
      {gemm_name, t.gemm, CeilingKind::gemm, step_gemm_flop(spec, batch), "2*batch*in*out per GEMM"},
      {"whole training step", t.step, CeilingKind::gemm, step_gemm_flop(spec, batch),
       "its GEMMs' FLOPs only (element-wise work not counted)"},
      {"training step, weight gradients overlapped", t.overlapped_step, CeilingKind::gemm,
       step_gemm_flop(spec, batch), "--overlap-weight-gradients: a second stream on CUDA (GEMM FLOPs only)"},
      {"training step, captured (--cuda-graphs)", t.captured_step, CeilingKind::gemm,
       step_gemm_flop(spec, batch), "its GEMMs' FLOPs only (element-wise work not counted)"},
      {"test evaluation (forward + loss + AUC)", t.eval, CeilingKind::gemm, forward_flop(spec, test_rows),
       "forward GEMMs only: 2*test_rows*in*out per layer"},
      {b.mlp.fused() ? "  forward pass (fused, training)" : "  forward pass (training)", t.forward_pass,
       CeilingKind::gemm, forward_flop(spec, batch), "2*batch*in*out per layer"},
      {b.mlp.fused() ? "  backward pass (fused chain + dW GEMMs)" : "  backward pass", t.backward_pass,
       CeilingKind::gemm, step_gemm_flop(spec, batch) - forward_flop(spec, batch),
       "dW of every layer, d(input) of every layer but the first"},
      {"  element-wise forward (hidden layers)", t.forward_elementwise, CeilingKind::copy,
       elementwise_forward_bytes(spec, batch, bf16), bf16 ? "read z and bias, write a (bfloat16)" : "read z and bias, write a"},
      {"  element-wise backward (hidden layers)", t.backward_elementwise, CeilingKind::copy,
       elementwise_backward_bytes(spec, batch), "read gradient and output, write gradient"},
      {"  bias gradients (all layers, own pass)", t.bias_gradient, CeilingKind::copy, bias_gradient_bytes(spec, batch),
       "read gradient, write the sums"},
      {"  backward with bias gradients (as trained)", t.fused_backward, CeilingKind::copy,
       fused_backward_bytes(spec, batch, bf16),
       bf16 ? "read gradient and output (bfloat16), write gradient (bfloat16) and sums"
            : "read gradient and output, write gradient and sums"},
      {"  optimiser update", t.optimizer, CeilingKind::copy, optimizer_bytes(kBenchOptimizer, spec.parameter_count()),
       optimizer_counting(kBenchOptimizer)},
      {"epoch permutation", t.perm, CeilingKind::copy, permutation_bytes(b.train.rows),
       "floor: the output indices written once"},
      {"gathers of one epoch", t.gather, CeilingKind::copy, gather_bytes(b.train.rows, b.ld),
       "rows and labels read and written, indices read"},
  };
  if (!std::isnan(t.all_reduce))
    rows.push_back({"gradient all-reduce (" + t.communicator + ", 1 rank)", t.all_reduce, CeilingKind::copy,
                    double(spec.parameter_count()) * kFloat * 2, "the gradient vector read and written once"});
  // An op the precision's step does not run (bf16: the element-wise backward alone) has no time.
  rows.erase(std::remove_if(rows.begin(), rows.end(), [](const OpRow& r) { return std::isnan(r.ms); }), rows.end());
  return rows;
}

// The epoch estimate from the pieces: every step, one evaluation per 100 steps, the permutation and the gathers.
struct EpochSummary {
  double gemm_s = 0, step_s = 0, eval_s = 0, predicted_s = 0;
};

EpochSummary epoch_summary(const StepTimes& t, std::int64_t batches) {
  EpochSummary s;
  const double evals_per_epoch = double(batches) / 100.0;
  s.gemm_s = t.gemm * batches / 1e3;
  s.step_s = t.step * batches / 1e3;
  s.eval_s = t.eval * evals_per_epoch / 1e3;
  s.predicted_s = (t.step * batches + t.eval * evals_per_epoch + t.perm + t.gather) / 1e3;
  return s;
}

// The columns of every row: name, median, what it moves or computes, the rate, the fraction of the ceiling.
void print_header() {
  std::printf("%-44s %13s %18s %19s  %s\n", "", "median", "moved / computed", "achieved", "of ceiling");
}

void print_ceilings(const Ceilings& c) {
  char copy[64], gemm[64];
  std::snprintf(copy, sizeof copy, "ceiling: copy of %.0f MiB", double(c.copy_bytes) / (1 << 20));
  std::snprintf(gemm, sizeof gemm, "ceiling: GEMM %d x %d x %d", c.gemm_size, c.gemm_size, c.gemm_size);
  std::printf("%-44s %10.3f ms %12.3f MB    %11.3f GB/s   \n", copy, c.copy_ms, c.copy_traffic() / 1e6,
              c.copy_gb_per_s());
  std::printf("%-44s %10.3f ms %12.3f GFLOP %11.3f TFLOP/s\n", gemm, c.gemm_ms, c.gemm_flop() / 1e9,
              c.gemm_tflop_per_s());
}

void print_op_rows(const std::vector<OpRow>& rows, const Ceilings& c) {
  for (const OpRow& r : rows) {
    const bool bytes = r.ceiling == CeilingKind::copy;
    std::printf("%-44s %10.3f ms %12.3f %s %11.3f %s %6.1f%% of %s\n", r.name.c_str(), r.ms,
                bytes ? r.amount / 1e6 : r.amount / 1e9, bytes ? "MB   " : "GFLOP", rate(r),
                bytes ? "GB/s   " : "TFLOP/s", 100 * fraction_of_ceiling(r, c), bytes ? "copy" : "GEMM");
  }
}

void print_summary(const StepTimes& t, const EpochSummary& s, std::int64_t batches) {
  std::printf("%-44s %10.3f s/epoch\n", "GEMMs of one step, every step", s.gemm_s);
  std::printf("%-44s %10.3f s/epoch\n", "training steps", s.step_s);
  std::printf("%-44s %10.3f s/epoch (one per 100 steps)\n", "test evaluations", s.eval_s);
  std::printf("%-44s %10.3f s/epoch (step %.3f ms x %lld + evaluations + permutation + gathers)\n", "predicted epoch",
              s.predicted_s, t.step, static_cast<long long>(batches));
}

// ---- JSON ------------------------------------------------------------------------------------------------------

nlohmann::json shapes_json(const StepBenchFlags& f, const StepBench& b, std::int64_t batches) {
  const MlpSpec& spec = b.spec;
  nlohmann::json layers = nlohmann::json::array();
  for (int l = 0; l < spec.layers(); ++l) layers.push_back({{"in", spec.in_width(l)}, {"out", spec.out_width(l)}});
  return {{"train_rows", b.train.rows}, {"test_rows", b.test.rows}, {"batch_size", f.batch},
          {"steps_per_epoch", batches}, {"inputs", spec.inputs}, {"input_ld", b.ld}, {"hidden", spec.hidden},
          {"outputs", spec.outputs}, {"layers", layers}, {"parameters", spec.parameter_count()}};
}

nlohmann::json ceilings_json(const Ceilings& c) {
  return {{"copy", {{"bytes_copied", c.copy_bytes}, {"bytes_moved", c.copy_traffic()}, {"ms", c.copy_ms},
                    {"gb_per_s", c.copy_gb_per_s()}, {"op", "Backend::copy_within"}}},
          {"gemm", {{"m", c.gemm_size}, {"n", c.gemm_size}, {"k", c.gemm_size}, {"flop", c.gemm_flop()},
                    {"ms", c.gemm_ms}, {"tflop_per_s", c.gemm_tflop_per_s()}, {"op", c.gemm_op}}}};
}

// A number, or null where it is not finite (JSON has no NaN or infinity).
nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json op_json(const OpRow& r, const Ceilings& c) {
  const bool bytes = r.ceiling == CeilingKind::copy;
  nlohmann::json j{{"name", r.name.substr(r.name.find_first_not_of(' '))}, {"ms", r.ms},
                   {"ceiling", bytes ? "copy" : "gemm"}, {"counting", r.counting}};
  j[bytes ? "bytes" : "flop"] = r.amount;
  j[bytes ? "gb_per_s" : "tflop_per_s"] = number_or_null(rate(r));
  j["fraction_of_ceiling"] = number_or_null(fraction_of_ceiling(r, c));
  return j;
}

void write_json(const std::string& path, const StepBenchFlags& f, const Backend& backend, const StepBench& b,
                std::int64_t batches, const Ceilings& c, const std::vector<OpRow>& rows, const EpochSummary& s) {
  nlohmann::json j;
  j["tool"] = "bench_step";
  j["device"] = backend.device_name();
  j["backend"] = backend.kind();
  j["precision"] = f.precision;
  j["gemm"] = f.gemm;
  j["fused_mlp"] = f.fused_mlp;
  j["repeats"] = f.repeats;
  j["timing"] = "median of the repeats, host clock around Backend::synchronize, after one warm-up run";
  j["shapes"] = shapes_json(f, b, batches);
  j["ceilings"] = ceilings_json(c);
  nlohmann::json ops = nlohmann::json::array();
  for (const OpRow& r : rows) ops.push_back(op_json(r, c));
  j["ops"] = ops;
  j["gemm_plans"] = cli::gemm_plans_json(backend.gemm_plans());
  j["summary"] = {{"gemm_s_per_epoch", s.gemm_s}, {"step_s_per_epoch", s.step_s},
                  {"evaluation_s_per_epoch", s.eval_s}, {"predicted_epoch_s", s.predicted_s}};
  std::ofstream out(path);
  FASTTAB_REQUIRE(out, "--json: cannot write ", path);
  out << j.dump(1) << "\n";
  FASTTAB_REQUIRE(out.good(), "--json: writing ", path, " failed");
}

// The ceilings' sizes: the flags, else defaults far larger than the caches of either backend.
// On the CPU a GEMM of n = 32768 (70 TFLOP) would run for hours: --gemm-size is bounded there.
int gemm_ceiling_size(const StepBenchFlags& f, const Backend& backend) {
  const bool cuda = std::string(backend.kind()) == "cuda";
  constexpr int kCpuMaxGemmSize = 4096;
  FASTTAB_REQUIRE(cuda || f.gemm_size <= kCpuMaxGemmSize, "--gemm-size ", f.gemm_size, ": at most ",
                  kCpuMaxGemmSize, " on the CPU backend (2 n^3 FLOP: ", 2e-12 * double(f.gemm_size) * f.gemm_size *
                  f.gemm_size, " TFLOP would take hours there)");
  return f.gemm_size > 0 ? f.gemm_size : cuda ? 8192 : 2048;
}
std::size_t copy_ceiling_bytes(const StepBenchFlags& f, const Backend& backend) {
  return std::size_t(f.copy_mib > 0 ? f.copy_mib : std::string(backend.kind()) == "cuda" ? 1024 : 256) << 20;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fasttab bench_step: the cost of each part of a training epoch, against the card's ceilings"};
  StepBenchFlags f;
  add_step_bench_flags(app, f);
  CLI11_PARSE(app, argc, argv);
  try {
    cli::check_writable("--json", f.json);  // before the run: a directory that exists and can be written
    FASTTAB_REQUIRE(!f.all_reduce || launcher_world_size() <= 1, "bench_step --all-reduce times a one-rank "
                    "communicator: run it without mpirun");
    FASTTAB_REQUIRE(f.train_rows >= f.batch, "--train-rows ", f.train_rows, " is fewer than one --batch-size (",
                    f.batch, "): the step runs on the first batch of the training rows");
    const Precision precision = parse_name<Precision>(f.precision, "--precision");
    if (f.fused_mlp) {  // refused now, not after the ceilings and the data
      const std::string refusal = fused_mlp_settings_error(precision, 1);
      FASTTAB_REQUIRE(refusal.empty(), refusal);
    }
    auto backend = make_backend(parse_name<DeviceChoice>(f.device, "--device"));
    backend->set_precision(precision);
    backend->set_gemm_library(parse_name<GemmLibrary>(f.gemm, "--gemm"));
    MlpSpec spec;
    spec.hidden = f.hidden;
    const std::int64_t batches = (f.train_rows + f.batch - 1) / f.batch;
    std::printf("bench_step on %s (%s), precision %s, GEMMs by %s%s\n", backend->device_name().c_str(),
                backend->kind(), f.precision.c_str(), f.gemm.c_str(), f.fused_mlp ? ", the fused MLP passes" : "");
    std::printf("batch %d, MLP %d", f.batch, spec.inputs);
    for (int h : f.hidden) std::printf("-%d", h);
    std::printf("-%d, %lld training rows (%lld steps/epoch), %lld test rows; median of %d runs\n", spec.outputs,
                static_cast<long long>(f.train_rows), static_cast<long long>(batches),
                static_cast<long long>(f.test_rows), f.repeats);

    Ceilings ceilings;
    measure_copy_ceiling(*backend, copy_ceiling_bytes(f, *backend), f.repeats, ceilings);
    measure_gemm_ceiling(*backend, gemm_ceiling_size(f, *backend), precision, f.repeats, ceilings);
    print_header();
    print_ceilings(ceilings);

    // Inputs: random, never zeros.
    SyntheticSpec s;
    s.rows = f.train_rows + f.test_rows;
    SyntheticData data = make_synthetic(s);
    const Dataset d = split_train_test(std::move(data.table), f.test_rows, "synthetic");
    StepBench bench(*backend, spec, d, f.batch, precision, f.fused_mlp);
    StepTimes times;
    time_step(bench, f.repeats, times);
    time_step_parts(bench, f.repeats, times);
    time_epoch_parts(bench, f.repeats, batches, times);
    if (f.all_reduce) time_all_reduce(bench, f.repeats, times);

    const std::vector<OpRow> rows = op_rows(times, bench, bench.test.rows);
    const EpochSummary summary = epoch_summary(times, batches);
    print_op_rows(rows, ceilings);
    print_summary(times, summary, batches);
    cli::print_gemm_plans(backend->gemm_plans(), stdout);
    if (!f.json.empty()) {
      write_json(f.json, f, *backend, bench, batches, ceilings, rows, summary);
      std::printf("json: %s\n", f.json.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
