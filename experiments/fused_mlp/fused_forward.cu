#include "experiments/fused_mlp/fused_forward.cuh"

#include <mma.h>

#include "cuda/cuda_check.cuh"
#include "cuda/ops/activation.cuh"
#include "fasttab/error.hpp"

namespace fasttab::experiments {

namespace {

using namespace nvcuda;

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kRowTiles = kRowsPerBlock / kTile;           // 4
constexpr int kColumnGroups = kWarps / kRowTiles;          // 2: warp w takes column tiles j with j % 2 == w / 4
constexpr int kMaxTilesPerWarp = kFusedMaxWidth / kTile / kColumnGroups;  // 10
static_assert(kWarps % kRowTiles == 0, "every row tile gets the same number of warps");
static_assert(kLdActivations % kTile == 0, "WMMA needs a leading dimension that is a multiple of 8 (16 here)");

std::size_t activation_buffer_elements() { return std::size_t(kRowsPerBlock) * kLdActivations; }

// z = acc + bias over one warp's 16x16 tile (rows row_base.., columns col_base..): a hidden layer writes
// bf16(act(z)) into the next layer's input; the last layer writes the logits to global memory.
template <Activation act>
__device__ void tile_epilogue(const wmma::fragment<wmma::accumulator, kTile, kTile, kTile, float>& acc, float* stage,
                              const FusedLayer& layer, bool last, int row_base, int col_base, int block_row0, int rows,
                              __nv_bfloat16* next_input, float* out) {
  const int lane = threadIdx.x % 32;
  wmma::store_matrix_sync(stage, acc, kTile, wmma::mem_row_major);
  __syncwarp();
  for (int e = lane; e < kTile * kTile; e += 32) {
    const int r = row_base + e / kTile, c = col_base + e % kTile;
    const float z = stage[e] + layer.bias[c];
    if (last) {
      if (c < layer.units && block_row0 + r < rows) out[std::size_t(block_row0 + r) * layer.units + c] = z;
    } else {
      next_input[r * kLdActivations + c] = __float2bfloat16_rn(elementwise::activate<act>(z));
    }
  }
  __syncwarp();
}

template <Activation act>
__global__ void __launch_bounds__(kThreads) fused_forward_kernel(FusedMlp mlp, const float* __restrict__ x, int ld_x,
                                                                 int rows, float* __restrict__ out) {
  extern __shared__ __align__(128) unsigned char shared[];
  __nv_bfloat16* buffers[2];
  buffers[0] = reinterpret_cast<__nv_bfloat16*>(shared);
  buffers[1] = buffers[0] + kRowsPerBlock * kLdActivations;
  float* stages = reinterpret_cast<float*>(buffers[1] + kRowsPerBlock * kLdActivations);
  const int warp = threadIdx.x / 32;
  float* stage = stages + warp * kTile * kTile;
  const int block_row0 = blockIdx.x * kRowsPerBlock;

  // The block's rows of x in bfloat16, zeros past `inputs` and past the table's last row.
  const int in0 = mlp.layers[0].in_padded;
  for (int i = threadIdx.x; i < kRowsPerBlock * in0; i += kThreads) {
    const int r = i / in0, c = i % in0;
    const float v = (block_row0 + r < rows && c < mlp.inputs) ? x[std::size_t(block_row0 + r) * ld_x + c] : 0.0f;
    buffers[0][r * kLdActivations + c] = __float2bfloat16_rn(v);
  }
  __syncthreads();

  const int row_tile = warp % kRowTiles, column_group = warp / kRowTiles;
  for (int l = 0; l < mlp.count; ++l) {
    const FusedLayer layer = mlp.layers[l];
    const bool last = l == mlp.count - 1;
    const __nv_bfloat16* input = buffers[l % 2];
    __nv_bfloat16* next_input = buffers[(l + 1) % 2];
    const int column_tiles = layer.out_padded / kTile;
    const int my_tiles = (column_tiles - column_group + kColumnGroups - 1) / kColumnGroups;

    wmma::fragment<wmma::accumulator, kTile, kTile, kTile, float> acc[kMaxTilesPerWarp];
#pragma unroll
    for (int t = 0; t < kMaxTilesPerWarp; ++t) wmma::fill_fragment(acc[t], 0.0f);
    // z[rows, out] = input[rows, in] W^T: W [out, in] row-major is W^T [in, out] column-major, leading dim in_padded.
    for (int k0 = 0; k0 < layer.in_padded; k0 += kTile) {
      wmma::fragment<wmma::matrix_a, kTile, kTile, kTile, __nv_bfloat16, wmma::row_major> a;
      wmma::load_matrix_sync(a, input + row_tile * kTile * kLdActivations + k0, kLdActivations);
#pragma unroll
      for (int t = 0; t < kMaxTilesPerWarp; ++t) {
        if (t < my_tiles) {
          const int o0 = (column_group + kColumnGroups * t) * kTile;
          wmma::fragment<wmma::matrix_b, kTile, kTile, kTile, __nv_bfloat16, wmma::col_major> b;
          wmma::load_matrix_sync(b, layer.weights + std::size_t(o0) * layer.in_padded + k0, layer.in_padded);
          wmma::mma_sync(acc[t], a, b, acc[t]);
        }
      }
    }
#pragma unroll
    for (int t = 0; t < kMaxTilesPerWarp; ++t)
      if (t < my_tiles)
        tile_epilogue<act>(acc[t], stage, layer, last, row_tile * kTile, (column_group + kColumnGroups * t) * kTile,
                           block_row0, rows, next_input, out);
    __syncthreads();  // the next layer reads every warp's output
  }
}

template <Activation act>
void launch(const FusedMlp& mlp, const float* x, int ld_x, int rows, float* out, cudaStream_t stream) {
  const std::size_t bytes = fused_mlp_shared_bytes();
  CUDA_CHECK(cudaFuncSetAttribute(fused_forward_kernel<act>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  const unsigned blocks = unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock);
  fused_forward_kernel<act><<<blocks, kThreads, bytes, stream>>>(mlp, x, ld_x, rows, out);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

std::size_t fused_mlp_shared_bytes() {
  return 2 * activation_buffer_elements() * sizeof(__nv_bfloat16) + std::size_t(kWarps) * kTile * kTile * sizeof(float);
}

void fused_mlp_forward_bf16(const FusedMlp& mlp, const float* x, int ld_x, int rows, float* out, cudaStream_t stream) {
  FASTTAB_REQUIRE(mlp.count >= 1 && mlp.count <= kFusedMaxLayers, "fused forward: ", mlp.count, " layers (1 to ",
                  kFusedMaxLayers, ")");
  FASTTAB_REQUIRE(mlp.inputs >= 1 && mlp.inputs <= mlp.layers[0].in_padded, "fused forward: ", mlp.inputs,
                  " inputs for a first layer of ", mlp.layers[0].in_padded);
  FASTTAB_REQUIRE(ld_x >= mlp.inputs, "fused forward: ld_x ", ld_x, " < inputs ", mlp.inputs);
  for (int l = 0; l < mlp.count; ++l) {
    const FusedLayer& layer = mlp.layers[l];
    FASTTAB_REQUIRE(layer.in_padded % kTile == 0 && layer.out_padded % kTile == 0 && layer.in_padded >= kTile &&
                        layer.out_padded >= kTile && layer.in_padded <= kFusedMaxWidth &&
                        layer.out_padded <= kFusedMaxWidth,
                    "fused forward: layer ", l, " is ", layer.in_padded, " -> ", layer.out_padded,
                    "; widths must be multiples of ", kTile, " up to ", kFusedMaxWidth);
    FASTTAB_REQUIRE(l == 0 || layer.in_padded == mlp.layers[l - 1].out_padded, "fused forward: layer ", l,
                    " takes ", layer.in_padded, " inputs but the layer below gives ", mlp.layers[l - 1].out_padded);
    FASTTAB_REQUIRE(layer.units >= 1 && layer.units <= layer.out_padded, "fused forward: layer ", l, " has ",
                    layer.units, " units for ", layer.out_padded, " padded");
    FASTTAB_REQUIRE((reinterpret_cast<std::uintptr_t>(layer.weights) & 31u) == 0, "fused forward: layer ", l,
                    "'s weights are not 32-byte aligned (WMMA loads)");
  }
  FASTTAB_REQUIRE(mlp.activation == Activation::tanh || mlp.activation == Activation::relu,
                  "fused forward: the hidden activation must be tanh or relu");
  if (rows <= 0) return;
  if (mlp.activation == Activation::tanh) launch<Activation::tanh>(mlp, x, ld_x, rows, out, stream);
  else launch<Activation::relu>(mlp, x, ld_x, rows, out, stream);
}

}  // namespace fasttab::experiments
