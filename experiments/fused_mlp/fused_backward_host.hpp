// The fused backward pass's host side (experiments/fused_mlp/fused_backward.cuh): its checks, its host emulation
// (the block code of fused_backward_block.cuh with scalar tiles, every block, warp and lane in turn) for the CPU
// tests, and the step after the kernel on any backend: the weight and bias gradients.
#pragma once

#include "experiments/fused_mlp/fused_backward.cuh"

namespace fasttab::experiments {

// Throws Error for what the backward kernel cannot run: the forward kernel's model checks, a forward pass that is
// not a training pass (no saved activations), a missing output buffer or a leading dimension below a layer's units.
void check_fused_backward(const FusedMlp& mlp, const FusedTraining& forward, const FusedGradients& gradients);

// fused_mlp_backward_bf16 on host memory (every pointer, and the forward key's step counter, a host pointer).
void fused_mlp_backward_emulated(const FusedMlp& mlp, const FusedTraining& forward, const float* grad_outputs,
                                 int rows, const FusedGradients& gradients);

// After the kernel, on `backend` (pointers in its memory): dL/dparameters into parameter_gradients, spec's flat
// layout (MlpSpec::weight_offset, bias_offset; spec without padding or embeddings, mlp's model):
//   dW_l[out, in] = g16_l^T input16_l (Backend::gemm_bf16; input16_0 = forward.input16, input16_l =
//                   forward.activations[l-1]),
//   db_l[c] = the sum over blocks, in order, of bias_partials[l][block, c] (Backend::bias_gradient, in double).
// Enqueued only.
void fused_backward_finish(Backend& backend, const MlpSpec& spec, const FusedTraining& forward,
                           const FusedGradients& gradients, int rows, float* parameter_gradients);

}  // namespace fasttab::experiments
