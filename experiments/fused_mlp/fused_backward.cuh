// Experiment (issue 9, item 5, the moonshot's second half), kept apart from the engine: the bf16 backward pass's
// chain through the layers in one kernel. A block of kRowsPerBlock rows keeps dL/dz in shared memory from the
// loss gradient down to the first hidden layer; the weights are read from L2 as in the forward kernel
// (fused_forward.cuh: the same layout, block shape and tile policy). The weight gradients, which sum over every row
// of the batch, stay out of the kernel: the kernel writes what they read, and fused_backward_finish runs them as
// GEMMs on the backend (cuBLAS on the device), with the bias gradients from the kernel's per-block column sums.
//
// The arithmetic is the engine's bf16 backward (Mlp::backward_bf16), up to the order of each sum:
//   last layer:     g16_L = bf16(dL/dz_L), from the float32 loss gradient; db_L = column sums of dL/dz_L (float32);
//   hidden layer l: d_l = g16_{l+1} W16_{l+1} (float32 sums of bfloat16 products), then through its dropout and
//                   activation, from its saved output a (bfloat16, as the forward pass wrote it, dropout scale in it):
//                     dL/dz_l = 0 where dropped, else d_l * scale * act'(a * (1 - p))   (p > 0),
//                     dL/dz_l = d_l * act'(a)                                           (p = 0),
//                   with act'(a) = 1 - a^2 (tanh), [a > 0] (relu); g16_l = bf16(dL/dz_l); db_l = its column sums;
//   every layer:    dW_l = g16_l^T input16_l (input16_l: the layer's bfloat16 input), float32 (fused_backward_finish).
// The first layer's input gradient is not formed (no embeddings here).
//
// Bias sums, deterministic: each warp sums its 16x16 tile's columns over the tile's 16 rows in order; a block adds
// its 4 row tiles in order into bias_partials[l][block, c]; fused_backward_finish adds the blocks in order (in
// double: Backend::bias_gradient). Shared memory: two bfloat16 gradient buffers in turn (as the forward kernel's
// activations), one float32 16x16 tile per warp, and two [4, kFusedMaxWidth] float32 column-partial buffers in turn.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstddef>

#include "experiments/fused_mlp/fused_forward.cuh"

namespace fasttab {
class Backend;
struct MlpSpec;
}  // namespace fasttab

namespace fasttab::experiments {

// What the backward pass writes: per layer l, bf16(dL/dz_l) [rows, ld_grad16[l]] (columns < units; the engine's
// grad16 buffers) and the per-block bias sums [fused_blocks(rows), units] float32.
struct FusedGradients {
  __nv_bfloat16* grad16[kFusedMaxLayers] = {};
  int ld_grad16[kFusedMaxLayers] = {};
  float* bias_partials[kFusedMaxLayers] = {};
};

inline int fused_blocks(int rows) { return (rows + kRowsPerBlock - 1) / kRowsPerBlock; }

// Enqueues the kernel on `stream`. forward: the training pass's key, dropout and saved activations (what
// fused_mlp_forward_bf16 with the same FusedTraining wrote, or the engine's buffers); grad_outputs: dL/d(outputs)
// [rows, units of the last layer] float32. Throws Error for a model it cannot run or a missing buffer.
void fused_mlp_backward_bf16(const FusedMlp& mlp, const FusedTraining& forward, const float* grad_outputs, int rows,
                             const FusedGradients& gradients, cudaStream_t stream);

// The dynamic shared memory one block of the backward kernel takes.
std::size_t fused_backward_shared_bytes();

}  // namespace fasttab::experiments
