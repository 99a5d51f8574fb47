// The tile policy of the fused passes' block code (host/backend/fused_mlp_*_block.hpp) on the
// tensor cores: WMMA 16x16x16 tiles, bfloat16 in, float32 accumulators. One warp per call. Device code only.
#pragma once

#include <cuda_bf16.h>
#include <mma.h>

#include "host/backend/fused_mlp.hpp"

namespace fasttab {

struct WmmaTiles {
  using Acc = nvcuda::wmma::fragment<nvcuda::wmma::accumulator, kTile, kTile, kTile, float>;
  using A = nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, kTile, kTile, kTile, __nv_bfloat16, nvcuda::wmma::row_major>;
  using B = nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, kTile, kTile, kTile, __nv_bfloat16, nvcuda::wmma::col_major>;
  using BRow =
      nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, kTile, kTile, kTile, __nv_bfloat16, nvcuda::wmma::row_major>;
  __device__ static void zero(Acc& acc) { nvcuda::wmma::fill_fragment(acc, 0.0f); }
  __device__ static void load_a(A& a, const __nv_bfloat16* p, int ld) { nvcuda::wmma::load_matrix_sync(a, p, ld); }
  __device__ static void load_b(B& b, const __nv_bfloat16* p, int ld) { nvcuda::wmma::load_matrix_sync(b, p, ld); }
  __device__ static void load_b_row(BRow& b, const __nv_bfloat16* p, int ld) {
    nvcuda::wmma::load_matrix_sync(b, p, ld);
  }
  __device__ static void mma(Acc& acc, const A& a, const B& b) { nvcuda::wmma::mma_sync(acc, a, b, acc); }
  __device__ static void mma(Acc& acc, const A& a, const BRow& b) { nvcuda::wmma::mma_sync(acc, a, b, acc); }
  __device__ static void store(float* p, const Acc& acc) {
    nvcuda::wmma::store_matrix_sync(p, acc, kTile, nvcuda::wmma::mem_row_major);
  }
  __device__ static void sync_warp() { __syncwarp(); }
};

}  // namespace fasttab
