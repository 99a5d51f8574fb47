// The fused forward pass's work for one block of rows (host/backend/fused_mlp.hpp), written once for two
// executions: the CUDA kernel (cuda/ops/fused_mlp.cu: a WMMA tile policy, one warp per call, lanes and threads in
// parallel) and the host emulation (fused_mlp.cpp: a scalar tile policy, every warp and lane in turn) that the CPU
// backend runs. So the indexing, the padding, the partial last block, the bias and the epilogue are tested without
// a GPU; only the WMMA calls themselves (load, mma, store of 16x16 tiles) are not.
//
// A tile policy provides: the fragment types Acc (16x16 float32), A (16x16 bfloat16, row-major) and B (16x16
// bfloat16, column-major); zero(Acc&), load_a(A&, const bf16*, ld), load_b(B&, const bf16*, ld),
// mma(Acc&, const A&, const B&) (acc += a b), store(float*, const Acc&) (16x16 row-major), and sync_warp().
#pragma once

#include <cuda_bf16.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "host/backend/fused_mlp.hpp"
#include "host/backend/philox.hpp"

// Loops over a warp's accumulators unrolled on the device (register fragments need compile-time indices).
#ifdef __CUDACC__
#define FASTTAB_FUSED_UNROLL _Pragma("unroll")
#else
#define FASTTAB_FUSED_UNROLL
#endif

