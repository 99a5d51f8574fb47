// build/bench_gemm: the GEMMs of one training step, each timed through the engine's cuBLAS call and through every
// algorithm cuBLASLt's heuristic offers for it (with a 32 MiB workspace), on the CUDA device. For issue 9, item 3:
// whether choosing cuBLASLt algorithms by timing would pay, and for which GEMMs (the weight gradients, 300 x 300
// outputs over k = the batch, are the suspects: few output tiles unless the algorithm splits k).
//
// Per GEMM: the engine's time under --gemm cublas (cublasSgemm under fp32/tf32, cublasGemmEx with bfloat16 inputs
// under bf16, as CudaBackend::gemm and gemm_bf16 call them), the heuristic's first algorithm (--gemm cublaslt, through
// the engine's own cuda/lt_matmul.cuh), and the fastest one, with its
// configuration (tile, stages, split-k, reduction scheme) and whether its result has the engine's bits (a choice
// by timing that changes the bits would change a run's results). Then the totals per step and per epoch, and the
// step's GEMMs back to back against the weight gradients on a second stream (item 3's other idea, as a bound). Every
// time is the median over --repeats timings of --inner back-to-back launches, by CUDA events. Row-major operands
// with the leading dimensions Mlp uses (bf16: rows padded to 8). --json writes it all.
//
// CUDA only: on a machine without a CUDA device it says so and exits 1.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <nlohmann/json.hpp>

#include "cuda/cuda_check.cuh"
#include "cuda/event_timer.cuh"
#include "cuda/lt_matmul.cuh"
#include "fasttab/fasttab.hpp"
#include "fasttab/names.hpp"
#include "host/backend/reference_math.hpp"
#include "tools/cli_common.hpp"

using namespace fasttab;

namespace {

struct GemmBenchFlags {
  int batch = 16384, inputs = 21, outputs = 1, repeats = 15, inner = 10, candidates = 8;
  std::int64_t train_rows = 10'500'000;
  std::vector<int> hidden = {300, 300, 300, 300};
  std::string precision = "bf16";
  std::string json;
};

// One GEMM of the step, as Mlp calls it: C[m, n] = op(A) op(B), row-major, leading dimensions lda, ldb, ldc.
struct GemmShape {
  std::string name;
  bool trans_a = false, trans_b = false;
  int m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
  double flop() const { return 2.0 * m * n * k; }
  int a_rows() const { return trans_a ? k : m; }
  int b_rows() const { return trans_b ? n : k; }
  // Elements of each operand as allocated (rows x leading dimension).
  std::size_t a_count() const { return std::size_t(a_rows()) * lda; }
  std::size_t b_count() const { return std::size_t(b_rows()) * ldb; }
  std::size_t c_count() const { return std::size_t(m) * ldc; }
};

// Refuses, before anything is allocated, shapes whose operands would not fit: on the device all the step's operands
// at once (the overlap measurement holds them together), plus the workspace; on the host the largest operand's
// random values (float32, and its bfloat16 copy).
void require_room(const std::vector<GemmShape>& gemms, bool bf16, std::size_t workspace) {
  const double in_bytes = bf16 ? 2.0 : 4.0;
  double device = double(workspace), host = 0;
  for (const GemmShape& g : gemms) {
    device += double(g.a_count() + g.b_count()) * in_bytes + double(g.c_count()) * 4.0;
    host = std::max(host, double(std::max({g.a_count(), g.b_count(), g.c_count()})) * (4.0 + in_bytes));
  }
  std::size_t free = 0, total = 0;
  CUDA_CHECK(cudaMemGetInfo(&free, &total));
  FASTTAB_REQUIRE(device <= double(free), "the step's GEMM operands need ", std::int64_t(device), " bytes of device "
                  "memory but only ", free, " are free; use a smaller --batch-size or --hidden");
  const double host_free = double(make_cpu_backend()->free_bytes());
  FASTTAB_REQUIRE(host <= host_free, "the largest GEMM operand needs ", std::int64_t(host), " bytes of host memory "
                  "to fill but only ", std::int64_t(host_free), " are available; use a smaller --batch-size or --hidden");
}

// The step's GEMMs (forward, weight gradient, input gradient but for the first layer), with Mlp's leading
// dimensions: the batch's rows are padded to 4 floats (fp32, tf32) or 8 bfloat16s (bf16), every bfloat16 buffer's
// rows to 8, float32 buffers of activations are their width.
std::vector<GemmShape> step_gemms(const GemmBenchFlags& f, bool bf16) {
  MlpSpec spec;
  spec.inputs = f.inputs;
  spec.hidden = f.hidden;
  spec.outputs = f.outputs;
  const int batch = f.batch;
  auto ld = [&](int width) { return bf16 ? Mlp::bf16_ld(width) : width; };
  const int ld_x = bf16 ? Mlp::bf16_ld(spec.inputs) : padded_width(spec.inputs);
  std::vector<GemmShape> gemms;
  for (int l = 0; l < spec.layers(); ++l) {
    const int in = spec.in_width(l), out = spec.out_width(l);
    const int ld_in = l == 0 ? ld_x : ld(in);
    const std::string layer = std::to_string(l);
    // forward: z[batch, out] = x[batch, in] W^T (W: [out, in])
    gemms.push_back({"forward " + layer, false, true, batch, out, in, ld_in, ld(in), out});
    // weight gradient: dW[out, in] = g[batch, out]^T x[batch, in]
    gemms.push_back({"weight gradient " + layer, true, false, out, in, batch, ld(out), ld_in, in});
    // input gradient: dA[batch, in] = g[batch, out] W
    if (l > 0) gemms.push_back({"input gradient " + layer, false, false, batch, in, out, ld(out), ld(in), in});
  }
  return gemms;
}

// Device buffers of random values in [-1, 1): float32, or converted to bfloat16 on the host.
struct DeviceOperand {
  void* data = nullptr;
  DeviceOperand(std::size_t count, bool bf16, std::uint32_t seed) {
    std::minstd_rand random(seed);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::vector<float> values(count);
    for (float& v : values) v = uniform(random);
    if (bf16) {
      std::vector<bfloat16> halves(count);
      for (std::size_t i = 0; i < count; ++i) halves[i] = reference::bf16_bits(values[i]);
      upload(halves.data(), count * sizeof(bfloat16));
    } else {
      upload(values.data(), count * sizeof(float));
    }
  }
  ~DeviceOperand() { cudaFree(data); }
  DeviceOperand(const DeviceOperand&) = delete;
  DeviceOperand& operator=(const DeviceOperand&) = delete;

