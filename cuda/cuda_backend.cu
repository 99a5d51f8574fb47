// CudaBackend: the Backend (include/fasttab/backend.hpp) on one CUDA device. Every op is enqueued on one
// non-blocking stream that the backend owns (cuBLAS is bound to it too, with a fixed 32 MiB workspace), so ops run
// in program order without host synchronisation (on_side_queue: a second stream with its own cuBLAS handle and
// workspace, ordered by events); only copy_to_backend/copy_to_host/copy_rows_to_backend, evaluate, find_nonfinite,
// column_moments and synchronize wait. Scratch for sorts and reductions lives in workspaces that grow only, sized
// by the first calls (the reduction and bias-gradient scratch is allocated up front).
//
// GEMM on row-major matrices through column-major cuBLAS: a row-major X is the column-major X^T, so
//   C[m,n] = op(A) op(B)  <=>  C^T[n,m] = op(B)^T op(A)^T,
// i.e. cublasSgemm(opB, opA, n, m, k, alpha, B, ldb, A, lda, beta, C, ldc) with the same leading dimensions.
// Under --gemm cublaslt and cublaslt-timed the same GEMMs go through cuBLASLt plans (cuda/lt_matmul.cuh), on the
// current lane's stream with its workspace; the first GEMM of a shape outside a capture makes its plan (timed: that
// call times the candidates, and waits for them).
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <string>

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include "cuda/ops/bias_activation.cuh"
#include "cuda/ops/column_reduce.cuh"
#include "cuda/ops/column_stats.cuh"
#include "cuda/launch.cuh"
#include "cuda/device_workspace.cuh"
#include "cuda/lt_matmul.cuh"
#include "cuda/ops/fill.cuh"
#include "cuda/ops/find_nonfinite.cuh"
#include "cuda/ops/fused_mlp.cuh"
#include "cuda/ops/embedding.cuh"
#include "cuda/ops/gather_rows.cuh"
#include "cuda/ops/loss.cuh"
#include "cuda/ops/convert_bf16.cuh"
#include "cuda/ops/metrics.cuh"
#include "cuda/ops/optimizer.cuh"
#include "cuda/ops/random_permutation.cuh"
#include "cuda/ops/row_reduce.cuh"
#include "fasttab/backend.hpp"
#include "cuda/cuda_backend.hpp"
#include "cuda/device_scope.cuh"
#include "fasttab/error.hpp"

namespace fasttab {
namespace {

static_assert(sizeof(__nv_bfloat16) == sizeof(bfloat16), "Backend's bfloat16 is laid out as __nv_bfloat16");

// Bias-gradient partial sums allocated up front: 256 chunks x 512 columns of doubles (1 MiB); wider layers grow it.
constexpr std::size_t kInitialColumnPartials = 256 * 512;


class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    CUDA_CHECK(cudaSetDevice(device));
    cudaDeviceProp props{};
    CUDA_CHECK(cudaGetDeviceProperties(&props, device));
    name_ = props.name;
    limits_ = device_limits(props);
    try {
      main_ = make_lane(CUBLAS_DEFAULT_MATH);
      reduce_scratch_.ensure((kRowReducePartials + 8) * sizeof(double), queue());
      column_scratch_.ensure(kInitialColumnPartials * sizeof(double), queue());
    } catch (...) {
      destroy_lane(main_);
      throw;
    }
  }

  CudaBackend(const CudaBackend&) = delete;  // lane_ points into the object itself
  CudaBackend& operator=(const CudaBackend&) = delete;

  // On the backend's device, for the body and the members' destructors after it (their cudaFree, the cuBLASLt
  // plans); device_at_exit_, destroyed last, gives the caller's device back.
  ~CudaBackend() override {
    device_at_exit_.emplace(device_, std::nothrow);
    if (side_.stream != nullptr) cudaStreamSynchronize(side_.stream);
    cudaStreamSynchronize(main_.stream);
    if (fork_event_ != nullptr) cudaEventDestroy(fork_event_);
    if (join_event_ != nullptr) cudaEventDestroy(join_event_);
    destroy_lane(side_);
    destroy_lane(main_);
  }

  cudaStream_t stream() const { return main_.stream; }

  const char* kind() const override { return "cuda"; }
  std::string device_name() const override { return name_; }

