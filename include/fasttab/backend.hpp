// Backend: where the numbers live and the operations that the trainer composes.
//
// The trainer, the loaders and the model are written once against this interface; CpuBackend runs every op
// with plain loops (and OpenBLAS for GEMM) and is the reference, CudaBackend runs them as CUDA kernels and
// cuBLAS calls on one stream. Tests run each op on both and compare.
//
// Conventions, for every op:
//   * Pointers point into the backend's memory (device memory for CUDA): the "B" in the names below.
//   * Matrices are row-major with an explicit leading dimension (elements between the starts of two rows).
//   * Ops are asynchronous in stream order on a GPU and return at once; nothing in them allocates, except a
//     workspace that an op sizes once on its first call (sort, reduction scratch) and then keeps.
//   * Only ops whose result is a host value (evaluate, column_moments, copy_to_host) wait for the device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

namespace fasttab {

enum class Activation { tanh, relu, identity };
enum class Task { binary, multiclass, regression };
// fp32: float32 GEMMs. tf32: float32 data, TF32 tensor-core GEMMs on the GPU. bf16: every GEMM input (a bfloat16 copy
// of the weights, the stored activations, the first layer's input and the gradients w.r.t. pre-activations) is
// stored in bfloat16 and the GEMMs accumulate in float32 (tensor cores on the GPU); master weights, optimiser
// state, biases, parameter gradients, the logits, the loss and the metrics stay float32 (Mlp).
enum class Precision { fp32, tf32, bf16 };
// The library behind the CUDA backend's GEMMs (the CPU's are OpenBLAS's whatever this says). cublas: cublasSgemm and
// cublasGemmEx, cuBLAS's own choice of kernel. cublaslt: cuBLASLt, the first algorithm of its heuristic for each
// GEMM shape (the same in every run on one device and library). cublaslt_timed: cuBLASLt, the fastest of the
// heuristic's first algorithms and of split-k variants, timed at each shape's first call (two runs may choose
// differently, and then differ in the last bits). cuda/lt_matmul.cuh.
enum class GemmLibrary { cublas, cublaslt, cublaslt_timed };
// What a GEMM plan of the cuBLASLt libraries chose (Backend::gemm_plans), for reports.
struct GemmPlan {
  std::string gemm;       // the GEMM: "C[16384 x 300] = A[16384 x 304] B^T[300 x 304], k 300, ldc 300, bf16, ..."
  std::string algorithm;  // "algo 66 tile 20 stages 8 split-k 1 reduction 0", or "none: cuBLAS" (none offered)
  bool timed = false;
  int candidates = 0;     // the algorithms timed (timed) or asked of the heuristic
  int chosen = 0;         // the chosen one's place among them (0: the heuristic's first)
  double ms = 0, heuristic_first_ms = 0;  // timed: the chosen one's and the heuristic first's median milliseconds
};

// A bfloat16 number as stored in backend memory: the upper 16 bits of a float32 (sign, 8 exponent bits, 7 mantissa
// bits), the layout of CUDA's __nv_bfloat16, so that an array of it is an __nv_bfloat16 array on the GPU.
struct bfloat16 {
  std::uint16_t bits;
};
static_assert(sizeof(bfloat16) == 2, "bfloat16 is two bytes");
enum class OptimizerKind { adam, adamw, sgd };

// One column of the model's input rows x (the table's feature columns, in order), and where it goes in the
// assembled first-layer input e: a numeric column (dim 0) is copied to e[:, out_offset]; a categorical column
// holds a code (an integer-valued float: 0 missing, 1 unseen or rare, 2.. the vocabulary's categories) and its
// embedding row tables[table_offset + code * dim + k], k < dim, goes to e[:, out_offset + k]. A code that is not
// an integer in [0, cardinality) (never produced by the encoder) reads row 1, the unseen bucket; NaN reads row 0.
struct InputColumn {
  int out_offset = 0;
  int dim = 0;            // 0: numeric
  int cardinality = 0;    // categorical: rows of its embedding table
  std::int64_t table_offset = 0;  // categorical: its table's first float, from `tables`
};

// The columns of x as the embedding ops see them: the same array in host memory and in backend memory (the CPU
// backend reads `host`; CUDA reads `device` in kernels and `host` to plan launches).
struct InputLayout {
  const InputColumn* host = nullptr;
  const InputColumn* device = nullptr;
  int columns = 0;  // columns of x
  int width = 0;    // columns of e: numeric columns + the sum of the embedding dims
};

// A captured training step's step counter: a word of backend memory holding the number of steps done, which
// the step's ops read (DropoutKey::step_counter, OptimizerUpdate::step_counter) and which the step's last op
// advances (Backend::increment_counter), so that a CUDA Graph replays each step with its own masks and update.

// Which dropout mask: element (row, column) of layer `layer` at training step `step` is kept iff
// dropout_keep(seed, step, layer, (first_row + row) * width + column, p) (philox.hpp). The backward pass
// recomputes it. first_row is where the rows an op sees start in the global batch: 0 for one process; a
// data-parallel rank's slice of the batch starts there, so that it draws the single-process run's masks.
// With step_counter set, the step is read from that word of backend memory when the op runs instead (a captured
// training step, replayed with the step that the counter holds then).
struct DropoutKey {
  std::uint64_t seed = 0;
  std::uint32_t step = 0;
  std::uint32_t layer = 0;
  std::uint64_t first_row = 0;
  const std::uint32_t* step_counter = nullptr;
};

// One optimiser step over a flat parameter vector, the hyper-parameters resolved on the host for this step.
//   adam  (PyTorch Adam):  g += wd*p;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
//                          p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps),  bc1 = 1-b1^t, bc2 = 1-b2^t
//   adamw (PyTorch AdamW): p *= 1 - lr*wd; then Adam without the g += wd*p term
//   sgd   (PyTorch SGD):   g += wd*p;  m = g at t == 1, else m = momentum*m + g;  p -= lr*m   (m unused if momentum 0)
struct OptimizerUpdate {
  OptimizerKind kind = OptimizerKind::adam;
  float lr = 1e-3f;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weight_decay = 0.0f;
  float momentum = 0.0f;
  std::int64_t step = 1;  // t, counted from 1
  float bias_correction1 = 1.0f;  // 1 - beta1^t
  float bias_correction2 = 1.0f;  // 1 - beta2^t
  // A captured step's update: when step_counter is set, t = *step_counter + 1 and lr, bias_correction1
  // and bias_correction2 are read when the op runs from schedule[3 * ((t - 1) % schedule_steps) + {0, 1, 2}]: the
  // run's per-step values (the trainer writes all of its steps; bench_step a window that repeats), filled on the
  // host so that they are the same floats as above; step, lr and the bias corrections above are then ignored.
  const std::uint32_t* step_counter = nullptr;
  const float* schedule = nullptr;
  std::int64_t schedule_steps = 0;
};

// What an evaluation returns (host values). Fields that do not apply to the task are NaN.
struct Metrics {
  double loss = 0;      // mean log loss (binary, multiclass) or mean squared error (regression)
  double auc = 0;       // binary: ROC AUC, ties counted one half
  double accuracy = 0;  // binary (threshold 0.5) and multiclass (argmax)
  double rmse = 0;      // regression: root mean squared error
  double mae = 0;       // regression: mean absolute error
  double r2 = 0;        // regression
  std::int64_t rows = 0;
};

// Work given to Backend::on_side_queue: a callable with no arguments held inline, so that handing it over allocates
// nothing (the training step allocates nothing), and copied by a backend that runs it later. It holds any trivially
// copyable callable of at most kBytes bytes: a lambda that captures pointers, sizes and references.
class SideWork {
 public:
  static constexpr std::size_t kBytes = 96;
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, SideWork>>>
  SideWork(const F& f) : call_([](const void* work) { (*static_cast<const F*>(work))(); }) {  // NOLINT: implicit
    static_assert(sizeof(F) <= kBytes && alignof(F) <= alignof(std::max_align_t),
                  "SideWork: the callable is too large to hold inline (raise kBytes)");
    static_assert(std::is_trivially_copyable_v<F> && std::is_trivially_destructible_v<F>,
                  "SideWork: capture pointers, sizes and references only (copied as bytes)");
    ::new (static_cast<void*>(storage_)) F(f);
  }
  void operator()() const { call_(storage_); }

