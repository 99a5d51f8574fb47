// The fused backward pass's work for one block of rows (host/backend/fused_mlp.hpp), written once for the CUDA
// kernel (WmmaTiles: cuda/ops/wmma_tiles.cuh) and the host emulation (HostTiles: fused_mlp_host_tiles.hpp), as
// fused_mlp_forward_block.hpp is. A tile policy also provides BRow (a 16x16 bfloat16 matrix_b fragment loaded from
// a row-major tile) with load_b_row and mma(Acc&, const A&, const BRow&).
#pragma once

#include <cuda_bf16.h>

#include <cstddef>
#include <cstdint>

#include "host/backend/fused_mlp.hpp"
#include "host/backend/fused_mlp_forward_block.hpp"
#include "host/backend/philox.hpp"

namespace fasttab {

// act'(z) from the activation's output a = act(z) (reference::activation_derivative).
template <Activation act>
__host__ __device__ inline float fused_derivative(float a) {
  if constexpr (act == Activation::tanh) return 1.0f - a * a;
  else if constexpr (act == Activation::relu) return a > 0.0f ? 1.0f : 0.0f;
  else return 1.0f;
}

// The backward pass's product for layer l: acc[t] = grad W_l over the warp's row tile and its column tiles of the
// layer's input (W_l [out, in] row-major: its 16x16 tile at (k0, i0) is a row-major B tile, leading dim in_padded).
template <class Tiles>
__host__ __device__ inline void fused_warp_backward_product(typename Tiles::Acc (&acc)[kMaxTilesPerWarp],
                                                            const WarpTiles& w, const FusedLayer& layer,
                                                            const __nv_bfloat16* grad) {
  const auto load_w = [&](typename Tiles::BRow& b, int k0, int i0) {
    Tiles::load_b_row(b, layer.weights + std::size_t(k0) * layer.in_padded + i0, layer.in_padded);
  };
  fused_warp_product<Tiles, typename Tiles::BRow>(acc, w, grad, layer.out_padded, load_w);
}

// The block's rows of the float32 loss gradient into `grad` ([kRowsPerBlock, kLdActivations] bfloat16): bf16 of
// dL/dz_L, zeros past the last layer's units and past the table's last row, written to gradients.grad16[L] too; and
// the last layer's bias partial: each column's float32 sum over the block's rows in order. Elements begin,
// begin + step, ... (threads).
__host__ __device__ inline void fused_load_loss_gradient(const FusedMlp& mlp, const FusedGradients& gradients,
                                                         const float* grad_outputs, int rows, int block,
                                                         __nv_bfloat16* grad, int begin, int step) {
  const int last = mlp.count - 1;
  const FusedLayer& layer = mlp.layers[last];
  const int block_row0 = block * kRowsPerBlock;
  const int block_rows = rows - block_row0 < kRowsPerBlock ? rows - block_row0 : kRowsPerBlock;
  for (int i = begin; i < kRowsPerBlock * layer.out_padded; i += step) {
    const int r = i / layer.out_padded, c = i % layer.out_padded;
    const bool inside = r < block_rows && c < layer.units;
    const __nv_bfloat16 v =
        __float2bfloat16_rn(inside ? grad_outputs[std::size_t(block_row0 + r) * layer.units + c] : 0.0f);
    grad[r * kLdActivations + c] = v;
    if (inside) gradients.grad16[last][std::size_t(block_row0 + r) * gradients.ld_grad16[last] + c] = v;
  }
  for (int c = begin; c < layer.units; c += step) {
    float sum = 0.0f;
    for (int r = 0; r < block_rows; ++r) sum += grad_outputs[std::size_t(block_row0 + r) * layer.units + c];
    gradients.bias_partials[last][std::size_t(block) * layer.units + c] = sum;
  }
}

// One warp's share of layer l's backward step (l >= 1): d = grad W_l over its row tile (warp % 4) and its column
// tiles of layer l's input (those j with j % 2 == warp / 4), then through layer l-1's dropout and activation into
// next_grad (bfloat16, shared) and gradients.grad16[l-1]; each of its tiles' column sums over the tile's 16 rows
// into column_partials[row_tile][c] ([kRowTiles, kFusedMaxWidth] float32).
// grad: dL/dz_l in shared memory ([kRowsPerBlock, kLdActivations] bfloat16, zero padding); `stage`: the warp's
// 16x16 float32 tile. Epilogue elements lane_begin, lane_begin + lane_step, ...; column sums by lanes below 16.
template <class Tiles, Activation act>
__host__ __device__ void fused_warp_backward_layer(const FusedMlp& mlp, int l, const FusedTraining& forward,
                                                   const FusedGradients& gradients, int warp,
                                                   const __nv_bfloat16* grad, __nv_bfloat16* next_grad, float* stage,
                                                   float* column_partials, int block_row0, int rows, int lane_begin,
                                                   int lane_step) {
  const FusedLayer& layer = mlp.layers[l];
  const int below = l - 1, units = mlp.layers[below].units;
  const WarpTiles w(warp, layer.in_padded);
  const float p = forward.dropout[below];
  const float scale = 1.0f / (1.0f - p), keep = 1.0f - p;
  const std::uint32_t step = forward.key.step_counter != nullptr ? *forward.key.step_counter : forward.key.step;
  const __nv_bfloat16* saved = forward.activations[below];
  const int ld_saved = forward.ld_activations[below];
  typename Tiles::Acc acc[kMaxTilesPerWarp];
  fused_warp_backward_product<Tiles>(acc, w, layer, grad);  // d[rows, in] = grad[rows, out] W[out, in]
  fused_warp_tiles<Tiles>(acc, w, stage, [&](int row_base, int col_base) {
    for (int e = lane_begin; e < kTile * kTile; e += lane_step) {
      const int r = row_base + e / kTile, c = col_base + e % kTile;
      const bool own = c < units && block_row0 + r < rows;
      float g = 0.0f;
      if (own) {
        const float a = __bfloat162float(saved[std::size_t(block_row0 + r) * ld_saved + c]);
        if (p > 0.0f) {
          const std::uint64_t index = (forward.key.first_row + std::uint64_t(block_row0 + r)) * units + c;
          g = dropout_keep(forward.key.seed, step, std::uint32_t(below), index, p)
                  ? stage[e] * scale * fused_derivative<act>(a * keep)
                  : 0.0f;
        } else {
          g = stage[e] * fused_derivative<act>(a);
        }
      }
      const __nv_bfloat16 v = __float2bfloat16_rn(g);
      next_grad[r * kLdActivations + c] = v;
      if (own) gradients.grad16[below][std::size_t(block_row0 + r) * gradients.ld_grad16[below] + c] = v;
      stage[e] = g;  // each element is read and written by the same lane
    }
    Tiles::sync_warp();  // the column sums read other lanes' elements
    for (int c = lane_begin; c < kTile; c += lane_step) {
      float sum = 0.0f;
      for (int r = 0; r < kTile; ++r) sum += stage[r * kTile + c];
      column_partials[w.row_tile * kFusedMaxWidth + col_base + c] = sum;
    }
  });
}

// One warp's share of the input gradient (with embeddings): d_0 = grad W_0 over its row tile and column tiles of
// the first layer's input, float32, into gradients.input_grad (columns < inputs, rows < rows).
// grad: dL/dz_0 in shared memory; `stage`: the warp's 16x16 float32 tile.
template <class Tiles>
__host__ __device__ void fused_warp_input_gradient(const FusedMlp& mlp, const FusedGradients& gradients, int warp,
                                                   const __nv_bfloat16* grad, float* stage, int block_row0, int rows,
                                                   int lane_begin, int lane_step) {
  const FusedLayer& layer = mlp.layers[0];
  const WarpTiles w(warp, layer.in_padded);
  typename Tiles::Acc acc[kMaxTilesPerWarp];
  fused_warp_backward_product<Tiles>(acc, w, layer, grad);
  fused_warp_tiles<Tiles>(acc, w, stage, [&](int row_base, int col_base) {
    for (int e = lane_begin; e < kTile * kTile; e += lane_step) {
      const int r = row_base + e / kTile, c = col_base + e % kTile;
      if (c < mlp.inputs && block_row0 + r < rows)
        gradients.input_grad[std::size_t(block_row0 + r) * gradients.ld_input_grad + c] = stage[e];
    }
  });
}

// After every warp's layer-l step: layer l-1's bias partial of this block, the 4 row tiles' column sums in order.
__host__ __device__ inline void fused_store_bias_partials(const FusedMlp& mlp, int l, const FusedGradients& gradients,
                                                          const float* column_partials, int block, int begin,
                                                          int step) {
  const int below = l - 1, units = mlp.layers[below].units;
  for (int c = begin; c < units; c += step) {
    float sum = 0.0f;
    for (int t = 0; t < kRowTiles; ++t) sum += column_partials[t * kFusedMaxWidth + c];
    gradients.bias_partials[below][std::size_t(block) * units + c] = sum;
  }
}

}  // namespace fasttab
