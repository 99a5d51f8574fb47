// The tile policy of the fused passes' block code (fused_mlp_forward_block.hpp, fused_mlp_backward_block.hpp) as scalar
// loops on the host: what WMMA's load, mma and store of 16x16 tiles compute, the products summed in float32 in k
// order. The host emulations run the block code with it, every warp and lane in turn.
#pragma once

#include <cuda_bf16.h>

#include "host/backend/fused_mlp.hpp"

namespace fasttab {

struct HostTiles {
  struct Acc { float v[kTile * kTile]; };
  struct A { float v[kTile * kTile]; };     // [row][k]
  struct B { float v[kTile * kTile]; };     // [k][column]
  using BRow = B;                           // the same values, loaded from a row-major tile
  static void zero(Acc& acc) {
    for (float& v : acc.v) v = 0.0f;
  }
  static void load_a(A& a, const __nv_bfloat16* p, int ld) {  // row-major: element (i, j) at p[i * ld + j]
    for (int i = 0; i < kTile; ++i)
      for (int j = 0; j < kTile; ++j) a.v[i * kTile + j] = __bfloat162float(p[i * ld + j]);
  }
  static void load_b(B& b, const __nv_bfloat16* p, int ld) {  // column-major: element (i, j) at p[i + j * ld]
    for (int i = 0; i < kTile; ++i)
      for (int j = 0; j < kTile; ++j) b.v[i * kTile + j] = __bfloat162float(p[i + j * ld]);
  }
  static void load_b_row(BRow& b, const __nv_bfloat16* p, int ld) {  // row-major: element (i, j) at p[i * ld + j]
    for (int i = 0; i < kTile; ++i)
      for (int j = 0; j < kTile; ++j) b.v[i * kTile + j] = __bfloat162float(p[i * ld + j]);
  }
  static void mma(Acc& acc, const A& a, const B& b) {
    for (int i = 0; i < kTile; ++i)
      for (int j = 0; j < kTile; ++j) {
        float sum = acc.v[i * kTile + j];
        for (int k = 0; k < kTile; ++k) sum += a.v[i * kTile + k] * b.v[k * kTile + j];
        acc.v[i * kTile + j] = sum;
      }
  }
  static void store(float* p, const Acc& acc) {
    for (int e = 0; e < kTile * kTile; ++e) p[e] = acc.v[e];
  }
  static void sync_warp() {}
};

}  // namespace fasttab