 private:
  alignas(std::max_align_t) unsigned char storage_[kBytes];
  void (*call_)(const void*);
};

// The fused MLP passes' arguments (host/backend/fused_mlp.hpp).
struct FusedMlp;
struct FusedTraining;
struct FusedGradients;
class Backend {
 public:
  virtual ~Backend() = default;

  virtual const char* kind() const = 0;             // "cpu" or "cuda"
  virtual std::string device_name() const = 0;      // "NVIDIA H100 80GB HBM3", or "cpu"

  // ---- memory -------------------------------------------------------------------------------------------
  // Throws Error saying how many bytes were asked for and how many are free.
  virtual void* allocate(std::size_t bytes, const char* what) = 0;
  virtual void release(void* pointer) noexcept = 0;
  virtual std::size_t free_bytes() const = 0;
  virtual std::size_t total_bytes() const = 0;
  // Synchronous copies between host memory and backend memory (the host copy waits for queued work).
  virtual void copy_to_backend(void* dst, const void* host_src, std::size_t bytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, std::size_t bytes) = 0;
  // rows x row_bytes from host rows src_pitch apart to backend rows dst_pitch apart (a padded upload).
  virtual void copy_rows_to_backend(void* dst, std::size_t dst_pitch, const void* host_src, std::size_t src_pitch,
                                    std::size_t row_bytes, std::size_t rows) = 0;
  // Asynchronous copy inside backend memory.
  virtual void copy_within(void* dst, const void* src, std::size_t bytes) = 0;
  // Asynchronous, inside backend memory: rows x row_bytes from rows src_pitch apart to rows dst_pitch apart, the
  // padding of each destination row (dst_pitch - row_bytes) zeroed, as copy_rows_to_backend does.
  virtual void copy_rows_within(void* dst, std::size_t dst_pitch, const void* src, std::size_t src_pitch,
                                std::size_t row_bytes, std::size_t rows) = 0;
  // Whether the ops of this backend can read `pointer` in place: host memory for the CPU backend (any address that
  // is not CUDA device memory), memory of its own device (device or managed) for the CUDA backend. For arrays the
  // caller already holds (FeatureView in dataset.hpp).
  virtual bool can_read(const void* pointer) const = 0;
  virtual void fill(float* dst, float value, std::size_t count) = 0;
  // In place: values[i] *= factor for i in [0, count) (a data-parallel rank's share of a batch mean).
  virtual void scale(float* values, float factor, std::size_t count) = 0;
  // In place, asynchronously: *counter += 1 (a word of backend memory: the step counter of a captured step).
  virtual void increment_counter(std::uint32_t* counter) = 0;
  virtual void synchronize() = 0;

