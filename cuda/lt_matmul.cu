#include "cuda/lt_matmul.cuh"

#include <algorithm>
#include <cstdint>
#include <sstream>

#include "cuda/cuda_check.cuh"

namespace fasttab {

int pointer_alignment(const void* pointer) {
  const auto address = reinterpret_cast<std::uintptr_t>(pointer);
  int alignment = 1;
  while (alignment < 256 && (address & std::uintptr_t(alignment)) == 0) alignment *= 2;
  return alignment;
}

std::string LtGemmShape::describe() const {
  std::ostringstream s;
  s << "C[" << m << " x " << n << "] = A" << (trans_a ? "^T" : "") << "[" << a_rows() << " x " << lda << "] B"
    << (trans_b ? "^T" : "") << "[" << b_rows() << " x " << ldb << "], k " << k << ", ldc " << ldc << ", "
    << (precision == Precision::bf16 ? "bf16" : precision == Precision::tf32 ? "tf32" : "fp32") << ", aligned "
    << align_a << "/" << align_b << "/" << align_c;
  return s.str();
}

std::string LtAlgoConfig::describe() const {
  return "algo " + std::to_string(id) + " tile " + std::to_string(tile) + " stages " + std::to_string(stages) +
         " split-k " + std::to_string(split_k) + " reduction " + std::to_string(reduction);
}

LtAlgoConfig lt_algo_config(const cublasLtMatmulAlgo_t& algo) {
  LtAlgoConfig c;
  std::int32_t id = -1, split_k = 1;
  std::uint32_t tile = 0, stages = 0, reduction = 0;
  std::size_t written = 0;
  CUBLAS_CHECK(cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof id, &written));
  CUBLAS_CHECK(cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof tile, &written));
  CUBLAS_CHECK(cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &split_k, sizeof split_k,
                                                    &written));
  CUBLAS_CHECK(cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &reduction,
                                                    sizeof reduction, &written));
  CUBLAS_CHECK(cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages, sizeof stages,
                                                    &written));
  c.id = id;
  c.split_k = split_k;
  c.tile = tile;
  c.stages = stages;
  c.reduction = reduction;
  return c;
}

// ---- one GEMM's descriptors -------------------------------------------------------------------------------------

LtGemmDescription::LtGemmDescription(const LtGemmShape& g) : shape_(g) {
  const cudaDataType_t in_type = g.precision == Precision::bf16 ? CUDA_R_16BF : CUDA_R_32F;
  const cublasComputeType_t compute =
      g.precision == Precision::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  try {
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&operation_, compute, CUDA_R_32F));
    // cuBLASLt's A is our B and its B our A (the header's layout note): their transposes follow.
    const std::int32_t op_a = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(operation_, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof op_a));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(operation_, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof op_b));
    // Our B, row-major [b_rows x b_cols] with leading dimension ldb, is a column-major [b_cols x b_rows] matrix.
    const int b_cols = g.trans_b ? g.k : g.n, a_cols = g.trans_a ? g.m : g.k;
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&a_, in_type, std::uint64_t(b_cols), std::uint64_t(g.b_rows()), g.ldb));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&b_, in_type, std::uint64_t(a_cols), std::uint64_t(g.a_rows()), g.lda));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&c_, CUDA_R_32F, std::uint64_t(g.n), std::uint64_t(g.m), g.ldc));
    CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&preference_));
    // The alignments cuBLASLt's A, B, C and D (= C) have: our B's, A's and C's.
    const std::uint32_t align_lt_a = std::uint32_t(g.align_b), align_lt_b = std::uint32_t(g.align_a),
                        align_c = std::uint32_t(g.align_c);
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(preference_, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                                                      &align_lt_a, sizeof align_lt_a));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(preference_, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                                                      &align_lt_b, sizeof align_lt_b));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(preference_, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                                                      &align_c, sizeof align_c));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(preference_, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
                                                      &align_c, sizeof align_c));
  } catch (...) {
    destroy();
    throw;
  }
}

LtGemmDescription::~LtGemmDescription() { destroy(); }

void LtGemmDescription::destroy() noexcept {
  if (preference_ != nullptr) cublasLtMatmulPreferenceDestroy(preference_);
  if (c_ != nullptr) cublasLtMatrixLayoutDestroy(c_);
  if (b_ != nullptr) cublasLtMatrixLayoutDestroy(b_);
  if (a_ != nullptr) cublasLtMatrixLayoutDestroy(a_);
  if (operation_ != nullptr) cublasLtMatmulDescDestroy(operation_);
  preference_ = nullptr, c_ = nullptr, b_ = nullptr, a_ = nullptr, operation_ = nullptr;
}