  // ---- memory ---------------------------------------------------------------------------------------------
  void* allocate(std::size_t bytes, const char* what) override {
    const DeviceScope scope(device_);
    if (bytes == 0) return nullptr;
    std::size_t free = 0, total = 0;
    CUDA_CHECK(cudaMemGetInfo(&free, &total));
    if (bytes > free)
      FASTTAB_FAIL("cannot allocate ", bytes, " bytes (", what, ") on ", name_, ": only ", free, " bytes are free");
    void* pointer = nullptr;
    const cudaError_t status = cudaMalloc(&pointer, bytes);
    if (status != cudaSuccess) {
      cudaGetLastError();  // clear the (non-sticky) allocation error
      cudaMemGetInfo(&free, &total);
      FASTTAB_FAIL("cannot allocate ", bytes, " bytes (", what, ") on ", name_, ": only ", free,
                   " bytes are free (", cudaGetErrorString(status), ")");
    }
    return pointer;
  }
  void release(void* pointer) noexcept override {
    if (!pointer) return;
    const DeviceScope scope(device_, std::nothrow);
    cudaFree(pointer);
    cudaGetLastError();  // nothing here is reported: no error may be left pending for a later check
  }
  std::size_t free_bytes() const override {
    const DeviceScope scope(device_);
    std::size_t free = 0, total = 0;
    CUDA_CHECK(cudaMemGetInfo(&free, &total));
    return free;
  }
  std::size_t total_bytes() const override {
    const DeviceScope scope(device_);
    std::size_t free = 0, total = 0;
    CUDA_CHECK(cudaMemGetInfo(&free, &total));
    return total;
  }
  void copy_to_backend(void* dst, const void* host_src, std::size_t bytes) override {
    const DeviceScope scope(device_);
    if (bytes == 0) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, queue()));
    CUDA_CHECK(cudaStreamSynchronize(queue()));
  }
  void copy_to_host(void* host_dst, const void* src, std::size_t bytes) override {
    const DeviceScope scope(device_);
    if (bytes == 0) return;
    CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, queue()));
    CUDA_CHECK(cudaStreamSynchronize(queue()));
  }
  // As the CPU backend: the padding of each destination row (dst_pitch - row_bytes bytes) is zeroed.
  void copy_rows_to_backend(void* dst, std::size_t dst_pitch, const void* host_src, std::size_t src_pitch,
                            std::size_t row_bytes, std::size_t rows) override {
    const DeviceScope scope(device_);
    copy_rows("copy_rows_to_backend", dst, dst_pitch, host_src, src_pitch, row_bytes, rows, cudaMemcpyHostToDevice);
    CUDA_CHECK(cudaStreamSynchronize(queue()));
  }
  void copy_within(void* dst, const void* src, std::size_t bytes) override {
    const DeviceScope scope(device_);
    if (bytes == 0) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, queue()));
  }
  void copy_rows_within(void* dst, std::size_t dst_pitch, const void* src, std::size_t src_pitch,
                        std::size_t row_bytes, std::size_t rows) override {
    const DeviceScope scope(device_);
    copy_rows("copy_rows_within", dst, dst_pitch, src, src_pitch, row_bytes, rows, cudaMemcpyDeviceToDevice);
  }
  bool can_read(const void* pointer) const override { return cuda_pointer_device(pointer) == device_; }
  void fill(float* dst, float value, std::size_t count) override {
    const DeviceScope scope(device_);
    fasttab::fill(dst, value, count, limits_, queue());
  }
  void scale(float* values, float factor, std::size_t count) override {
    const DeviceScope scope(device_);
    fasttab::scale(values, factor, count, limits_, queue());
  }
  void increment_counter(std::uint32_t* counter) override {
    const DeviceScope scope(device_);
    fasttab::increment_counter(counter, queue());
  }
  void synchronize() override {
    const DeviceScope scope(device_);
    if (side_.stream != nullptr) CUDA_CHECK(cudaStreamSynchronize(side_.stream));
    CUDA_CHECK(cudaStreamSynchronize(main_.stream));
  }

  // ---- the side queue -----------------------------------------------------------------------------------------
  // The side lane waits for an event recorded on the main stream; while `enqueue` runs, lane_ (whose stream and
  // cuBLAS handle every op uses) is the side lane; join records an event on the side stream for the main one to
  // wait on. The same events order the two streams inside a capture (the side stream joins the graph through them).
  void on_side_queue(const SideWork& enqueue) override {
    const DeviceScope scope(device_);
    FASTTAB_REQUIRE(lane_ == &main_, "on_side_queue: already on the side queue");
    if (side_.stream == nullptr) {
      cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
      CUDA_CHECK(cudaStreamIsCapturing(main_.stream, &capturing));
      FASTTAB_REQUIRE(capturing == cudaStreamCaptureStatusNone, "on_side_queue: the side stream is created by its "
                      "first use, which cannot be inside a capture: run the work once directly first");
      if (fork_event_ == nullptr) CUDA_CHECK(cudaEventCreateWithFlags(&fork_event_, cudaEventDisableTiming));
      if (join_event_ == nullptr) CUDA_CHECK(cudaEventCreateWithFlags(&join_event_, cudaEventDisableTiming));
      side_ = make_lane(math_mode_);
    }
    CUDA_CHECK(cudaEventRecord(fork_event_, main_.stream));
    CUDA_CHECK(cudaStreamWaitEvent(side_.stream, fork_event_, 0));
    side_pending_ = true;  // what `enqueue` enqueues, even if it throws halfway, is joined by the next join
    struct BackOnMain {
      CudaBackend& backend;
      ~BackOnMain() { backend.lane_ = &backend.main_; }
    } back_on_main{*this};
    lane_ = &side_;
    enqueue();
  }
  void join_side_queue() override {
    const DeviceScope scope(device_);
    if (!side_pending_) return;
    CUDA_CHECK(cudaEventRecord(join_event_, side_.stream));
    CUDA_CHECK(cudaStreamWaitEvent(main_.stream, join_event_, 0));
    side_pending_ = false;
  }

  // ---- captured work: CUDA Graphs ---------------------------------------------------------------------------
  // A graph instantiated from one capture of the stream, launched on the same stream.
  class GraphWork final : public CapturedWork {
   public:
    GraphWork(cudaGraphExec_t exec, cudaStream_t stream, int device) : exec_(exec), stream_(stream), device_(device) {}
    ~GraphWork() override { cudaGraphExecDestroy(exec_); }
    void run() override {
      const DeviceScope scope(device_);
      CUDA_CHECK(cudaGraphLaunch(exec_, stream_));
    }

   private:
    cudaGraphExec_t exec_;
    cudaStream_t stream_;
    int device_;
  };

  std::unique_ptr<CapturedWork> capture(std::function<void()> enqueue) override {
    const DeviceScope scope(device_);
    // cuBLAS does not allocate while the stream is captured: each handle has its own workspace from its creation.
    CUDA_CHECK(cudaStreamBeginCapture(queue(), cudaStreamCaptureModeThreadLocal));
    cudaGraph_t graph = nullptr;
    try {
      enqueue();
    } catch (...) {
      cudaStreamEndCapture(queue(), &graph);  // ends the failed capture; its error is the one thrown
      if (graph != nullptr) cudaGraphDestroy(graph);
      cudaGetLastError();
      side_pending_ = false;  // a fork inside the discarded graph has nothing to join
      throw;
    }
    CUDA_CHECK(cudaStreamEndCapture(queue(), &graph));
    for (DeviceWorkspace* scratch : {&reduce_scratch_, &column_scratch_, &embedding_.block})
      scratch->keep_blocks_on_growth();  // the graph holds their addresses
    cudaGraphExec_t exec = nullptr;
    const cudaError_t instantiated = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    CUDA_CHECK(instantiated);
    return std::make_unique<GraphWork>(exec, queue(), device_);
  }

  // ---- dense algebra ----------------------------------------------------------------------------------------
  void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
            int ldb, float beta, float* c, int ldc) override {
    const DeviceScope scope(device_);
    check_gemm_shape("gemm", trans_a, trans_b, m, n, k, lda, ldb, ldc);
    if (m == 0 || n == 0) return;
    const Precision precision = math_mode_ == CUBLAS_TF32_TENSOR_OP_MATH ? Precision::tf32 : Precision::fp32;
    if (through_lt(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, precision)) return;
    CUBLAS_CHECK(cublasSgemm(blas(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m,
                             k, &alpha, b, ldb, a, lda, &beta, c, ldc));
  }
  // tf32: the float32 GEMMs above on TF32 tensor cores. bf16's GEMMs are gemm_bf16's (tensor cores whatever the mode).
  void set_precision(Precision precision) override {
    const DeviceScope scope(device_);
    math_mode_ = precision == Precision::tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
    CUBLAS_CHECK(cublasSetMathMode(main_.cublas, math_mode_));
    if (side_.cublas != nullptr) CUBLAS_CHECK(cublasSetMathMode(side_.cublas, math_mode_));
  }
  void set_gemm_library(GemmLibrary library) override {
    const DeviceScope scope(device_);
    gemm_library_ = library;
    if (library != GemmLibrary::cublas && !lt_) lt_ = std::make_unique<LtMatmul>();
  }
  std::vector<GemmPlan> gemm_plans() const override { return lt_ ? lt_->reports() : std::vector<GemmPlan>{}; }

  // ---- bfloat16 storage -------------------------------------------------------------------------------------
  void convert_to_bf16(const float* src, int rows, int cols, int ld_src, bfloat16* dst, int ld_dst) override {
    const DeviceScope scope(device_);
    fasttab::convert_to_bf16(src, rows, cols, ld_src, device_bf16(dst), ld_dst, limits_, queue());
  }
  // As gemm(), through cublasGemmEx: bfloat16 A and B, float32 C, float32 accumulation (CUBLAS_COMPUTE_32F), the
  // heuristic's algorithm (CUBLAS_GEMM_DEFAULT: tensor-core kernels on sm_80 and later).
  void gemm_bf16(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const bfloat16* a, int lda,
                 const bfloat16* b, int ldb, float beta, float* c, int ldc) override {
    const DeviceScope scope(device_);
    check_gemm_shape("gemm_bf16", trans_a, trans_b, m, n, k, lda, ldb, ldc);
    if (m == 0 || n == 0) return;
    if (through_lt(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, Precision::bf16)) return;
    CUBLAS_CHECK(cublasGemmEx(blas(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m,
                              k, &alpha, b, CUDA_R_16BF, ldb, a, CUDA_R_16BF, lda, &beta, c, CUDA_R_32F, ldc,
                              CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
  void fused_mlp_forward_bf16(const FusedMlp& mlp, const float* x, int ld_x, int rows, float* out,
                              const FusedTraining& training) override {
    const DeviceScope scope(device_);
    fasttab::fused_mlp_forward_bf16(mlp, x, ld_x, rows, out, training, queue());
  }
  void fused_mlp_backward_bf16(const FusedMlp& mlp, const FusedTraining& forward, const float* grad_outputs, int rows,
                               const FusedGradients& gradients) override {
    const DeviceScope scope(device_);
    fasttab::fused_mlp_backward_bf16(mlp, forward, grad_outputs, rows, gradients, queue());
  }
  void bias_activation_dropout_forward_bf16(const float* z, int rows, int cols, int ld_z, const float* bias,
                                            Activation act, float dropout_p, DropoutKey key, bfloat16* out,
                                            int ld_out) override {
    const DeviceScope scope(device_);
    fasttab::bias_activation_dropout_forward_bf16(z, rows, cols, ld_z, bias, act, dropout_p, key, device_bf16(out),
                                                  ld_out, limits_, queue());
  }
  // The fused pass where the shape takes it (hidden widths 4k up to 1024), else the element pass (which writes the
  // float32 dL/dz into grad as well) and the bias gradient of grad.
  void activation_dropout_backward_bias_gradient_bf16(float* grad, int ld_grad, const bfloat16* out, int ld_out,
                                                      int rows, int cols, Activation act, float dropout_p,
                                                      DropoutKey key, float* bias_grad, bfloat16* grad_z,
                                                      int ld_grad_z) override {
    const DeviceScope scope(device_);
    const std::size_t partials_count = fused_backward_partials(rows, cols, limits_);
    double* partials = partials_count ? column_scratch_.ensure_as<double>(partials_count, queue()) : nullptr;
    if (fasttab::activation_dropout_backward_bias_gradient_bf16(grad, ld_grad, device_bf16(out), ld_out, rows, cols,
                                                                act, dropout_p, key, bias_grad, device_bf16(grad_z),
                                                                ld_grad_z, partials, limits_, queue()))
      return;
    fasttab::activation_dropout_backward_to_bf16(grad, ld_grad, device_bf16(out), ld_out, rows, cols, act, dropout_p,
                                                 key, device_bf16(grad_z), ld_grad_z, limits_, queue());
    bias_gradient(grad, rows, cols, ld_grad, bias_grad);
  }

  // ---- the MLP's element-wise ops -------------------------------------------------------------------------
  void bias_activation_dropout_forward(float* z, int rows, int cols, int ld, const float* bias, Activation act,
                                       float dropout_p, DropoutKey key) override {
    const DeviceScope scope(device_);
    fasttab::bias_activation_dropout_forward(z, rows, cols, ld, bias, act, dropout_p, key, limits_, queue());
  }
  void activation_dropout_backward(float* grad, const float* out, int rows, int cols, int ld, Activation act,
                                   float dropout_p, DropoutKey key) override {
    const DeviceScope scope(device_);
    fasttab::activation_dropout_backward(grad, out, rows, cols, ld, act, dropout_p, key, limits_, queue());
  }
  void activation_dropout_backward_bias_gradient(float* grad, const float* out, int rows, int cols, int ld,
                                                 Activation act, float dropout_p, DropoutKey key,
                                                 float* bias_grad) override {
    const DeviceScope scope(device_);
    const std::size_t partials_count = fused_backward_partials(rows, cols, limits_);
    double* partials = partials_count ? column_scratch_.ensure_as<double>(partials_count, queue()) : nullptr;
    if (!fasttab::activation_dropout_backward_bias_gradient(grad, out, rows, cols, ld, act, dropout_p, key, bias_grad,
                                                            partials, limits_, queue()))
      Backend::activation_dropout_backward_bias_gradient(grad, out, rows, cols, ld, act, dropout_p, key, bias_grad);
  }
  void bias_gradient(const float* grad, int rows, int cols, int ld, float* bias_grad) override {
    const DeviceScope scope(device_);
    double* partials = column_scratch_.ensure_as<double>(column_sums_partials(rows, cols, limits_), queue());
    fasttab::bias_gradient(grad, rows, cols, ld, bias_grad, partials, limits_, queue());
  }
  void loss_forward_backward(Task task, const float* outputs, int rows, int width, int ld, const float* labels,
                             float* grad, float* loss) override {
    const DeviceScope scope(device_);
    fasttab::loss_forward_backward(task, outputs, rows, width, ld, labels, grad, loss, reduce_partials(), queue());
  }
  void optimizer_update(const OptimizerUpdate& update, float* params, const float* grads, float* state1,
                        float* state2, std::size_t count) override {
    const DeviceScope scope(device_);
    fasttab::optimizer_update(update, params, grads, state1, state2, count, limits_, queue());
  }

  // ---- categorical embeddings ------------------------------------------------------------------------------
  void embed_inputs(const float* x, int ld_x, int rows, const InputLayout& layout, const float* tables, float* e,
                    int ld_e) override {
    const DeviceScope scope(device_);
    fasttab::embed_inputs(x, ld_x, rows, layout, tables, e, ld_e, limits_, queue());
  }
  void embedding_gradient(const float* x, int ld_x, int rows, const InputLayout& layout, const float* grad_e, int ld_g,
                          float* table_grads) override {
    const DeviceScope scope(device_);
    fasttab::embedding_gradient(x, ld_x, rows, layout, grad_e, ld_g, table_grads, embedding_, limits_, queue());
  }

  // ---- data movement --------------------------------------------------------------------------------------
  void gather_rows(const float* features, int ld, const float* labels, const std::uint32_t* indices,
                   std::int64_t count, float* out_features, float* out_labels) override {
    const DeviceScope scope(device_);
    fasttab::gather_rows(features, ld, labels, indices, count, out_features, out_labels, limits_, queue());
  }
  void random_permutation(std::uint64_t seed, std::uint32_t epoch, std::uint32_t n, std::uint32_t* out) override {
    const DeviceScope scope(device_);
    fasttab::random_permutation(seed, epoch, n, out, permutation_, queue());
  }

  // ---- statistics -----------------------------------------------------------------------------------------
  Metrics evaluate(Task task, const float* outputs, std::int64_t rows, int width, int ld,
                   const float* labels) override {
    const DeviceScope scope(device_);
    return fasttab::evaluate(task, outputs, rows, width, ld, labels, metrics_, queue());
  }
  std::int64_t find_nonfinite(const float* values, std::int64_t count) override {
    const DeviceScope scope(device_);
    return fasttab::find_nonfinite(values, count, nonfinite_, limits_, queue());
  }
  void column_moments(const float* table, std::int64_t rows, int cols, int ld, double* host_mean,
                      double* host_std) override {
    const DeviceScope scope(device_);
    fasttab::column_moments(table, rows, cols, ld, host_mean, host_std, moments_, limits_, queue());
  }
  void standardize_columns(float* table, std::int64_t rows, int cols, int ld, const float* mean,
                           const float* inv_std) override {
    const DeviceScope scope(device_);
    fasttab::standardize_columns(table, rows, cols, ld, mean, inv_std, limits_, queue());
  }

 private:
  static __nv_bfloat16* device_bf16(bfloat16* p) { return reinterpret_cast<__nv_bfloat16*>(p); }
  static const __nv_bfloat16* device_bf16(const bfloat16* p) { return reinterpret_cast<const __nv_bfloat16*>(p); }
  static void check_gemm_shape(const char* op, bool trans_a, bool trans_b, int m, int n, int k, int lda, int ldb,
                               int ldc) {
    FASTTAB_REQUIRE(m >= 0 && n >= 0 && k >= 0, op, ": negative size m=", m, " n=", n, " k=", k);
    const int min_lda = trans_a ? m : k, min_ldb = trans_b ? k : n;
    FASTTAB_REQUIRE(lda >= (min_lda > 1 ? min_lda : 1), op, ": lda ", lda, " < ", min_lda);
    FASTTAB_REQUIRE(ldb >= (min_ldb > 1 ? min_ldb : 1), op, ": ldb ", ldb, " < ", min_ldb);
    FASTTAB_REQUIRE(ldc >= n, op, ": ldc ", ldc, " < n ", n);
  }
  // --gemm cublaslt, cublaslt-timed: the GEMM through its cuBLASLt plan, on the current lane with its workspace.
  // False (nothing enqueued) under cublas, or when cuBLASLt offers no algorithm for the shape: the caller's cuBLAS
  // call runs it.
  bool through_lt(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const void* a, int lda, const void* b,
                  int ldb, float beta, float* c, int ldc, Precision precision) {
    if (gemm_library_ == GemmLibrary::cublas || k == 0) return false;  // k = 0 (C = beta C): cuBLAS's case
    LtGemmShape shape;
    shape.trans_a = trans_a, shape.trans_b = trans_b;
    shape.m = m, shape.n = n, shape.k = k, shape.lda = lda, shape.ldb = ldb, shape.ldc = ldc;
    shape.precision = precision;
    shape.align_a = pointer_alignment(a), shape.align_b = pointer_alignment(b), shape.align_c = pointer_alignment(c);
    return lt_->run(shape, gemm_library_ == GemmLibrary::cublaslt_timed, alpha, a, b, beta, c, lane_->workspace,
                    kCublasWorkspaceBytes, queue());
  }
  // Enqueues rows x row_bytes from rows src_pitch apart to device rows dst_pitch apart (`kind`: from the host or
  // within the device), the padding of each destination row zeroed.
  void copy_rows(const char* op, void* dst, std::size_t dst_pitch, const void* src, std::size_t src_pitch,
                 std::size_t row_bytes, std::size_t rows, cudaMemcpyKind kind) {
    FASTTAB_REQUIRE(dst_pitch >= row_bytes && src_pitch >= row_bytes, op, ": row of ", row_bytes,
                    " bytes with pitches ", dst_pitch, " (destination) and ", src_pitch, " (source)");
    if (rows == 0 || dst_pitch == 0) return;
    if (dst_pitch > row_bytes)
      CUDA_CHECK(cudaMemset2DAsync(static_cast<char*>(dst) + row_bytes, dst_pitch, 0, dst_pitch - row_bytes, rows,
                                   queue()));
    if (row_bytes > 0) CUDA_CHECK(cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, row_bytes, rows, kind, queue()));
  }

  // A stream and the cuBLAS handle bound to it, with a fixed workspace in place of the one cuBLAS manages: 32 MiB,
  // NVIDIA's advice for Hopper. Fixed from the start, so that no GEMM allocates inside a graph and every GEMM of a
  // shape gets the same algorithm (and bits) op by op, captured, or on either lane.
  struct Lane {
    cudaStream_t stream = nullptr;
    cublasHandle_t cublas = nullptr;
    void* workspace = nullptr;
  };
  static constexpr std::size_t kCublasWorkspaceBytes = std::size_t(32) << 20;
  static Lane make_lane(cublasMath_t math_mode) {
    Lane lane;
    try {
      CUDA_CHECK(cudaStreamCreateWithFlags(&lane.stream, cudaStreamNonBlocking));
      CUBLAS_CHECK(cublasCreate(&lane.cublas));
      CUBLAS_CHECK(cublasSetStream(lane.cublas, lane.stream));
      CUBLAS_CHECK(cublasSetMathMode(lane.cublas, math_mode));
      CUDA_CHECK(cudaMalloc(&lane.workspace, kCublasWorkspaceBytes));
      CUBLAS_CHECK(cublasSetWorkspace(lane.cublas, lane.workspace, kCublasWorkspaceBytes));
    } catch (...) {
      destroy_lane(lane);
      throw;
    }
    return lane;
  }
  static void destroy_lane(Lane& lane) noexcept {
    if (lane.cublas != nullptr) cublasDestroy(lane.cublas);
    if (lane.workspace != nullptr) cudaFree(lane.workspace);
    if (lane.stream != nullptr) cudaStreamDestroy(lane.stream);
    lane = Lane{};
  }

  // kRowReducePartials doubles of per-block partials, then 8 doubles of results (allocated in the constructor).
  double* reduce_partials() { return reduce_scratch_.ensure_as<double>(kRowReducePartials + 8, queue()); }

  std::optional<DeviceScope> device_at_exit_;  // first: destroyed after every other member (see ~CudaBackend)
  std::string name_;
  DeviceLimits limits_;  // SM count and threads per SM, for the launchers' grid sizes
  int device_ = 0;
  Lane main_, side_;  // side_: created by the first on_side_queue
  cudaEvent_t fork_event_ = nullptr, join_event_ = nullptr;
  bool side_pending_ = false;  // side-queue work not yet joined
  cublasMath_t math_mode_ = CUBLAS_DEFAULT_MATH;
  GemmLibrary gemm_library_ = GemmLibrary::cublas;
  std::unique_ptr<LtMatmul> lt_;                   // the cuBLASLt plans (created by set_gemm_library)
  const Lane* lane_ = &main_;  // where ops are enqueued: main_, or side_ inside on_side_queue
  cudaStream_t queue() const { return lane_->stream; }  // the stream every op is enqueued on now
  cublasHandle_t blas() const { return lane_->cublas; }  // the cuBLAS handle bound to it
  DeviceWorkspace reduce_scratch_;
  DeviceWorkspace column_scratch_;
  DeviceWorkspace moments_;
  PermutationWorkspace permutation_;
  MetricsWorkspace metrics_;
  EmbeddingWorkspace embedding_;
  DeviceWorkspace nonfinite_;
};

}  // namespace

int cuda_device_count() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: not an error for the caller
    return 0;
  }
  return count;
}

