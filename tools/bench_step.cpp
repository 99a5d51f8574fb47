// build/bench_step: where the time of a training epoch goes, measured piece by piece on the chosen backend.
// Prints, with the device name: the 15-GEMM floor of one step, one whole training step, the evaluation of the
// test set, the epoch permutation and an epoch of gathers, each the median of repeated runs
// (host clock around backend.synchronize(): throughput figures, launch gaps included).
#include <algorithm>
#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "fasttab/fasttab.hpp"
#include "fasttab/names.hpp"

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
  std::string device = "auto", precision = "fp32";
  std::vector<int> hidden = {300, 300, 300, 300};
};

void add_step_bench_flags(CLI::App& app, StepBenchFlags& f) {
  app.add_option("--train-rows", f.train_rows, "training rows")->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 31));
  app.add_option("--test-rows", f.test_rows, "test rows")->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 31));
  app.add_option("--batch-size", f.batch, "rows per batch")->check(CLI::Range(1, 1 << 24));
  app.add_option("--hidden", f.hidden, "hidden widths")->delimiter(',')->check(CLI::Range(1, 65536));
  app.add_option("--repeats", f.repeats, "timed repetitions (median reported)")->check(CLI::Range(1, 100000));
  app.add_option("--device", f.device, name_list<DeviceChoice>())->check(CLI::IsMember(name_map<DeviceChoice>()));
  app.add_option("--precision", f.precision, name_list<Precision>())->check(CLI::IsMember(name_map<Precision>()));
}

// The resident tables, the model, its optimiser and the buffers every measurement uses.
struct StepBench {
  StepBench(Backend& b, const MlpSpec& s, const Dataset& d, int batch_rows, Precision precision)
      : backend(b), spec(s), ld(padded_width(s.inputs)), batch(batch_rows),
        train(upload_table(b, d.train, "training table")), test(upload_table(b, d.test, "test table")),
        mlp(b, s, batch_rows, precision), opt(b, OptimizerConfig{}, ScheduleConfig{}, s.parameter_count(), 1 << 30),
        grad(b, std::size_t(batch_rows), "grad"), loss(b, 1, "loss"),
        outputs(b, std::size_t(test.rows), "test outputs"),
        scratch(b, std::size_t(batch_rows) * s.max_width() * 2, "gemm scratch"),
        perm(b, std::size_t(train.rows), "permutation"), bx(b, std::size_t(batch_rows) * ld, "batch"),
        by(b, std::size_t(batch_rows), "batch") {
    mlp.set_parameters(initial_parameters(spec, 1));
  }
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
};

// Milliseconds of each piece.
struct StepTimes {
  double gemm = 0, step = 0, forward_elementwise = 0, backward_elementwise = 0, fused_backward = 0,
         bias_gradient = 0, optimizer = 0, eval = 0, perm = 0, gather = 0;
};

