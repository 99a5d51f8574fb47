// The fused bf16 MLP passes on the device (host/backend/fused_mlp.hpp: what they compute, the layout, the work
// split): one kernel for the whole forward pass, one for the backward pass's chain through the layers. Both
// enqueue on `stream`, check their arguments first (Error), and allocate and synchronise nothing, so a CUDA Graph
// can capture them once a first call outside the capture has set their shared-memory limit on the device.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "host/backend/fused_mlp.hpp"

namespace fasttab {

// out[r, c] = the logits of x's row r (r < rows, c < the last layer's units; leading dimension units); with
// training.active(), the training pass (dropout, the input and hidden activations written out).
void fused_mlp_forward_bf16(const FusedMlp& mlp, const float* x, int ld_x, int rows, float* out,
                            const FusedTraining& training, cudaStream_t stream);

// After the training pass over the same rows: g16 and the bias partials of every layer from grad_outputs =
// dL/d(outputs) [rows, last units] float32.
void fused_mlp_backward_bf16(const FusedMlp& mlp, const FusedTraining& forward, const float* grad_outputs, int rows,
                             const FusedGradients& gradients, cudaStream_t stream);

// The dynamic shared memory one block of each kernel takes.
std::size_t fused_forward_shared_bytes();
std::size_t fused_backward_shared_bytes();

}  // namespace fasttab