  // ---- captured work ------------------------------------------------------------------------------------
  // Work recorded once and run again and again: CUDA records what `enqueue` launches on the backend's stream as a
  // CUDA Graph (nothing runs while it records) and run() launches the graph, one launch for all of its kernels;
  // the CPU backend keeps `enqueue` and calls it at each run(). Every run does what `enqueue` did when recorded:
  // the same ops on the same pointers and sizes, so anything that changes between runs must be read from backend
  // memory (the step counter, above). `enqueue` must only enqueue (no allocation, no wait, no host copy) and the workspaces it
  // uses must already be sized (run the same work once directly first). Errors during recording end it and throw.
  class CapturedWork {
   public:
    virtual ~CapturedWork() = default;
    virtual void run() = 0;
  };
  virtual std::unique_ptr<CapturedWork> capture(std::function<void()> enqueue) = 0;

  // ---- a second queue -----------------------------------------------------------------------------------
  // Work that may run beside what the main queue does next (the weight-gradient GEMMs beside the rest of the
  // backward pass). on_side_queue: what `enqueue` enqueues goes to the side queue (CUDA: a second stream with its own
  // cuBLAS handle and workspace), after everything enqueued on the main queue so far; the caller must not let
  // later main-queue work write what it reads or read what it writes before join_side_queue(), after which the
  // main queue's work waits for all of it. Inside a capture both are recorded. `enqueue` may be kept and called as
  // late as join_side_queue (capture what it needs by value): the CPU backend calls it there, after the main-queue
  // work enqueued since, so that its reference results show any such hazard. Enqueued only.
  virtual void on_side_queue(const SideWork& enqueue) = 0;
  virtual void join_side_queue() = 0;

  // ---- dense algebra ------------------------------------------------------------------------------------
  // C[m,n] = alpha * op(A) op(B) + beta * C, op(A) m x k, op(B) k x n; op(X) = X^T when trans_x.
  // Row-major: A is m x k (lda >= k), or k x m (lda >= m) when trans_a; likewise B; ldc >= n.
  virtual void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                    const float* b, int ldb, float beta, float* c, int ldc) = 0;
  // tf32 lets the GPU use tensor cores for the float32 GEMMs above; fp32 and bf16 keep them float32 (bf16's GEMMs
  // are gemm_bf16's).
  virtual void set_precision(Precision precision) = 0;
  // The library of the GEMMs above and gemm_bf16's (CUDA; the CPU backend accepts every value and keeps OpenBLAS).
  // A plan per GEMM shape is made at the shape's first call, outside any capture (captured work runs once first).
  virtual void set_gemm_library(GemmLibrary library) = 0;
  // The plans made so far under the cuBLASLt libraries, in no particular order (none on the CPU or under cublas).
  virtual std::vector<GemmPlan> gemm_plans() const { return {}; }