namespace fasttab {

// The engine's activations (elementwise::activate on the device, tanhf for tanh), callable from the host emulation
// too: the engine's own are device-only (cuda/ops/activation.cuh) or host-only (reference::activate).
template <Activation act>
__host__ __device__ inline float fused_activate(float z) {
  if constexpr (act == Activation::tanh) return tanhf(z);
  else if constexpr (act == Activation::relu) return z > 0.0f ? z : 0.0f;
  else return z;
}

// A warp's share of a block's product: row tile warp % 4 (16 of the block's rows) and the column tiles j with
// j % 2 == warp / 4, of `columns` (a multiple of 16) in all: my_tiles of them, tile t's first column column(t).
struct WarpTiles {
  int row_tile, column_group, my_tiles;
  __host__ __device__ WarpTiles(int warp, int columns)
      : row_tile(warp % kRowTiles), column_group(warp / kRowTiles),
        my_tiles((columns / kTile - warp / kRowTiles + kColumnGroups - 1) / kColumnGroups) {}
  __host__ __device__ int column(int t) const { return (column_group + kColumnGroups * t) * kTile; }
};

// acc[t] = a[the warp's 16 rows, 0..depth) B[0..depth, tile t's 16 columns] for t < my_tiles: a is the block's
// shared [kRowsPerBlock, kLdActivations] bfloat16 matrix, and load_b(b, k0, c0) loads B's 16x16 tile at row k0 and
// column c0 into a fragment of type BFragment (a column-major Tiles::B or a row-major Tiles::BRow).
template <class Tiles, class BFragment, class LoadB>
__host__ __device__ inline void fused_warp_product(typename Tiles::Acc (&acc)[kMaxTilesPerWarp], const WarpTiles& w,
                                                   const __nv_bfloat16* a, int depth, const LoadB& load_b) {
  Tiles::sync_warp();  // WMMA needs the whole warp: reconverge after the caller's per-lane code
FASTTAB_FUSED_UNROLL
  for (int t = 0; t < kMaxTilesPerWarp; ++t) Tiles::zero(acc[t]);
  for (int k0 = 0; k0 < depth; k0 += kTile) {
    typename Tiles::A a_tile;
    Tiles::load_a(a_tile, a + w.row_tile * kTile * kLdActivations + k0, kLdActivations);
  FASTTAB_FUSED_UNROLL
    for (int t = 0; t < kMaxTilesPerWarp; ++t) {
      if (t < w.my_tiles) {
        BFragment b;
        load_b(b, k0, w.column(t));
        Tiles::mma(acc[t], a_tile, b);
      }
    }
  }
}

// For each of the warp's tiles t: acc[t] into `stage` (its 16x16 float32 tile, row-major), then
// tile(row_base, col_base) (the tile's first row in the block and first column), then a warp barrier: the next
// tile's store overwrites stage. The epilogues of the fused passes.
template <class Tiles, class Tile>
__host__ __device__ inline void fused_warp_tiles(const typename Tiles::Acc (&acc)[kMaxTilesPerWarp], const WarpTiles& w,
                                                 float* stage, const Tile& tile) {
FASTTAB_FUSED_UNROLL
  for (int t = 0; t < kMaxTilesPerWarp; ++t) {
    if (t >= w.my_tiles) continue;
    Tiles::store(stage, acc[t]);
    Tiles::sync_warp();
    tile(w.row_tile * kTile, w.column(t));
    Tiles::sync_warp();
  }
}

// The block's rows of x into `input` ([kRowsPerBlock, kLdActivations] bfloat16): x rounded to bfloat16, zeros past
// `inputs` (up to layers[0].in_padded) and past the table's last row. Elements begin, begin + step, ... (threads).
// Training: the same bfloat16 values into training.input16 too (columns < inputs, rows < rows).
__host__ __device__ inline void fused_load_rows(const FusedMlp& mlp, const FusedTraining& training, const float* x,
                                                int ld_x, int rows, int block_row0, __nv_bfloat16* input, int begin,
                                                int step) {
  const int in0 = mlp.layers[0].in_padded;
  for (int i = begin; i < kRowsPerBlock * in0; i += step) {
    const int r = i / in0, c = i % in0;
    const bool inside = block_row0 + r < rows && c < mlp.inputs;
    const __nv_bfloat16 v = __float2bfloat16_rn(inside ? x[std::size_t(block_row0 + r) * ld_x + c] : 0.0f);
    input[r * kLdActivations + c] = v;
    if (inside && training.active()) training.input16[std::size_t(block_row0 + r) * training.ld_input16 + c] = v;
  }
}

// One warp's share of one layer: z = input W^T + b over its row tile (warp % 4) and its column tiles (those j with
// j % 2 == warp / 4), then a hidden layer's bf16(act(z)) into next_input, or the last layer's logits into out.
// `stage`: the warp's 16x16 float32 tile; the epilogue's elements are lane_begin, lane_begin + lane_step, ...
// Training (layer `l` hidden): a = keep ? act(z) * scale : 0 with the engine's dropout decisions, and a written to
// training.activations[l] as well.
template <class Tiles, Activation act>
__host__ __device__ void fused_warp_layer(const FusedLayer& layer, int l, bool last, const FusedTraining& training,
                                          int warp, const __nv_bfloat16* input, __nv_bfloat16* next_input,
                                          float* stage, int block_row0, int rows, float* out, int lane_begin,
                                          int lane_step) {
  const WarpTiles w(warp, layer.out_padded);
  const float p = training.active() && !last ? training.dropout[l] : 0.0f;
  const float scale = 1.0f / (1.0f - p);
  const std::uint32_t step = training.key.step_counter != nullptr ? *training.key.step_counter : training.key.step;
  __nv_bfloat16* saved = training.active() && !last ? training.activations[l] : nullptr;
  typename Tiles::Acc acc[kMaxTilesPerWarp];
  // z[rows, out] = input[rows, in] W^T: W [out, in] row-major is W^T [in, out] column-major, leading dim in_padded,
  // so B's tile (k0, o0) starts at W's row o0, column k0.
  const auto load_w = [&](typename Tiles::B& b, int k0, int o0) {
    Tiles::load_b(b, layer.weights + std::size_t(o0) * layer.in_padded + k0, layer.in_padded);
  };
  fused_warp_product<Tiles, typename Tiles::B>(acc, w, input, layer.in_padded, load_w);
  fused_warp_tiles<Tiles>(acc, w, stage, [&](int row_base, int col_base) {
    for (int e = lane_begin; e < kTile * kTile; e += lane_step) {
      const int r = row_base + e / kTile, c = col_base + e % kTile;
      const float z = stage[e] + (c < layer.units ? layer.bias[c] : 0.0f);
      if (last) {
        if (c < layer.units && block_row0 + r < rows) out[std::size_t(block_row0 + r) * layer.units + c] = z;
      } else {
        float a = fused_activate<act>(z);
        const bool own = c < layer.units && block_row0 + r < rows;
        if (p > 0.0f && own) {
          const std::uint64_t index = (training.key.first_row + std::uint64_t(block_row0 + r)) * layer.units + c;
          a = dropout_keep(training.key.seed, step, std::uint32_t(l), index, p) ? a * scale : 0.0f;
        }
        const __nv_bfloat16 v = __float2bfloat16_rn(a);
        next_input[r * kLdActivations + c] = v;
        if (saved != nullptr && own) saved[std::size_t(block_row0 + r) * training.ld_activations[l] + c] = v;
      }
    }
  });
}

}  // namespace fasttab