std::vector<cublasLtMatmulHeuristicResult_t> LtGemmDescription::heuristic(cublasLtHandle_t lt, int count,
                                                                          std::size_t workspace_bytes) const {
  const std::uint64_t bytes = workspace_bytes;
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(preference_, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &bytes,
                                                    sizeof bytes));
  std::vector<cublasLtMatmulHeuristicResult_t> results(std::size_t(std::max(count, 1)));
  int returned = 0;
  const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(lt, operation_, a_, b_, c_, c_, preference_, count,
                                                               results.data(), &returned);
  // NOT_SUPPORTED: no algorithm for this description (the caller falls back to cuBLAS); anything else is an error.
  if (status == CUBLAS_STATUS_NOT_SUPPORTED) return {};
  CUBLAS_CHECK(status);
  results.resize(std::size_t(std::max(returned, 0)));
  results.erase(std::remove_if(results.begin(), results.end(),
                               [](const cublasLtMatmulHeuristicResult_t& r) { return r.state != CUBLAS_STATUS_SUCCESS; }),
                results.end());
  return results;
}

void LtGemmDescription::run(cublasLtHandle_t lt, const cublasLtMatmulAlgo_t& algo, float alpha, const void* a,
                            const void* b, float beta, float* c, void* workspace, std::size_t workspace_bytes,
                            cudaStream_t stream) const {
  CUBLAS_CHECK(cublasLtMatmul(lt, operation_, &alpha, b, a_, a, b_, &beta, c, c_, c, c_, &algo, workspace,
                              workspace_bytes, stream));
}

cublasLtMatmulHeuristicResult_t LtGemmDescription::split_k_variant(cublasLtHandle_t lt,
                                                                   const cublasLtMatmulAlgo_t& algo, int splits,
                                                                   cublasLtReductionScheme_t scheme,
                                                                   std::size_t workspace_bytes) const {
  cublasLtMatmulHeuristicResult_t result{};
  result.state = CUBLAS_STATUS_NOT_SUPPORTED;
  std::int32_t supported = 0;
  std::uint32_t schemes = 0;
  std::size_t written = 0;
  if (cublasLtMatmulAlgoCapGetAttribute(&algo, CUBLASLT_ALGO_CAP_SPLITK_SUPPORT, &supported, sizeof supported,
                                        &written) != CUBLAS_STATUS_SUCCESS || supported == 0)
    return result;
  if (cublasLtMatmulAlgoCapGetAttribute(&algo, CUBLASLT_ALGO_CAP_REDUCTION_SCHEME_MASK, &schemes, sizeof schemes,
                                        &written) != CUBLAS_STATUS_SUCCESS || (schemes & std::uint32_t(scheme)) == 0)
    return result;
  result.algo = algo;
  const std::int32_t split = splits;
  const std::uint32_t reduction = std::uint32_t(scheme);
  CUBLAS_CHECK(cublasLtMatmulAlgoConfigSetAttribute(&result.algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &split,
                                                    sizeof split));
  CUBLAS_CHECK(cublasLtMatmulAlgoConfigSetAttribute(&result.algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &reduction,
                                                    sizeof reduction));
  cublasLtMatmulHeuristicResult_t checked{};
  if (cublasLtMatmulAlgoCheck(lt, operation_, a_, b_, c_, c_, &result.algo, &checked) != CUBLAS_STATUS_SUCCESS ||
      checked.state != CUBLAS_STATUS_SUCCESS || checked.workspaceSize > workspace_bytes)
    return result;
  result.workspaceSize = checked.workspaceSize;
  result.wavesCount = checked.wavesCount;
  result.state = CUBLAS_STATUS_SUCCESS;
  return result;
}

// ---- the plans ----------------------------------------------------------------------------------------------------

LtMatmul::LtMatmul() { CUBLAS_CHECK(cublasLtCreate(&lt_)); }

LtMatmul::~LtMatmul() {
  plans_.clear();
  cublasLtDestroy(lt_);
}