  // ---- bfloat16 storage (Precision::bf16) -----------------------------------------------------------------
  // dst[r, c] = src[r, c] rounded to bfloat16 for r < rows, c < cols (leading dims ld_src, ld_dst; the padding of
  // dst's rows is not written): round-to-nearest-even, as CUDA's __float2bfloat16_rn: subnormals kept (not flushed),
  // overflow to +-Inf, every NaN becomes the canonical bfloat16 NaN 0x7FFF. Bit-exact on every backend
  // (reference::bf16_bits).
  virtual void convert_to_bf16(const float* src, int rows, int cols, int ld_src, bfloat16* dst, int ld_dst) = 0;
  // gemm() with bfloat16 operands and a float32 C: C = alpha op(A) op(B) + beta C, the products of the bfloat16
  // values (exact in float32) summed in float32. CUDA: cublasGemmEx, CUDA_R_16BF inputs, CUBLAS_COMPUTE_32F (tensor
  // cores); the CPU widens A and B to float32 (exactly) and runs OpenBLAS's sgemm. Rows of 8 bfloat16s (16 bytes)
  // let the GPU use its fastest kernels (Mlp pads its leading dimensions to that).
  virtual void gemm_bf16(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const bfloat16* a, int lda,
                         const bfloat16* b, int ldb, float beta, float* c, int ldc) = 0;
  // bias_activation_dropout_forward from a float32 z [rows, cols] (leading dim ld_z, not changed) into a bfloat16
  // out [rows, cols] (leading dim ld_out): out = bf16(keep ? act(z + bias[col]) * scale : 0), the float32 value of
  // the float32 op rounded once.
  virtual void bias_activation_dropout_forward_bf16(const float* z, int rows, int cols, int ld_z, const float* bias,
                                                    Activation act, float dropout_p, DropoutKey key, bfloat16* out,
                                                    int ld_out) = 0;
  // activation_dropout_backward_bias_gradient with the forward op's output stored in bfloat16 (out, leading dim
  // ld_out): dz = the float32 op's dL/dz from grad (float32 dL/da, leading dim ld_grad) and float(out);
  // bias_grad[c] = sum over rows of dz[r, c] (float32 dz, summed as bias_gradient does); grad_z[r, c] = bf16(dz)
  // (leading dim ld_grad_z), the next backward GEMMs' input. grad is scratch: its contents afterwards are unspecified.
  virtual void activation_dropout_backward_bias_gradient_bf16(float* grad, int ld_grad, const bfloat16* out,
                                                              int ld_out, int rows, int cols, Activation act,
                                                              float dropout_p, DropoutKey key, float* bias_grad,
                                                              bfloat16* grad_z, int ld_grad_z) = 0;

  // The fused bf16 MLP passes (Mlp with `fused`, --fused-mlp; the types, the arithmetic and the layout are in
  // host/backend/fused_mlp.hpp): the whole forward pass (out = the logits [rows, last units]; with
  // training.active(), the training pass writing its input and hidden activations out), and after a training pass
  // the backward pass's chain (g16 and per-block bias sums of every layer, from grad_outputs [rows, last units]).
  // CUDA: one kernel each on the tensor cores; CPU: the kernels' block code with scalar tiles.
  virtual void fused_mlp_forward_bf16(const FusedMlp& mlp, const float* x, int ld_x, int rows, float* out,
                                      const FusedTraining& training) = 0;
  virtual void fused_mlp_backward_bf16(const FusedMlp& mlp, const FusedTraining& forward, const float* grad_outputs,
                                       int rows, const FusedGradients& gradients) = 0;

