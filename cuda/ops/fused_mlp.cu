#include "cuda/ops/fused_mlp.cuh"

#include <atomic>
#include <cstdint>

#include "cuda/cuda_check.cuh"
#include "cuda/ops/wmma_tiles.cuh"
#include "host/backend/fused_mlp_backward_block.hpp"
#include "host/backend/fused_mlp_forward_block.hpp"

namespace fasttab {

namespace {

constexpr std::size_t kBufferElements = std::size_t(kRowsPerBlock) * kLdActivations;
constexpr std::size_t kStageFloats = std::size_t(kFusedWarps) * kTile * kTile;
constexpr std::size_t kColumnPartialFloats = std::size_t(kRowTiles) * kFusedMaxWidth;

// Shared memory: two activation buffers in turn (a layer's input and output), then each warp's 16x16 float32 tile.
template <Activation act>
__global__ void __launch_bounds__(kFusedThreads, 2) fused_forward_kernel(FusedMlp mlp, FusedTraining training,
                                                                      const float* __restrict__ x, int ld_x, int rows,
                                                                      float* __restrict__ out) {
  extern __shared__ __align__(128) unsigned char shared[];
  __nv_bfloat16* first = reinterpret_cast<__nv_bfloat16*>(shared);
  __nv_bfloat16* second = first + kBufferElements;
  float* stages = reinterpret_cast<float*>(second + kBufferElements);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int block_row0 = blockIdx.x * kRowsPerBlock;
  fused_load_rows(mlp, training, x, ld_x, rows, block_row0, first, threadIdx.x, kFusedThreads);
  __syncthreads();
  for (int l = 0; l < mlp.count; ++l) {
    const bool even = l % 2 == 0;
    fused_warp_layer<WmmaTiles, act>(mlp.layers[l], l, l == mlp.count - 1, training, warp, even ? first : second,
                                     even ? second : first, stages + warp * kTile * kTile, block_row0, rows, out,
                                     lane, 32);
    __syncthreads();  // the next layer reads every warp's output
  }
}

// Shared memory: two gradient buffers in turn (dL/dz of a layer and of the one below), each warp's 16x16 float32
// tile, two column-partial buffers in turn (layer l's written while layer l+1's may still be read).
template <Activation act>
__global__ void __launch_bounds__(kFusedThreads, 2) fused_backward_kernel(FusedMlp mlp, FusedTraining forward,
                                                                       const float* __restrict__ grad_outputs,
                                                                       int rows, FusedGradients gradients) {
  extern __shared__ __align__(128) unsigned char shared[];
  __nv_bfloat16* first = reinterpret_cast<__nv_bfloat16*>(shared);
  __nv_bfloat16* second = first + kBufferElements;
  float* stages = reinterpret_cast<float*>(second + kBufferElements);
  float* column_partials = stages + kStageFloats;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int block = blockIdx.x, block_row0 = block * kRowsPerBlock;
  fused_load_loss_gradient(mlp, gradients, grad_outputs, rows, block, first, threadIdx.x, kFusedThreads);
  __syncthreads();
  for (int l = mlp.count - 1; l >= 1; --l) {
    const bool even = (mlp.count - 1 - l) % 2 == 0;
    float* partials = column_partials + (l % 2) * kColumnPartialFloats;
    fused_warp_backward_layer<WmmaTiles, act>(mlp, l, forward, gradients, warp, even ? first : second,
                                              even ? second : first, stages + warp * kTile * kTile, partials,
                                              block_row0, rows, lane, 32);
    __syncthreads();  // the layer below reads every warp's gradient, and the bias sum every warp's partials
    fused_store_bias_partials(mlp, l, gradients, partials, block, threadIdx.x, kFusedThreads);
  }
  if (gradients.input_grad != nullptr) {  // with embeddings: after the loop's last barrier, layer 0's gradient is whole
    const bool even = (mlp.count - 1) % 2 == 0;
    fused_warp_input_gradient<WmmaTiles>(mlp, gradients, warp, even ? first : second, stages + warp * kTile * kTile,
                                         block_row0, rows, lane, 32);
  }
}

// More than the default 48 KB of dynamic shared memory needs the kernel's attribute set on the current device: a
// host call, not stream work, made once per device (`done`: a bit per device, one set of bits per kernel) at the
// first launch, which is never inside a capture (a captured step runs once directly first).
template <typename Kernel>
void allow_shared_bytes(Kernel kernel, std::size_t bytes, std::atomic<std::uint64_t>& done) {
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  const std::uint64_t bit = device < 64 ? std::uint64_t(1) << device : 0;
  if (bit != 0 && (done.load(std::memory_order_relaxed) & bit) != 0) return;
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  done.fetch_or(bit, std::memory_order_relaxed);
}

template <Activation act>
void launch_forward(const FusedMlp& mlp, const FusedTraining& training, const float* x, int ld_x, int rows, float* out,
                    cudaStream_t stream) {
  const std::size_t bytes = fused_forward_shared_bytes();
  static std::atomic<std::uint64_t> configured{0};
  allow_shared_bytes(fused_forward_kernel<act>, bytes, configured);
  fused_forward_kernel<act><<<unsigned(fused_blocks(rows)), kFusedThreads, bytes, stream>>>(mlp, training, x, ld_x,
                                                                                          rows, out);
  CUDA_CHECK_LAUNCH();
}

template <Activation act>
void launch_backward(const FusedMlp& mlp, const FusedTraining& forward, const float* grad_outputs, int rows,
                     const FusedGradients& gradients, cudaStream_t stream) {
  const std::size_t bytes = fused_backward_shared_bytes();
  static std::atomic<std::uint64_t> configured{0};
  allow_shared_bytes(fused_backward_kernel<act>, bytes, configured);
  fused_backward_kernel<act><<<unsigned(fused_blocks(rows)), kFusedThreads, bytes, stream>>>(mlp, forward,
                                                                                           grad_outputs, rows,
                                                                                           gradients);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

std::size_t fused_forward_shared_bytes() {
  return 2 * kBufferElements * sizeof(__nv_bfloat16) + kStageFloats * sizeof(float);
}

std::size_t fused_backward_shared_bytes() {
  return fused_forward_shared_bytes() + 2 * kColumnPartialFloats * sizeof(float);
}

void fused_mlp_forward_bf16(const FusedMlp& mlp, const float* x, int ld_x, int rows, float* out,
                            const FusedTraining& training, cudaStream_t stream) {
  check_fused_forward(mlp, x, ld_x, training);
  if (rows <= 0) return;
  if (mlp.activation == Activation::tanh) launch_forward<Activation::tanh>(mlp, training, x, ld_x, rows, out, stream);
  else launch_forward<Activation::relu>(mlp, training, x, ld_x, rows, out, stream);
}

void fused_mlp_backward_bf16(const FusedMlp& mlp, const FusedTraining& forward, const float* grad_outputs, int rows,
                             const FusedGradients& gradients, cudaStream_t stream) {
  check_fused_backward(mlp, forward, grad_outputs, gradients);
  if (rows <= 0) return;
  if (mlp.activation == Activation::tanh)
    launch_backward<Activation::tanh>(mlp, forward, grad_outputs, rows, gradients, stream);
  else launch_backward<Activation::relu>(mlp, forward, grad_outputs, rows, gradients, stream);
}

}  // namespace fasttab
