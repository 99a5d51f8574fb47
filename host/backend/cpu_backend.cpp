// CpuBackend: the reference implementation of every Backend op, in plain loops over host memory (OpenBLAS for
// GEMM, OpenMP across rows for the element-wise ops). Reductions run in a fixed order and accumulate in double,
// so that two runs give identical bits and the GPU results can be compared against it.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "fasttab/backend.hpp"
#include "fasttab/error.hpp"
#include "host/backend/embedding_row.hpp"
#include "host/backend/fused_mlp.hpp"
#include "host/backend/philox.hpp"
#include "host/backend/reference_math.hpp"

namespace fasttab {
namespace {

std::size_t meminfo_bytes(const char* field) {
  std::ifstream in("/proc/meminfo");
  std::string name;
  std::size_t kib = 0;
  std::string unit;
  while (in >> name >> kib >> unit) {
    if (name == field) return kib * 1024;
  }
  return 0;
}

class CpuBackend final : public Backend {
 public:
  // Element-wise ops run on `threads` OpenMP threads (default 1): OpenBLAS's own threads spin between GEMMs,
  // and OpenMP threads beside them fight for the same cores (measured here: a step took 2.5x longer on 2 cores).
  explicit CpuBackend(int threads) : threads_(threads > 0 ? threads : 1) {}

  const char* kind() const override { return "cpu"; }
  std::string device_name() const override { return "cpu"; }

  void* allocate(std::size_t bytes, const char* what) override {
    const std::size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded ? rounded : 64);
    if (!p) FASTTAB_FAIL("cannot allocate ", bytes, " bytes (", what, ") in host memory: ", free_bytes(), " bytes are available");
    return p;
  }
  void release(void* pointer) noexcept override { std::free(pointer); }
  // FASTTAB_CPU_MEMORY_LIMIT (bytes), a testing aid: caps the free memory the CPU backend reports, so that the
  // memory checks (e.g. the automatic --shard under mpirun, docs/scaling.md) can be tested on a small table.
  std::size_t free_bytes() const override {
    const std::size_t available = meminfo_bytes("MemAvailable:");
    const char* limit = std::getenv("FASTTAB_CPU_MEMORY_LIMIT");
    if (limit == nullptr || *limit == 0) return available;
    char* end = nullptr;
    const unsigned long long cap = std::strtoull(limit, &end, 10);
    FASTTAB_REQUIRE(end != limit && *end == 0, "FASTTAB_CPU_MEMORY_LIMIT=", limit, ": must be a number of bytes");
    return std::min<std::size_t>(available, static_cast<std::size_t>(cap));
  }
  std::size_t total_bytes() const override { return meminfo_bytes("MemTotal:"); }