  // ---- the MLP's element-wise ops ----------------------------------------------------------------------
  // In place over z[rows, cols] (leading dim ld):  a = act(z + bias[col]);  with p > 0 (training only):
  // a = keep ? a / (1 - p) : 0, keep from DropoutKey (index = (key.first_row + row) * cols + col).
  virtual void bias_activation_dropout_forward(float* z, int rows, int cols, int ld, const float* bias,
                                               Activation act, float dropout_p, DropoutKey key) = 0;
  // In place over grad[rows, cols]: grad = dL/d(output of the forward op above) on entry and dL/dz on exit.
  // `out` is that forward op's output (stored instead of z): for kept elements a = out * (1 - p), and
  //   tanh' = 1 - a^2,  relu' = [a > 0],  identity' = 1;  dropped elements get 0;  kept ones are scaled 1/(1-p).
  virtual void activation_dropout_backward(float* grad, const float* out, int rows, int cols, int ld,
                                           Activation act, float dropout_p, DropoutKey key) = 0;
  // bias_grad[c] = sum over rows r of grad[r, c]   (grad leading dim ld)
  virtual void bias_gradient(const float* grad, int rows, int cols, int ld, float* bias_grad) = 0;
  // activation_dropout_backward, then bias_gradient of its result: the gradient of the layer below's bias comes
  // out of the same pass over grad. A backend may fuse the two (CUDA does, for rows of whole float4s; each thread
  // sums its few rows in float32, about rows / (4 x SMs x 256 / width) of them, before the double sums).
  virtual void activation_dropout_backward_bias_gradient(float* grad, const float* out, int rows, int cols, int ld,
                                                         Activation act, float dropout_p, DropoutKey key,
                                                         float* bias_grad) {
    activation_dropout_backward(grad, out, rows, cols, ld, act, dropout_p, key);
    bias_gradient(grad, rows, cols, ld, bias_grad);
  }

  // Loss of the outputs (the last layer's pre-activation, rows x width, leading dim ld) against labels:
  //   binary (width 1):     mean over rows of  softplus(x) - y*x        (stable BCE from the logit)
  //   multiclass (width K): mean of  logsumexp(x_r) - x_r[y_r]          (softmax cross-entropy)
  //   regression (width 1): mean of  (x - y)^2
  // Writes the mean into *loss (one float in backend memory) and dL/dx into grad (rows x width, leading dim ld).
  virtual void loss_forward_backward(Task task, const float* outputs, int rows, int width, int ld,
                                     const float* labels, float* grad, float* loss) = 0;

  // One optimiser step on the flat vectors params, grads, state1 (m or momentum), state2 (v), count long.
  virtual void optimizer_update(const OptimizerUpdate& update, float* params, const float* grads, float* state1,
                                float* state2, std::size_t count) = 0;

  // ---- categorical embeddings --------------------------------------------------------------------------
  // e[r, :] (leading dim ld_e, layout.width columns) = x[r, :] with every categorical code replaced by its
  // embedding row (see InputColumn), for r < rows. Bit-exact copies.
  virtual void embed_inputs(const float* x, int ld_x, int rows, const InputLayout& layout, const float* tables,
                            float* e, int ld_e) = 0;
  // The embedding tables' gradient from grad_e = dL/de [rows, layout.width] (leading dim ld_g): for each
  // categorical column and each of its codes v,  table_grads[table_offset + v * dim + k] =
  //   sum over the rows r with code v, in increasing r, of grad_e[r, out_offset + k]   (0 for codes not present).
  // The sum runs in row order starting from 0.0f on every backend, so the result is deterministic and the CUDA
  // backend's equals the CPU's bit for bit (a stable sort by code, then one sequential sum per code; no atomics).
  virtual void embedding_gradient(const float* x, int ld_x, int rows, const InputLayout& layout, const float* grad_e,
                                  int ld_g, float* table_grads) = 0;

  // ---- data movement ------------------------------------------------------------------------------------
  // out_features[i, :] = features[indices[i], :] (ld floats per row, the padding copied too) and
  // out_labels[i] = labels[indices[i]] for i in [0, count).  Bit-exact copies.
  virtual void gather_rows(const float* features, int ld, const float* labels, const std::uint32_t* indices,
                           std::int64_t count, float* out_features, float* out_labels) = 0;
  // out[0..n) = the permutation of 0..n-1 for (seed, epoch): rows stably sorted by permutation_key().
  virtual void random_permutation(std::uint64_t seed, std::uint32_t epoch, std::uint32_t n,
                                  std::uint32_t* out) = 0;

