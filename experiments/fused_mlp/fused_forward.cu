#include "experiments/fused_mlp/fused_forward.cuh"

#include "cuda/cuda_check.cuh"
#include "experiments/fused_mlp/fused_forward_block.cuh"
#include "experiments/fused_mlp/fused_forward_host.hpp"
#include "experiments/fused_mlp/fused_tiles_wmma.cuh"
#include "fasttab/error.hpp"

namespace fasttab::experiments {

namespace {

std::size_t activation_buffer_elements() { return std::size_t(kRowsPerBlock) * kLdActivations; }

// Shared memory: two activation buffers in turn (a layer's input and output), then each warp's 16x16 float32 tile.
template <Activation act>
__global__ void __launch_bounds__(kFusedThreads) fused_forward_kernel(FusedMlp mlp, FusedTraining training,
                                                                      const float* __restrict__ x, int ld_x, int rows,
                                                                      float* __restrict__ out) {
  extern __shared__ __align__(128) unsigned char shared[];
  __nv_bfloat16* first = reinterpret_cast<__nv_bfloat16*>(shared);
  __nv_bfloat16* second = first + kRowsPerBlock * kLdActivations;
  float* stages = reinterpret_cast<float*>(second + kRowsPerBlock * kLdActivations);
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

template <Activation act>
void launch(const FusedMlp& mlp, const FusedTraining& training, const float* x, int ld_x, int rows, float* out,
            cudaStream_t stream) {
  const std::size_t bytes = fused_mlp_shared_bytes();
  CUDA_CHECK(cudaFuncSetAttribute(fused_forward_kernel<act>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  const unsigned blocks = unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock);
  fused_forward_kernel<act><<<blocks, kFusedThreads, bytes, stream>>>(mlp, training, x, ld_x, rows, out);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

std::size_t fused_mlp_shared_bytes() {
  return 2 * activation_buffer_elements() * sizeof(__nv_bfloat16) +
         std::size_t(kFusedWarps) * kTile * kTile * sizeof(float);
}

void fused_mlp_forward_bf16(const FusedMlp& mlp, const float* x, int ld_x, int rows, float* out, cudaStream_t stream,
                            const FusedTraining& training) {
  check_fused_mlp(mlp, ld_x, training);
  if (rows <= 0) return;
  if (mlp.activation == Activation::tanh) launch<Activation::tanh>(mlp, training, x, ld_x, rows, out, stream);
  else launch<Activation::relu>(mlp, training, x, ld_x, rows, out, stream);
}

}  // namespace fasttab::experiments