// 1. The GEMMs of one step alone (forward 5, backward dW 5 and dX 4), on the model's own buffers; 2. one whole
// training step on a resident batch.
void time_step(StepBench& b, int repeats, StepTimes& t) {
  Backend* const backend = &b.backend;
  const MlpSpec& spec = b.spec;
  const int batch = b.batch, ld = b.ld;
  t.gemm = median_ms(*backend, repeats, [&] {
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
  t.step = median_ms(*backend, repeats, [&] {
    const DropoutKey key{1, step++, 0};
    const float* out = b.mlp.forward(b.train.features.data(), ld, batch, true, key);
    backend->loss_forward_backward(Task::binary, out, batch, 1, 1, b.train.labels.data(), b.grad.data(), b.loss.data());
    b.mlp.backward(b.train.features.data(), ld, batch, b.grad.data(), key);
    b.opt.step(b.mlp.parameters(), b.mlp.gradients());
  });
}

// 2b. The element-wise parts of one step, alone, on the same shapes (hidden layers only), and the optimiser.
void time_step_parts(StepBench& b, int repeats, StepTimes& t) {
  Backend* const backend = &b.backend;
  const MlpSpec& spec = b.spec;
  Mlp& mlp = b.mlp;
  const int batch = b.batch;
  float* act = b.scratch.data();
  float* act_grad = b.scratch.data() + std::size_t(batch) * spec.max_width();
  backend->fill(act, 0.25f, std::size_t(batch) * spec.max_width());
  backend->fill(act_grad, 0.5f, std::size_t(batch) * spec.max_width());
  t.forward_elementwise = median_ms(*backend, repeats, [&] {
    for (int l = 0; l + 1 < spec.layers(); ++l)
      backend->bias_activation_dropout_forward(act, batch, spec.out_width(l), spec.out_width(l),
                                               mlp.parameters() + spec.bias_offset(l), spec.activation,
                                               spec.dropout_after(l), DropoutKey{1, 2, std::uint32_t(l)});
  });
  t.backward_elementwise = median_ms(*backend, repeats, [&] {
    for (int l = 0; l + 1 < spec.layers(); ++l)
      backend->activation_dropout_backward(act_grad, act, batch, spec.out_width(l), spec.out_width(l), spec.activation,
                                           spec.dropout_after(l), DropoutKey{1, 2, std::uint32_t(l)});
  });
  t.fused_backward = median_ms(*backend, repeats, [&] {
    for (int l = 0; l + 1 < spec.layers(); ++l)
      backend->activation_dropout_backward_bias_gradient(act_grad, act, batch, spec.out_width(l), spec.out_width(l),
                                                         spec.activation, spec.dropout_after(l),
                                                         DropoutKey{1, 2, std::uint32_t(l)},
                                                         mlp.gradients() + spec.bias_offset(l));
  });
  t.bias_gradient = median_ms(*backend, repeats, [&] {
    for (int l = 0; l < spec.layers(); ++l)
      backend->bias_gradient(act_grad, batch, spec.out_width(l), spec.out_width(l), mlp.gradients() + spec.bias_offset(l));
  });
  t.optimizer = median_ms(*backend, repeats, [&] { b.opt.step(mlp.parameters(), mlp.gradients()); });
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

void print_step_times(const StepTimes& t, std::int64_t batches, std::int64_t train_rows, int ld) {
  const double gather_bytes = double(train_rows) * (ld + 1) * 4 * 2 + double(train_rows) * 4;  // read + write + indices
  const double evals_per_epoch = double(batches) / 100.0;
  std::printf("%-44s %10.3f ms  (%.3f s/epoch)\n", "GEMMs of one step (14 calls)", t.gemm, t.gemm * batches / 1e3);
  std::printf("%-44s %10.3f ms  (%.3f s/epoch)\n", "whole training step", t.step, t.step * batches / 1e3);
  std::printf("%-44s %10.3f ms  (%.3f s/epoch at one per 100 steps)\n", "test evaluation (forward + loss + AUC)", t.eval,
              t.eval * evals_per_epoch / 1e3);
  std::printf("%-44s %10.3f ms\n", "  element-wise forward (hidden layers)", t.forward_elementwise);
  std::printf("%-44s %10.3f ms\n", "  element-wise backward (hidden layers)", t.backward_elementwise);
  std::printf("%-44s %10.3f ms\n", "  bias gradients (all layers, own pass)", t.bias_gradient);
  std::printf("%-44s %10.3f ms\n", "  backward with bias gradients (as trained)", t.fused_backward);
  std::printf("%-44s %10.3f ms\n", "  optimiser update", t.optimizer);
  std::printf("%-44s %10.3f ms\n", "epoch permutation", t.perm);
  std::printf("%-44s %10.3f ms  (%.0f GB/s)\n", "gathers of one epoch", t.gather, gather_bytes / t.gather / 1e6);
  std::printf("%-44s %10.3f s/epoch (step x %lld + evaluations + permutation + gathers)\n", "predicted epoch",
              (t.step * batches + t.eval * evals_per_epoch + t.perm + t.gather) / 1e3, static_cast<long long>(batches));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fasttab bench_step: the cost of each part of a training epoch"};
  StepBenchFlags f;
  add_step_bench_flags(app, f);
  CLI11_PARSE(app, argc, argv);
  try {
    auto backend = make_backend(parse_name<DeviceChoice>(f.device, "--device"));
    const Precision precision = parse_name<Precision>(f.precision, "--precision");
    backend->set_precision(precision);
    MlpSpec spec;
    spec.hidden = f.hidden;
    const std::int64_t batches = (f.train_rows + f.batch - 1) / f.batch;
    std::printf("bench_step on %s (%s), %s, batch %d, hidden", backend->device_name().c_str(), backend->kind(),
                f.precision.c_str(), f.batch);
    for (int h : f.hidden) std::printf(" %d", h);
    std::printf(", %lld training rows (%lld steps/epoch), %lld test rows\n", static_cast<long long>(f.train_rows),
                static_cast<long long>(batches), static_cast<long long>(f.test_rows));

    // Inputs: random, never zeros.
    SyntheticSpec s;
    s.rows = f.train_rows + f.test_rows;
    SyntheticData data = make_synthetic(s);
    const Dataset d = split_train_test(std::move(data.table), f.test_rows, "synthetic");
    StepBench bench(*backend, spec, d, f.batch, precision);
    StepTimes times;
    time_step(bench, f.repeats, times);
    time_step_parts(bench, f.repeats, times);
    time_epoch_parts(bench, f.repeats, batches, times);
    print_step_times(times, batches, bench.train.rows, bench.ld);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