int cuda_pointer_device(const void* pointer) {
  if (pointer == nullptr) return -1;
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, pointer) != cudaSuccess) {
    cudaGetLastError();  // no driver, or an address CUDA cannot tell: host memory for the caller
    return -1;
  }
  const bool on_device = attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
  return on_device ? attributes.device : -1;
}

void wait_for_cuda_device(int device) {
  const DeviceScope scope(device);
  CUDA_CHECK(cudaDeviceSynchronize());
}

CallerCudaDevice::CallerCudaDevice() {
  if (cudaGetDevice(&device_) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: nothing to give back
    device_ = -1;
  }
}

// Only a device the caller has used is made current again: cudaSetDevice creates a context on a device that has
// none (hundreds of MB on a GPU the caller never touched, e.g. the default device 0 of a process on cuda:1).
void CallerCudaDevice::give_back() const { make_used_device_current(device_); }

std::unique_ptr<Backend> make_cuda_backend(int device) {
  const int count = cuda_device_count();
  if (count == 0) FASTTAB_FAIL("no CUDA device is visible (no driver or no GPU)");
  FASTTAB_REQUIRE(device >= 0 && device < count, "CUDA device ", device, " does not exist: ", count,
                  " device(s) are visible");
  return std::make_unique<CudaBackend>(device);
}

cudaStream_t cuda_stream(Backend& backend) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  if (!cuda) FASTTAB_FAIL("cuda_stream: the backend is \"", backend.kind(), "\", not \"cuda\"");
  return cuda->stream();
}

}  // namespace fasttab