  // ---- statistics ---------------------------------------------------------------------------------------
  // Metrics of outputs (rows x width, leading dim ld) against labels; waits for the device, returns host values.
  // AUC is exact: sorted scores, ties counted one half, counts in 64-bit integers.
  virtual Metrics evaluate(Task task, const float* outputs, std::int64_t rows, int width, int ld,
                           const float* labels) = 0;
  // The index of the first element of values[0, count) that is NaN or infinite, or -1 when all are finite.
  // Waits for the device.
  virtual std::int64_t find_nonfinite(const float* values, std::int64_t count) = 0;
  // Host mean[c] and (population) standard deviation std[c] of table[rows, cols] (leading dim ld), in double.
  virtual void column_moments(const float* table, std::int64_t rows, int cols, int ld, double* host_mean,
                              double* host_std) = 0;
  // In place: table[r, c] = (table[r, c] - mean[c]) * inv_std[c];  mean and inv_std: cols floats in backend memory.
  virtual void standardize_columns(float* table, std::int64_t rows, int cols, int ld, const float* mean,
                                   const float* inv_std) = 0;
};

// A backend's memory, freed when it goes out of scope.
template <typename T>
class BackendBuffer {
 public:
  BackendBuffer() = default;
  BackendBuffer(Backend& backend, std::size_t count, const char* what)
      : backend_(&backend), count_(count),
        data_(count ? static_cast<T*>(backend.allocate(count * sizeof(T), what)) : nullptr) {}
  ~BackendBuffer() { reset(); }
  BackendBuffer(const BackendBuffer&) = delete;
  BackendBuffer& operator=(const BackendBuffer&) = delete;
  BackendBuffer(BackendBuffer&& other) noexcept { *this = std::move(other); }
  BackendBuffer& operator=(BackendBuffer&& other) noexcept {
    if (this != &other) {
      reset();
      backend_ = other.backend_; count_ = other.count_; data_ = other.data_;
      other.backend_ = nullptr; other.count_ = 0; other.data_ = nullptr;
    }
    return *this;
  }
  // A buffer over memory it does not own (`data`, count elements, kept valid by its owner while the buffer is
  // used): reset() and the destructor leave it alone.
  static BackendBuffer borrow(T* data, std::size_t count) {
    BackendBuffer b;
    b.count_ = count;
    b.data_ = data;
    return b;
  }
  bool owned() const { return backend_ != nullptr; }
  void reset() noexcept {
    if (data_ && backend_) backend_->release(data_);
    data_ = nullptr; count_ = 0;
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return count_; }
  std::size_t bytes() const { return count_ * sizeof(T); }

 private:
  Backend* backend_ = nullptr;
  std::size_t count_ = 0;
  T* data_ = nullptr;
};

enum class DeviceChoice { automatic, cuda, cpu };

// The CPU reference backend (OpenBLAS GEMM on all cores; `threads` OpenMP threads for the element-wise ops, default 1).
std::unique_ptr<Backend> make_cpu_backend(int threads = 0);
// The CUDA backend on the current device (one stream, one cuBLAS handle). Throws Error if there is no device.
std::unique_ptr<Backend> make_cuda_backend(int device = 0);
// Number of usable CUDA devices (0 where there is no driver or no GPU; never throws).
int cuda_device_count();
// The CUDA device whose memory `pointer` is (device or managed memory, by cudaPointerGetAttributes), or -1 for
// host memory (pageable, pinned or unknown to CUDA) and where there is no CUDA driver. Never throws.
int cuda_pointer_device(const void* pointer);
// Waits until all work queued on CUDA device `device`, on every stream and by every library, has finished: before
// the engine reads arrays that another library (CuPy, PyTorch) may still be writing on its own streams.
void wait_for_cuda_device(int device);
// The calling thread's current CUDA device, made current again when the scope ends. Making a CUDA backend makes
// its device current (train and the tools rely on it); a library caller (Python, next to PyTorch or CuPy on
// another device) gets its own back. Nothing where there is no driver; never throws.
class CallerCudaDevice {
 public:
  CallerCudaDevice();
  ~CallerCudaDevice() { give_back(); }
  // The caller's device current now, as at the scope's end (a Python callback in the middle of a fit runs its own
  // CUDA code there; every CUDA backend op makes its own device current again).
  void give_back() const;
  CallerCudaDevice(const CallerCudaDevice&) = delete;
  CallerCudaDevice& operator=(const CallerCudaDevice&) = delete;

 private:
  int device_ = -1;
};
// automatic: CUDA where a device exists, else CPU (the caller is told which through kind()).
std::unique_ptr<Backend> make_backend(DeviceChoice choice);

}  // namespace fasttab
