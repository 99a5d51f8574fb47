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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fasttab bench_step: the cost of each part of a training epoch"};
  std::int64_t train_rows = 10'500'000, test_rows = 500'000;
  int batch = 16384, repeats = 20;
  std::string device = "auto", precision = "fp32";
  std::vector<int> hidden = {300, 300, 300, 300};
  app.add_option("--train-rows", train_rows, "training rows")->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 31));
  app.add_option("--test-rows", test_rows, "test rows")->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 31));
  app.add_option("--batch-size", batch, "rows per batch")->check(CLI::Range(1, 1 << 24));
  app.add_option("--hidden", hidden, "hidden widths")->delimiter(',')->check(CLI::Range(1, 65536));
  app.add_option("--repeats", repeats, "timed repetitions (median reported)")->check(CLI::Range(1, 100000));
  app.add_option("--device", device, name_list<DeviceChoice>())->check(CLI::IsMember(name_map<DeviceChoice>()));
  app.add_option("--precision", precision, name_list<Precision>())->check(CLI::IsMember(name_map<Precision>()));
  CLI11_PARSE(app, argc, argv);
  try {
    auto backend = make_backend(parse_name<DeviceChoice>(device, "--device"));
    backend->set_precision(parse_name<Precision>(precision, "--precision"));
    MlpSpec spec;
    spec.hidden = hidden;
    const int ld = padded_width(spec.inputs);
    const std::int64_t batches = (train_rows + batch - 1) / batch;
    std::printf("bench_step on %s (%s), %s, batch %d, hidden", backend->device_name().c_str(), backend->kind(),
                precision.c_str(), batch);
    for (int h : hidden) std::printf(" %d", h);
    std::printf(", %lld training rows (%lld steps/epoch), %lld test rows\n", static_cast<long long>(train_rows),
                static_cast<long long>(batches), static_cast<long long>(test_rows));

    // Inputs: random, never zeros.
    SyntheticSpec s;
    s.rows = train_rows + test_rows;
    SyntheticData data = make_synthetic(s);
    Dataset d = split_train_test(std::move(data.table), test_rows, "synthetic");
    DeviceTable train = upload_table(*backend, d.train, "training table");
    DeviceTable test = upload_table(*backend, d.test, "test table");

    Mlp mlp(*backend, spec, batch);
    mlp.set_parameters(initial_parameters(spec, 1));
    Optimizer opt(*backend, OptimizerConfig{}, ScheduleConfig{}, spec.parameter_count(), 1 << 30);
    BackendBuffer<float> grad(*backend, std::size_t(batch), "grad"), loss(*backend, 1, "loss"),
        outputs(*backend, std::size_t(test.rows), "test outputs");
    BackendBuffer<float> scratch(*backend, std::size_t(batch) * spec.max_width() * 2, "gemm scratch");
    BackendBuffer<std::uint32_t> perm(*backend, std::size_t(train.rows), "permutation");
    BackendBuffer<float> bx(*backend, std::size_t(batch) * ld, "batch"), by(*backend, std::size_t(batch), "batch");

    // 1. The GEMMs of one step alone (forward 5, backward dW 5 and dX 4), on the model's own buffers.
    const double gemm_ms = median_ms(*backend, repeats, [&] {
      float* a = scratch.data();
      float* b = scratch.data() + std::size_t(batch) * spec.max_width();
      const float* w = mlp.parameters();
      float* dw = mlp.gradients();
      for (int l = 0; l < spec.layers(); ++l) {
        const int in = spec.in_width(l), out = spec.out_width(l);
        const float* x = l == 0 ? train.features.data() : a;
        backend->gemm(false, true, batch, out, in, 1.0f, x, l == 0 ? ld : in, w + spec.weight_offset(l), in, 0.0f, b, out);
        backend->gemm(true, false, out, in, batch, 1.0f, b, out, x, l == 0 ? ld : in, 0.0f, dw + spec.weight_offset(l), in);
        if (l > 0) backend->gemm(false, false, batch, in, out, 1.0f, b, out, w + spec.weight_offset(l), in, 0.0f, a, in);
      }
    });
    // 2. One whole training step on a resident batch.
    std::uint32_t step = 0;
    const double step_ms = median_ms(*backend, repeats, [&] {
      const DropoutKey key{1, step++, 0};
      const float* out = mlp.forward(train.features.data(), ld, batch, true, key);
      backend->loss_forward_backward(Task::binary, out, batch, 1, 1, train.labels.data(), grad.data(), loss.data());
      mlp.backward(train.features.data(), ld, batch, grad.data(), key);
      opt.step(mlp.parameters(), mlp.gradients());
    });
    // 2b. The element-wise parts of one step, alone, on the same shapes (hidden layers only).
    float* act = scratch.data();
    float* act_grad = scratch.data() + std::size_t(batch) * spec.max_width();
    backend->fill(act, 0.25f, std::size_t(batch) * spec.max_width());
    backend->fill(act_grad, 0.5f, std::size_t(batch) * spec.max_width());
    const double forward_elementwise_ms = median_ms(*backend, repeats, [&] {
      for (int l = 0; l + 1 < spec.layers(); ++l)
        backend->bias_activation_dropout_forward(act, batch, spec.out_width(l), spec.out_width(l),
                                                 mlp.parameters() + spec.bias_offset(l), spec.activation,
                                                 spec.dropout_after(l), DropoutKey{1, 2, std::uint32_t(l)});
    });
    const double backward_elementwise_ms = median_ms(*backend, repeats, [&] {
      for (int l = 0; l + 1 < spec.layers(); ++l)
        backend->activation_dropout_backward(act_grad, act, batch, spec.out_width(l), spec.out_width(l), spec.activation,
                                             spec.dropout_after(l), DropoutKey{1, 2, std::uint32_t(l)});
    });
    const double fused_backward_ms = median_ms(*backend, repeats, [&] {
      for (int l = 0; l + 1 < spec.layers(); ++l)
        backend->activation_dropout_backward_bias_gradient(act_grad, act, batch, spec.out_width(l), spec.out_width(l),
                                                           spec.activation, spec.dropout_after(l),
                                                           DropoutKey{1, 2, std::uint32_t(l)},
                                                           mlp.gradients() + spec.bias_offset(l));
    });
    const double bias_gradient_ms = median_ms(*backend, repeats, [&] {
      for (int l = 0; l < spec.layers(); ++l)
        backend->bias_gradient(act_grad, batch, spec.out_width(l), spec.out_width(l), mlp.gradients() + spec.bias_offset(l));
    });
    const double optimizer_ms = median_ms(*backend, repeats, [&] { opt.step(mlp.parameters(), mlp.gradients()); });
    // 3. Evaluation of the test set: forward in batches, then loss and exact AUC.
    const double eval_ms = median_ms(*backend, std::max(3, repeats / 4), [&] {
      mlp.forward_rows(test.features.data(), ld, test.rows, outputs.data());
      backend->evaluate(Task::binary, outputs.data(), test.rows, 1, 1, test.labels.data());
    });
    // 4. The epoch's permutation, and 5. every batch's gather.
    std::uint32_t epoch = 0;
    const double perm_ms = median_ms(*backend, repeats, [&] {
      backend->random_permutation(7, epoch++, static_cast<std::uint32_t>(train.rows), perm.data());
    });
    const double gather_ms = median_ms(*backend, std::max(3, repeats / 4), [&] {
      for (std::int64_t b = 0; b < batches; ++b) {
        const std::int64_t first = b * batch;
        const int rows = static_cast<int>(std::min<std::int64_t>(batch, train.rows - first));
        backend->gather_rows(train.features.data(), ld, train.labels.data(), perm.data() + first, rows, bx.data(), by.data());
      }
    });
    const double gather_bytes = double(train.rows) * (ld + 1) * 4 * 2 + double(train.rows) * 4;  // read + write + indices
    const double evals_per_epoch = double(batches) / 100.0;
    std::printf("%-44s %10.3f ms  (%.3f s/epoch)\n", "GEMMs of one step (14 calls)", gemm_ms, gemm_ms * batches / 1e3);
    std::printf("%-44s %10.3f ms  (%.3f s/epoch)\n", "whole training step", step_ms, step_ms * batches / 1e3);
    std::printf("%-44s %10.3f ms  (%.3f s/epoch at one per 100 steps)\n", "test evaluation (forward + loss + AUC)", eval_ms,
                eval_ms * evals_per_epoch / 1e3);
    std::printf("%-44s %10.3f ms\n", "  element-wise forward (hidden layers)", forward_elementwise_ms);
    std::printf("%-44s %10.3f ms\n", "  element-wise backward (hidden layers)", backward_elementwise_ms);
    std::printf("%-44s %10.3f ms\n", "  bias gradients (all layers, own pass)", bias_gradient_ms);
    std::printf("%-44s %10.3f ms\n", "  backward with bias gradients (as trained)", fused_backward_ms);
    std::printf("%-44s %10.3f ms\n", "  optimiser update", optimizer_ms);
    std::printf("%-44s %10.3f ms\n", "epoch permutation", perm_ms);
    std::printf("%-44s %10.3f ms  (%.0f GB/s)\n", "gathers of one epoch", gather_ms, gather_bytes / gather_ms / 1e6);
    std::printf("%-44s %10.3f s/epoch (step x %lld + evaluations + permutation + gathers)\n", "predicted epoch",
                (step_ms * batches + eval_ms * evals_per_epoch + perm_ms + gather_ms) / 1e3, static_cast<long long>(batches));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