 private:
  void upload(const void* host, std::size_t bytes) {
    CUDA_CHECK(cudaMalloc(&data, bytes));
    CUDA_CHECK(cudaMemcpy(data, host, bytes, cudaMemcpyHostToDevice));
    // From pageable memory cudaMemcpy may return before its DMA lands, and the GEMMs run on a non-blocking stream.
    CUDA_CHECK(cudaDeviceSynchronize());
  }
};

// The GEMM as cuda/lt_matmul.cuh describes it (operands from cudaMalloc: 256-byte aligned).
LtGemmShape lt_shape(const GemmShape& g, Precision precision) {
  LtGemmShape s;
  s.trans_a = g.trans_a, s.trans_b = g.trans_b;
  s.m = g.m, s.n = g.n, s.k = g.k, s.lda = g.lda, s.ldb = g.ldb, s.ldc = g.ldc;
  s.precision = precision;
  return s;
}

// The GPU's handles, stream, events and workspace.
struct Device {
  cudaStream_t stream = nullptr, side_stream = nullptr;  // the side stream: the overlap measurement's weight gradients
  cublasHandle_t cublas = nullptr, side_cublas = nullptr;
  cudaEvent_t fork = nullptr, join = nullptr;
  cublasLtHandle_t lt = nullptr;
  EventTimer timer;
  void* workspace = nullptr;
  static constexpr std::size_t kWorkspaceBytes = std::size_t(32) << 20;  // cuBLAS's advice for Hopper
  std::string name;
  explicit Device(Precision precision) {
    cudaDeviceProp props{};
    CUDA_CHECK(cudaGetDeviceProperties(&props, 0));
    name = props.name;
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasCreate(&cublas));
    CUBLAS_CHECK(cublasSetStream(cublas, stream));
    CUBLAS_CHECK(cublasSetMathMode(cublas, precision == Precision::tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    CUDA_CHECK(cudaStreamCreateWithFlags(&side_stream, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasCreate(&side_cublas));  // its own workspace: the two streams' GEMMs may run at once
    CUBLAS_CHECK(cublasSetStream(side_cublas, side_stream));
    CUBLAS_CHECK(cublasSetMathMode(side_cublas, precision == Precision::tf32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                                             : CUBLAS_DEFAULT_MATH));
    CUDA_CHECK(cudaEventCreateWithFlags(&fork, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&join, cudaEventDisableTiming));
    CUBLAS_CHECK(cublasLtCreate(&lt));
    CUDA_CHECK(cudaMalloc(&workspace, kWorkspaceBytes));
  }
  ~Device() {
    cudaStreamSynchronize(stream);
    cudaStreamSynchronize(side_stream);
    cudaEventDestroy(join);
    cudaEventDestroy(fork);
    cublasDestroy(side_cublas);
    cudaStreamDestroy(side_stream);
    cudaFree(workspace);
    cublasLtDestroy(lt);
    cublasDestroy(cublas);
    cudaStreamDestroy(stream);
  }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // Median milliseconds of one call of `work`, timed `inner` at a time, `repeats` times, after a warm-up.
  template <typename F>
  double median_ms(int repeats, int inner, F&& work) {
    return timer.median_ms(stream, repeats, inner, work);
  }
};

// The engine's call for this GEMM (CudaBackend::gemm or gemm_bf16), on the handle's stream.
void engine_gemm(cublasHandle_t handle, const GemmShape& g, Precision precision, const void* a, const void* b,
                 float* c) {
  const float alpha = 1.0f, beta = 0.0f;
  const cublasOperation_t op_b = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (precision == Precision::bf16) {
    CUBLAS_CHECK(cublasGemmEx(handle, op_b, op_a, g.n, g.m, g.k, &alpha, b, CUDA_R_16BF, g.ldb, a, CUDA_R_16BF, g.lda,
                              &beta, c, CUDA_R_32F, g.ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  } else {
    CUBLAS_CHECK(cublasSgemm(handle, op_b, op_a, g.n, g.m, g.k, &alpha, static_cast<const float*>(b), g.ldb,
                             static_cast<const float*>(a), g.lda, &beta, c, g.ldc));
  }
}

struct Candidate {
  int rank = 0;  // the heuristic's order
  double ms = 0;
  LtAlgoConfig config;
  std::size_t workspace = 0;
  float waves = 0;
  bool same_bits = false;  // its C equals the engine's bit for bit
  double max_abs_difference = 0;
};

struct GemmResult {
  GemmShape shape;
  double engine_ms = 0;
  std::vector<Candidate> candidates;
  const Candidate* best() const {
    const Candidate* b = nullptr;
    for (const Candidate& c : candidates)
      if (b == nullptr || c.ms < b->ms) b = &c;
    return b;
  }
};

std::vector<float> download(const float* device, std::size_t count) {
  std::vector<float> host(count);
  CUDA_CHECK(cudaMemcpy(host.data(), device, count * sizeof(float), cudaMemcpyDeviceToHost));
  return host;
}

GemmResult measure(Device& d, const GemmShape& g, Precision precision, const GemmBenchFlags& f, std::uint32_t seed) {
  const bool bf16 = precision == Precision::bf16;
  const DeviceOperand a(g.a_count(), bf16, seed), b(g.b_count(), bf16, seed + 1);
  const std::size_t c_count = g.c_count();
  void* c_memory = nullptr;
  CUDA_CHECK(cudaMalloc(&c_memory, c_count * sizeof(float)));
  const std::unique_ptr<void, cudaError_t (*)(void*)> c_owner(c_memory, cudaFree);
  float* c = static_cast<float*>(c_memory);
  GemmResult r;
  r.shape = g;
  r.engine_ms = d.median_ms(f.repeats, f.inner, [&] { engine_gemm(d.cublas, g, precision, a.data, b.data, c); });
  CUDA_CHECK(cudaStreamSynchronize(d.stream));
  const std::vector<float> reference = download(c, c_count);

  const LtGemmDescription lt(lt_shape(g, precision));
  const std::vector<cublasLtMatmulHeuristicResult_t> heuristics =
      lt.heuristic(d.lt, f.candidates, Device::kWorkspaceBytes);
  for (std::size_t i = 0; i < heuristics.size(); ++i) {
    const cublasLtMatmulHeuristicResult_t& h = heuristics[i];
    auto run = [&] { lt.run(d.lt, h.algo, 1.0f, a.data, b.data, 0.0f, c, d.workspace, Device::kWorkspaceBytes, d.stream); };
    Candidate cand;
    cand.rank = int(i);
    CUDA_CHECK(cudaMemsetAsync(c, 0xff, c_count * sizeof(float), d.stream));  // NaN: a skipped element shows
    run();
    CUDA_CHECK(cudaStreamSynchronize(d.stream));
    const std::vector<float> result = download(c, c_count);
    cand.same_bits = true;
    for (int row = 0; row < g.m; ++row)
      for (int col = 0; col < g.n; ++col) {
        const std::size_t at = std::size_t(row) * g.ldc + col;
        cand.same_bits = cand.same_bits && std::memcmp(&result[at], &reference[at], sizeof(float)) == 0;
        const double diff = std::fabs(double(result[at]) - double(reference[at]));
        cand.max_abs_difference = std::isnan(diff) ? INFINITY : std::max(cand.max_abs_difference, diff);
      }
    cand.ms = d.median_ms(f.repeats, f.inner, run);
    cand.config = lt_algo_config(h.algo);
    cand.workspace = h.workspaceSize;
    cand.waves = h.wavesCount;
    r.candidates.push_back(cand);
  }
  return r;
}

// The second-stream idea, bounded: every GEMM of the step in order on one stream, against the weight gradients on
// a side stream (forked at the start, joined at the end) beside the rest. The overlapped run ignores that a weight
// gradient must wait for its layer's gradient, so it bounds from below what overlapping could reach.
struct OverlapTimes {
  double sequential_ms = 0, overlapped_ms = 0;
};
OverlapTimes measure_overlap(Device& d, const std::vector<GemmShape>& gemms, Precision precision,
                             const GemmBenchFlags& f) {
  const bool bf16 = precision == Precision::bf16;
  struct Operands {
    DeviceOperand a, b, c;
    Operands(const GemmShape& g, bool half, std::uint32_t seed)
        : a(g.a_count(), half, seed), b(g.b_count(), half, seed + 1), c(g.c_count(), false, seed + 2) {}
  };
  std::vector<std::unique_ptr<Operands>> operands;
  for (std::size_t i = 0; i < gemms.size(); ++i)
    operands.push_back(std::make_unique<Operands>(gemms[i], bf16, std::uint32_t(100 + 3 * i)));
  auto run = [&](bool overlap) {
    if (overlap) {
      CUDA_CHECK(cudaEventRecord(d.fork, d.stream));
      CUDA_CHECK(cudaStreamWaitEvent(d.side_stream, d.fork, 0));
    }
    for (std::size_t i = 0; i < gemms.size(); ++i) {
      const bool side = overlap && gemms[i].trans_a;  // the weight gradients: dW = g^T x
      engine_gemm(side ? d.side_cublas : d.cublas, gemms[i], precision, operands[i]->a.data, operands[i]->b.data,
                  static_cast<float*>(operands[i]->c.data));
    }
    if (overlap) {
      CUDA_CHECK(cudaEventRecord(d.join, d.side_stream));
      CUDA_CHECK(cudaStreamWaitEvent(d.stream, d.join, 0));
    }
  };
  OverlapTimes t;
  t.sequential_ms = d.median_ms(f.repeats, 1, [&] { run(false); });
  t.overlapped_ms = d.median_ms(f.repeats, 1, [&] { run(true); });
  return t;
}

nlohmann::json candidate_json(const Candidate& c) {
  return {{"heuristic_rank", c.rank}, {"ms", c.ms}, {"algo_id", c.config.id}, {"tile_id", c.config.tile},
          {"stages_id", c.config.stages}, {"split_k", c.config.split_k}, {"reduction_scheme", c.config.reduction},
          {"workspace_bytes", c.workspace}, {"waves", c.waves}, {"same_bits_as_engine", c.same_bits},
          {"max_abs_difference", std::isfinite(c.max_abs_difference) ? nlohmann::json(c.max_abs_difference)
                                                                      : nlohmann::json(nullptr)}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fasttab bench_gemm: the training step's GEMMs through the engine's cuBLAS call and through every "
               "algorithm cuBLASLt's heuristic offers (CUDA only)"};
  GemmBenchFlags f;
  app.add_option("--precision", f.precision, name_list<Precision>())->check(CLI::IsMember(name_map<Precision>()));
  app.add_option("--batch-size", f.batch, "rows per batch (m or k of the GEMMs)")->check(CLI::Range(1, 1 << 20));
  app.add_option("--hidden", f.hidden, "hidden widths")->delimiter(',')->check(CLI::Range(1, 16384));
  app.add_option("--inputs", f.inputs, "input features")->check(CLI::Range(1, 16384));
  app.add_option("--train-rows", f.train_rows, "training rows (the epoch's step count)")
      ->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 40));
  app.add_option("--candidates", f.candidates, "algorithms asked of the heuristic per GEMM")->check(CLI::Range(1, 64));
  app.add_option("--repeats", f.repeats, "timings per algorithm (median reported)")->check(CLI::Range(1, 10000));
  app.add_option("--inner", f.inner, "back-to-back launches per timing")->check(CLI::Range(1, 10000));
  app.add_option("--json", f.json, "also write the results as one JSON object to this file (replaced if it exists)");
  CLI11_PARSE(app, argc, argv);
  try {
    cli::check_writable("--json", f.json);
    FASTTAB_REQUIRE(cuda_device_count() > 0, "bench_gemm needs a CUDA device, and this machine has none");
    const Precision precision = parse_name<Precision>(f.precision, "--precision");
    const std::vector<GemmShape> gemms = step_gemms(f, precision == Precision::bf16);
    require_room(gemms, precision == Precision::bf16, Device::kWorkspaceBytes);
    Device device(precision);
    const std::int64_t steps = (f.train_rows + f.batch - 1) / f.batch;
    std::printf("bench_gemm on %s, precision %s, batch %d, %lld steps/epoch; median of %d timings of %d launches\n",
                device.name.c_str(), f.precision.c_str(), f.batch, static_cast<long long>(steps), f.repeats, f.inner);
    std::printf("%-20s %6s %6s %6s %10s %10s %10s %9s  %s\n", "GEMM", "m", "n", "k", "engine ms", "heur. #0",
                "best ms", "best TF/s", "best algorithm (same bits as the engine?)");
    double engine_total = 0, first_total = 0, best_total = 0;
    nlohmann::json gemms_json = nlohmann::json::array();
    std::uint32_t seed = 1;
    for (const GemmShape& g : gemms) {
      const GemmResult r = measure(device, g, precision, f, seed += 2);
      const Candidate* best = r.best();
      const double first = r.candidates.empty() ? NAN : r.candidates.front().ms;
      engine_total += r.engine_ms;
      first_total += std::isnan(first) ? r.engine_ms : first;
      best_total += best ? std::min(best->ms, r.engine_ms) : r.engine_ms;
      std::printf("%-20s %6d %6d %6d %10.4f %10.4f %10.4f %9.1f  %s\n", g.name.c_str(), g.m, g.n, g.k, r.engine_ms,
                  first, best ? best->ms : NAN, best ? g.flop() / best->ms / 1e9 : NAN,
                  best ? (best->config.describe() + (best->same_bits ? " (same bits)" : " (other bits)")).c_str()
                       : "no cuBLASLt algorithm");
      nlohmann::json cands = nlohmann::json::array();
      for (const Candidate& c : r.candidates) cands.push_back(candidate_json(c));
      gemms_json.push_back({{"name", g.name}, {"trans_a", g.trans_a}, {"trans_b", g.trans_b}, {"m", g.m}, {"n", g.n},
                       {"k", g.k}, {"lda", g.lda}, {"ldb", g.ldb}, {"ldc", g.ldc}, {"flop", g.flop()},
                       {"engine_ms", r.engine_ms}, {"candidates", cands}});
    }
    std::printf("%-20s %31.4f %10.4f %10.4f   ms per step\n", "step", engine_total, first_total, best_total);
    std::printf("%-20s %31.4f %10.4f %10.4f   s per epoch (%lld steps)\n", "epoch", engine_total * steps / 1e3,
                first_total * steps / 1e3, best_total * steps / 1e3, static_cast<long long>(steps));
    const OverlapTimes overlap = measure_overlap(device, gemms, precision, f);
    std::printf("the step's GEMMs back to back: %.4f ms; with the weight gradients on a second stream (a bound, "
                "dependencies ignored): %.4f ms\n", overlap.sequential_ms, overlap.overlapped_ms);
    if (!f.json.empty()) {
      nlohmann::json j{{"tool", "bench_gemm"}, {"device", device.name}, {"precision", f.precision},
                       {"batch_size", f.batch}, {"steps_per_epoch", steps}, {"repeats", f.repeats},
                       {"inner", f.inner}, {"workspace_bytes", Device::kWorkspaceBytes},
                       {"timing", "median of the repeats; each a CUDA-event time of `inner` back-to-back launches"},
                       {"gemms", gemms_json},
                       {"step_ms", {{"engine", engine_total}, {"heuristic_first", first_total}, {"best", best_total}}},
                       {"overlap_ms", {{"sequential", overlap.sequential_ms},
                                       {"weight_gradients_on_a_second_stream", overlap.overlapped_ms},
                                       {"note", "the second figure ignores the dependencies: a bound"}}}};
      std::ofstream out(f.json);
      FASTTAB_REQUIRE(out, "--json: cannot write ", f.json);
      out << j.dump(1) << "\n";
      FASTTAB_REQUIRE(out.good(), "--json: writing ", f.json, " failed");
      std::printf("json: %s\n", f.json.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
