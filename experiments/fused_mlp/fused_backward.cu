#include "experiments/fused_mlp/fused_backward.cuh"

#include "cuda/cuda_check.cuh"
#include "experiments/fused_mlp/fused_backward_block.cuh"
#include "experiments/fused_mlp/fused_backward_host.hpp"
#include "experiments/fused_mlp/fused_tiles_wmma.cuh"

namespace fasttab::experiments {

namespace {

constexpr std::size_t kGradientBufferElements = std::size_t(kRowsPerBlock) * kLdActivations;
constexpr std::size_t kColumnPartialFloats = std::size_t(kRowTiles) * kFusedMaxWidth;

// Shared memory: two gradient buffers in turn (dL/dz of a layer and of the one below), each warp's 16x16 float32
// tile, two column-partial buffers in turn (layer l's written while layer l+1's may still be read).
template <Activation act>
__global__ void __launch_bounds__(kFusedThreads) fused_backward_kernel(FusedMlp mlp, FusedTraining forward,
                                                                       const float* __restrict__ grad_outputs,
                                                                       int rows, FusedGradients gradients) {
  extern __shared__ __align__(128) unsigned char shared[];
  __nv_bfloat16* first = reinterpret_cast<__nv_bfloat16*>(shared);
  __nv_bfloat16* second = first + kGradientBufferElements;
  float* stages = reinterpret_cast<float*>(second + kGradientBufferElements);
  float* column_partials = stages + kFusedWarps * kTile * kTile;
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
}

template <Activation act>
void launch(const FusedMlp& mlp, const FusedTraining& forward, const float* grad_outputs, int rows,
            const FusedGradients& gradients, cudaStream_t stream) {
  const std::size_t bytes = fused_backward_shared_bytes();
  CUDA_CHECK(cudaFuncSetAttribute(fused_backward_kernel<act>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  fused_backward_kernel<act><<<unsigned(fused_blocks(rows)), kFusedThreads, bytes, stream>>>(mlp, forward, grad_outputs,
                                                                                           rows, gradients);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

std::size_t fused_backward_shared_bytes() {
  return 2 * kGradientBufferElements * sizeof(__nv_bfloat16) + std::size_t(kFusedWarps) * kTile * kTile * sizeof(float) +
         2 * kColumnPartialFloats * sizeof(float);
}

void fused_mlp_backward_bf16(const FusedMlp& mlp, const FusedTraining& forward, const float* grad_outputs, int rows,
                             const FusedGradients& gradients, cudaStream_t stream) {
  check_fused_backward(mlp, forward, gradients);
  if (rows <= 0) return;
  if (mlp.activation == Activation::tanh) launch<Activation::tanh>(mlp, forward, grad_outputs, rows, gradients, stream);
  else launch<Activation::relu>(mlp, forward, grad_outputs, rows, gradients, stream);
}

}  // namespace fasttab::experiments