  void copy_to_backend(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_rows_to_backend(void* dst, std::size_t dst_pitch, const void* src, std::size_t src_pitch,
                            std::size_t row_bytes, std::size_t rows) override {
    auto* d = static_cast<char*>(dst);
    const auto* s = static_cast<const char*>(src);
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (std::int64_t r = 0; r < static_cast<std::int64_t>(rows); ++r) {
      std::memcpy(d + r * dst_pitch, s + r * src_pitch, row_bytes);
      if (dst_pitch > row_bytes) std::memset(d + r * dst_pitch + row_bytes, 0, dst_pitch - row_bytes);
    }
  }
  void copy_within(void* dst, const void* src, std::size_t bytes) override { std::memmove(dst, src, bytes); }
  void copy_rows_within(void* dst, std::size_t dst_pitch, const void* src, std::size_t src_pitch,
                        std::size_t row_bytes, std::size_t rows) override {
    copy_rows_to_backend(dst, dst_pitch, src, src_pitch, row_bytes, rows);  // both are host memory here
  }
  bool can_read(const void* pointer) const override { return cuda_pointer_device(pointer) < 0; }
  void fill(float* dst, float value, std::size_t count) override { std::fill(dst, dst + count, value); }
  void scale(float* values, float factor, std::size_t count) override {
    for (std::size_t i = 0; i < count; ++i) values[i] *= factor;
  }
  void increment_counter(std::uint32_t* counter) override { ++*counter; }
  void synchronize() override { join_side_queue(); }

  // The CPU has nothing to record: each run() calls the work again.
  class CalledWork final : public CapturedWork {
   public:
    explicit CalledWork(std::function<void()> work) : work_(std::move(work)) {}
    void run() override { work_(); }

   private:
    std::function<void()> work_;
  };
  std::unique_ptr<CapturedWork> capture(std::function<void()> enqueue) override {
    return std::make_unique<CalledWork>(std::move(enqueue));
  }

  void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
            int ldb, float beta, float* c, int ldc) override {
    if (m == 0 || n == 0) return;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
                alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void set_precision(Precision) override {}  // float32 GEMMs throughout on the CPU (bf16: gemm_bf16)
  void set_gemm_library(GemmLibrary) override {}  // OpenBLAS whatever the CUDA backend would use

  // The side queue's work runs at the join, the latest the contract allows (Backend::on_side_queue).
  // The two vectors keep their capacity between joins: after the first step, handing work over allocates nothing.
  // Work that throws leaves the rest unrun (the next join starts afresh).
  void on_side_queue(const SideWork& enqueue) override { side_work_.push_back(enqueue); }
  void join_side_queue() override {
    running_.clear();
    running_.swap(side_work_);
    for (const SideWork& w : running_) w();
    running_.clear();
  }

  void convert_to_bf16(const float* src, int rows, int cols, int ld_src, bfloat16* dst, int ld_dst) override {
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c)
        dst[std::size_t(r) * ld_dst + c] = reference::bf16_bits(src[std::size_t(r) * ld_src + c]);
  }
  // The operands widened to float32 (exact: every bfloat16 is a float32) in scratch kept between calls, then sgemm:
  // the products of two bfloat16s are exact in float32, so the result is a float32 GEMM of the bfloat16 values.
  void gemm_bf16(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const bfloat16* a, int lda,
                 const bfloat16* b, int ldb, float beta, float* c, int ldc) override {
    if (m == 0 || n == 0) return;
    const float* wide_a = widen(a, trans_a ? k : m, trans_a ? m : k, lda, wide_a_);
    const float* wide_b = widen(b, trans_b ? n : k, trans_b ? k : n, ldb, wide_b_);
    gemm(trans_a, trans_b, m, n, k, alpha, wide_a, lda, wide_b, ldb, beta, c, ldc);
  }
  // The fused passes: the CUDA kernels' block code with scalar tiles (host/backend/fused_mlp.cpp), one thread.
  void fused_mlp_forward_bf16(const FusedMlp& mlp, const float* x, int ld_x, int rows, float* out,
                              const FusedTraining& training) override {
    fused_mlp_forward_emulated(mlp, x, ld_x, rows, out, training, fused_scratch_);
  }
  void fused_mlp_backward_bf16(const FusedMlp& mlp, const FusedTraining& forward, const float* grad_outputs, int rows,
                               const FusedGradients& gradients) override {
    fused_mlp_backward_emulated(mlp, forward, grad_outputs, rows, gradients, fused_scratch_);
  }
  void bias_activation_dropout_forward_bf16(const float* z, int rows, int cols, int ld_z, const float* bias,
                                            Activation act, float p, DropoutKey key, bfloat16* out,
                                            int ld_out) override {
    forward_elements(z, ld_z, rows, cols, bias, act, p, key, out, ld_out);
  }
  void activation_dropout_backward_bias_gradient_bf16(float* grad, int ld_grad, const bfloat16* out, int ld_out,
                                                      int rows, int cols, Activation act, float p, DropoutKey key,
                                                      float* bias_grad, bfloat16* grad_z, int ld_grad_z) override {
    backward_elements(grad, ld_grad, out, ld_out, rows, cols, act, p, key);
    bias_gradient(grad, rows, cols, ld_grad, bias_grad);
    convert_to_bf16(grad, rows, cols, ld_grad, grad_z, ld_grad_z);
  }

