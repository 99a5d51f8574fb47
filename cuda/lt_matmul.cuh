// The GEMMs through cuBLASLt (--gemm cublaslt and cublaslt-timed): one plan per GEMM description, its algorithm
// chosen once, at the first call, and reused by every later call, op by op or inside a CUDA Graph.
//
// Layout. The engine's GEMMs are row-major: C[m, n] = alpha op(A) op(B) + beta C. cuBLASLt is column-major, and a
// row-major matrix is its transpose stored column-major, so the engine's GEMM is cuBLASLt's C^T = op(B)^T op(A)^T:
// cuBLASLt's "A" is our B (a column-major [b_cols x b_rows] matrix with leading dimension ldb), its "B" our A, and
// its m, n are our n, m (the swap CudaBackend::gemm makes for cublasSgemm too).
//
// Choice of algorithm, per plan:
// - cublaslt: the first algorithm of cuBLASLt's heuristic (cublasLtMatmulAlgoGetHeuristic) with a 32 MiB
//   workspace. The heuristic depends on the device, the library version and the description only, so a shape gets
//   the same algorithm, and its result the same bits, in every run on the same device and library.
// - cublaslt-timed: the heuristic's first kCandidates algorithms, and for GEMMs with few output tiles and a long k
//   (the weight gradients: 300 x 300 outputs over k = the batch) split-k variants of the first ones, each timed
//   on the GEMM's own operands (into a scratch C) by CUDA events; the fastest wins, but the heuristic's first is
//   kept unless another is at least kMinGain faster, so that timing noise rarely changes the choice. The choice is
//   timing, so two runs may choose differently and then differ in the last bits (docs/performance.md).
// Every reduction scheme cuBLASLt offers for split-k is ordered (in place with counters, or a separate reduction
// pass), so a plan gives the same bits every time it runs.
//
// A plan is made on the host (descriptors, heuristic) and, when timed, by running the candidates: that needs a
// stream outside capture. CudaBackend's captured work always runs once directly before it is captured
// (TrainingRun), so every plan exists before a capture; a timed plan first asked for inside a capture is an
// internal error, said as such.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "cuda/event_timer.cuh"
#include "fasttab/backend.hpp"

namespace fasttab {

// The largest power of two <= 256 that divides the address (256 for nullptr): cuBLASLt's algorithms need their
// operands aligned, and its heuristic assumes 256 bytes unless told less.
int pointer_alignment(const void* pointer);

// One GEMM as cuBLASLt sees it: the engine's row-major description, its element types (precision: float32,
// float32 on TF32 tensor cores, or bfloat16 inputs; C is float32 always) and its operands' alignments.
struct LtGemmShape {
  bool trans_a = false, trans_b = false;
  int m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
  Precision precision = Precision::fp32;
  int align_a = 256, align_b = 256, align_c = 256;

  int a_rows() const { return trans_a ? k : m; }  // as stored, row-major
  int b_rows() const { return trans_b ? n : k; }
  double flop() const { return 2.0 * m * n * k; }
  std::string describe() const;  // "C[16384 x 300] = A[16384 x 304] B^T ..., k 300, bf16"
  auto tie() const {
    return std::tie(trans_a, trans_b, m, n, k, lda, ldb, ldc, precision, align_a, align_b, align_c);
  }
  bool operator<(const LtGemmShape& o) const { return tie() < o.tie(); }
};

// An algorithm's configuration, for reports: cuBLASLt's algorithm id, tile, stages, split-k and reduction scheme.
struct LtAlgoConfig {
  int id = -1, split_k = 1;
  unsigned tile = 0, stages = 0, reduction = 0;
  std::string describe() const;  // "algo 66 tile 20 stages 8 split-k 1 reduction 0"
};
LtAlgoConfig lt_algo_config(const cublasLtMatmulAlgo_t& algo);

// cuBLASLt's descriptors of one GEMM (operation, and the layouts of its A, B and C as cuBLASLt orders them).
class LtGemmDescription {
 public:
  explicit LtGemmDescription(const LtGemmShape& g);
  ~LtGemmDescription();
  LtGemmDescription(const LtGemmDescription&) = delete;
  LtGemmDescription& operator=(const LtGemmDescription&) = delete;

  // The heuristic's first `count` algorithms with at most `workspace_bytes` of workspace (fewer when it offers
  // fewer; none when it supports no algorithm for the description).
  std::vector<cublasLtMatmulHeuristicResult_t> heuristic(cublasLtHandle_t lt, int count,
                                                         std::size_t workspace_bytes) const;
  // C = alpha op(A) op(B) + beta C (row-major, as the shape describes) with `algo`, enqueued on `stream`.
  void run(cublasLtHandle_t lt, const cublasLtMatmulAlgo_t& algo, float alpha, const void* a, const void* b,
           float beta, float* c, void* workspace, std::size_t workspace_bytes, cudaStream_t stream) const;
  // `algo` with k split in `splits` (reduction `scheme`), when cuBLASLt accepts that for this description within
  // the workspace: the result's algo, else state != CUBLAS_STATUS_SUCCESS.
  cublasLtMatmulHeuristicResult_t split_k_variant(cublasLtHandle_t lt, const cublasLtMatmulAlgo_t& algo, int splits,
                                                  cublasLtReductionScheme_t scheme, std::size_t workspace_bytes) const;

 private:
  void destroy() noexcept;
  LtGemmShape shape_;
  cublasLtMatmulDesc_t operation_ = nullptr;
  cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, c_ = nullptr;  // cuBLASLt's A (our B), B (our A), C
  cublasLtMatmulPreference_t preference_ = nullptr;
};

// The plans of one backend: a cuBLASLt handle and one plan per (shape, choice), made at the shape's first call.
class LtMatmul {
 public:
  static constexpr int kCandidates = 8;         // the heuristic's algorithms timed per GEMM (cublaslt-timed)
  static constexpr double kMinGain = 0.03;      // another algorithm must be 3% faster than the heuristic's first
  LtMatmul();
  ~LtMatmul();
  LtMatmul(const LtMatmul&) = delete;
  LtMatmul& operator=(const LtMatmul&) = delete;

  // C = alpha op(A) op(B) + beta C on `stream`, with the plan of `shape` (made now if this is its first call;
  // timed when `timed`). The workspace is the caller's lane's (workspace_bytes, at least what any plan was chosen
  // with). False, with nothing enqueued, when cuBLASLt offers no algorithm for the shape: the caller runs cuBLAS.
  bool run(const LtGemmShape& shape, bool timed, float alpha, const void* a, const void* b, float beta, float* c,
           void* workspace, std::size_t workspace_bytes, cudaStream_t stream);
  std::vector<GemmPlan> reports() const;

 private:
  struct Plan {
    std::unique_ptr<LtGemmDescription> description;
    bool has_algorithm = false;
    cublasLtMatmulAlgo_t algo{};
    GemmPlan report;
  };
  Plan make_plan(const LtGemmShape& shape, bool timed, const void* a, const void* b, void* workspace,
                 std::size_t workspace_bytes, cudaStream_t stream);

  cublasLtHandle_t lt_ = nullptr;
  EventTimer timer_;
  std::map<std::pair<LtGemmShape, bool>, Plan> plans_;
};

}  // namespace fasttab