bool LtMatmul::run(const LtGemmShape& shape, bool timed, float alpha, const void* a, const void* b, float beta,
                   float* c, void* workspace, std::size_t workspace_bytes, cudaStream_t stream) {
  const auto key = std::make_pair(shape, timed);
  auto it = plans_.find(key);
  if (it == plans_.end())
    it = plans_.emplace(key, make_plan(shape, timed, a, b, workspace, workspace_bytes, stream)).first;
  const Plan& plan = it->second;
  if (!plan.has_algorithm) return false;
  plan.description->run(lt_, plan.algo, alpha, a, b, beta, c, workspace, workspace_bytes, stream);
  return true;
}

namespace {

// Split-k variants are tried for GEMMs whose output is small beside k: C's tiles alone cannot fill the card.
bool worth_splitting_k(const LtGemmShape& g) { return g.k >= 8 * std::max(g.m, g.n); }

}  // namespace

LtMatmul::Plan LtMatmul::make_plan(const LtGemmShape& shape, bool timed, const void* a, const void* b,
                                   void* workspace, std::size_t workspace_bytes, cudaStream_t stream) {
  Plan plan;
  plan.description = std::make_unique<LtGemmDescription>(shape);
  plan.report.gemm = shape.describe();
  plan.report.timed = timed;
  std::vector<cublasLtMatmulHeuristicResult_t> candidates =
      plan.description->heuristic(lt_, timed ? kCandidates : 1, workspace_bytes);
  if (candidates.empty()) {
    plan.report.algorithm = "none: cuBLAS";
    return plan;
  }
  plan.has_algorithm = true;
  plan.algo = candidates.front().algo;
  plan.report.candidates = int(candidates.size());
  if (timed) {
    cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
    CUDA_CHECK(cudaStreamIsCapturing(stream, &capturing));
    FASTTAB_REQUIRE(capturing == cudaStreamCaptureStatusNone, "internal: --gemm cublaslt-timed: GEMM ",
                    shape.describe(), " is first called inside a CUDA Graph capture, where its algorithms cannot be "
                    "timed; captured work must run once directly first");
    if (worth_splitting_k(shape)) {
      const std::size_t first = std::min<std::size_t>(candidates.size(), 2);
      for (std::size_t i = 0; i < first; ++i)
        for (int splits : {2, 4, 8, 16})
          for (cublasLtReductionScheme_t scheme : {CUBLASLT_REDUCTION_SCHEME_INPLACE,
                                                    CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE}) {
            const cublasLtMatmulHeuristicResult_t variant =
                plan.description->split_k_variant(lt_, candidates[i].algo, splits, scheme, workspace_bytes);
            if (variant.state == CUBLAS_STATUS_SUCCESS) candidates.push_back(variant);
          }
    }
    // Each candidate timed (EventTimer: a warm-up, then the median of kRepeats timings of kInner back-to-back
    // launches) into a scratch C: the GEMM's own A and B, beta 0 (C is not the caller's, whose beta may accumulate).
    // The device quiet first: a GEMM planned on the side stream (--overlap-weight-gradients) would otherwise be
    // timed while the main stream's work still runs beside it. Once per shape, outside any capture.
    CUDA_CHECK(cudaDeviceSynchronize());
    constexpr int kRepeats = 5, kInner = 3;
    void* scratch = nullptr;
    CUDA_CHECK(cudaMalloc(&scratch, std::size_t(shape.m) * std::size_t(shape.ldc) * sizeof(float)));
    const std::unique_ptr<void, cudaError_t (*)(void*)> scratch_owner(scratch, cudaFree);
    float* c = static_cast<float*>(scratch);
    std::vector<double> medians;
    for (const cublasLtMatmulHeuristicResult_t& candidate : candidates)
      medians.push_back(timer_.median_ms(stream, kRepeats, kInner, [&] {
        plan.description->run(lt_, candidate.algo, 1.0f, a, b, 0.0f, c, workspace, workspace_bytes, stream);
      }));
    std::size_t best = 0;
    for (std::size_t i = 1; i < medians.size(); ++i)
      if (medians[i] < medians[best]) best = i;
    if (medians[best] > medians[0] * (1.0 - kMinGain)) best = 0;  // not clearly faster: the heuristic's first
    plan.algo = candidates[best].algo;
    plan.report.candidates = int(candidates.size());
    plan.report.chosen = int(best);
    plan.report.ms = medians[best];
    plan.report.heuristic_first_ms = medians[0];
  }
  plan.report.algorithm = lt_algo_config(plan.algo).describe();
  return plan;
}

std::vector<GemmPlan> LtMatmul::reports() const {
  std::vector<GemmPlan> out;
  for (const auto& [key, plan] : plans_) out.push_back(plan.report);
  return out;
}

}  // namespace fasttab