  void bias_activation_dropout_forward(float* z, int rows, int cols, int ld, const float* bias, Activation act,
                                       float p, DropoutKey key) override {
    forward_elements(z, ld, rows, cols, bias, act, p, key, z, ld);
  }

  void activation_dropout_backward(float* grad, const float* out, int rows, int cols, int ld, Activation act,
                                   float p, DropoutKey key) override {
    backward_elements(grad, ld, out, ld, rows, cols, act, p, key);
  }

  void bias_gradient(const float* grad, int rows, int cols, int ld, float* bias_grad) override {
    std::vector<double> sums(static_cast<std::size_t>(cols), 0.0);
    for (int r = 0; r < rows; ++r) {
      const float* g = grad + static_cast<std::size_t>(r) * ld;
      for (int c = 0; c < cols; ++c) sums[c] += g[c];
    }
    for (int c = 0; c < cols; ++c) bias_grad[c] = static_cast<float>(sums[c]);
  }

  void loss_forward_backward(Task task, const float* outputs, int rows, int width, int ld, const float* labels,
                             float* grad, float* loss) override {
    *loss = static_cast<float>(reference::loss_and_gradient(task, outputs, rows, width, ld, labels, grad));
  }

  void optimizer_update(const OptimizerUpdate& update, float* params, const float* grads, float* state1,
                        float* state2, std::size_t count) override {
    const OptimizerUpdate u = reference::resolve_step(update);
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(count); ++i) {
      reference::optimizer_step(u, params[i], grads[i], state1[i], state2[i]);
    }
  }

  void embed_inputs(const float* x, int ld_x, int rows, const InputLayout& layout, const float* tables, float* e,
                    int ld_e) override {
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (int r = 0; r < rows; ++r) {
      const float* xr = x + std::size_t(r) * ld_x;
      float* er = e + std::size_t(r) * ld_e;
      for (int j = 0; j < layout.columns; ++j) {
        const InputColumn& c = layout.host[j];
        if (c.dim == 0) {
          er[c.out_offset] = xr[j];
          continue;
        }
        const float* row = tables + c.table_offset + std::size_t(embedding_row(xr[j], c.cardinality)) * c.dim;
        std::copy(row, row + c.dim, er + c.out_offset);
      }
    }
  }
  // Rows in increasing order, each adding into its code's row: every code's sum runs in row order from 0.
  void embedding_gradient(const float* x, int ld_x, int rows, const InputLayout& layout, const float* grad_e, int ld_g,
                          float* table_grads) override {
    for (int j = 0; j < layout.columns; ++j) {
      const InputColumn& c = layout.host[j];
      if (c.dim == 0) continue;
      float* table = table_grads + c.table_offset;
      std::fill(table, table + std::size_t(c.cardinality) * c.dim, 0.0f);
      for (int r = 0; r < rows; ++r) {
        float* row = table + std::size_t(embedding_row(x[std::size_t(r) * ld_x + j], c.cardinality)) * c.dim;
        const float* g = grad_e + std::size_t(r) * ld_g + c.out_offset;
        for (int k = 0; k < c.dim; ++k) row[k] += g[k];
      }
    }
  }

  void gather_rows(const float* features, int ld, const float* labels, const std::uint32_t* indices,
                   std::int64_t count, float* out_features, float* out_labels) override {
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (std::int64_t i = 0; i < count; ++i) {
      std::memcpy(out_features + i * ld, features + static_cast<std::size_t>(indices[i]) * ld, sizeof(float) * ld);
      out_labels[i] = labels[indices[i]];
    }
  }

  void random_permutation(std::uint64_t seed, std::uint32_t epoch, std::uint32_t n, std::uint32_t* out) override {
    reference::random_permutation(seed, epoch, n, out);
  }

  Metrics evaluate(Task task, const float* outputs, std::int64_t rows, int width, int ld,
                   const float* labels) override {
    return reference::evaluate(task, outputs, rows, width, ld, labels);
  }

  std::int64_t find_nonfinite(const float* values, std::int64_t count) override {
    for (std::int64_t i = 0; i < count; ++i)
      if (!std::isfinite(values[i])) return i;
    return -1;
  }

  void column_moments(const float* table, std::int64_t rows, int cols, int ld, double* mean,
                      double* stddev) override {
    reference::column_moments(table, rows, cols, ld, mean, stddev);
  }

  void standardize_columns(float* table, std::int64_t rows, int cols, int ld, const float* mean,
                           const float* inv_std) override {
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (std::int64_t r = 0; r < rows; ++r) {
      float* row = table + r * ld;
      for (int c = 0; c < cols; ++c) row[c] = (row[c] - mean[c]) * inv_std[c];
    }
  }

 private:
  std::vector<SideWork> side_work_;  // on_side_queue's, not yet joined
  std::vector<SideWork> running_;    // being joined
  FusedHostScratch fused_scratch_;   // the fused passes' emulated shared memory

  // The element math of the forward and backward element-wise ops, for float32 or bfloat16 storage of the
  // activation (out); float32 throughout, rounded only where a bfloat16 is stored.
  static void store(float* at, float v) { *at = v; }
  static void store(bfloat16* at, float v) { *at = reference::bf16_bits(v); }
  static float load(const float* at) { return *at; }
  static float load(const bfloat16* at) { return reference::bf16_value(*at); }

  template <typename Out>
  void forward_elements(const float* z, int ld_z, int rows, int cols, const float* bias, Activation act, float p,
                        DropoutKey key, Out* out, int ld_out) {
    key = reference::resolve_step(key);
    const float scale = p > 0 ? 1.0f / (1.0f - p) : 1.0f;
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (int r = 0; r < rows; ++r) {
      const float* row = z + static_cast<std::size_t>(r) * ld_z;
      Out* row_out = out + static_cast<std::size_t>(r) * ld_out;
      for (int c = 0; c < cols; ++c) {
        float a = reference::activate(act, row[c] + bias[c]);
        if (p > 0) {
          const std::uint64_t index = (key.first_row + static_cast<std::uint64_t>(r)) * cols + c;
          a = dropout_keep(key.seed, key.step, key.layer, index, p) ? a * scale : 0.0f;
        }
        store(row_out + c, a);
      }
    }
  }

  template <typename Stored>
  void backward_elements(float* grad, int ld_grad, const Stored* out, int ld_out, int rows, int cols, Activation act,
                         float p, DropoutKey key) {
    key = reference::resolve_step(key);
    const float scale = p > 0 ? 1.0f / (1.0f - p) : 1.0f;
    const float keep = 1.0f - p;
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (int r = 0; r < rows; ++r) {
      float* g = grad + static_cast<std::size_t>(r) * ld_grad;
      const Stored* o = out + static_cast<std::size_t>(r) * ld_out;
      for (int c = 0; c < cols; ++c) {
        if (p > 0) {
          const std::uint64_t index = (key.first_row + static_cast<std::uint64_t>(r)) * cols + c;
          if (!dropout_keep(key.seed, key.step, key.layer, index, p)) {
            g[c] = 0.0f;
            continue;
          }
          g[c] = g[c] * scale * reference::activation_derivative(act, load(o + c) * keep);
        } else {
          g[c] = g[c] * reference::activation_derivative(act, load(o + c));
        }
      }
    }
  }

  // src[rows, cols] (leading dim ld) widened into `scratch` with the same leading dim; returns its data.
  const float* widen(const bfloat16* src, int rows, int cols, int ld, std::vector<float>& scratch) {
    const std::size_t needed = rows > 0 ? std::size_t(rows - 1) * ld + cols : 0;
    if (scratch.size() < needed) scratch.resize(needed);
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) scratch[std::size_t(r) * ld + c] = reference::bf16_value(src[std::size_t(r) * ld + c]);
    return scratch.data();
  }
  std::vector<float> wide_a_, wide_b_;  // gemm_bf16's widened operands, grown on demand and kept

  int threads_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

}  // namespace fasttab
