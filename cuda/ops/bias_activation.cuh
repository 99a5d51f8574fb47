// The MLP's element-wise ops (semantics in include/fasttab/backend.hpp): bias + activation + dropout forward,
// its backward, and the bias gradient; and their bfloat16-storage forms (Precision::bf16), which compute in float32
// and round once where they store a bfloat16.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include "cuda/launch.cuh"
#include "fasttab/backend.hpp"

namespace fasttab {

void bias_activation_dropout_forward(float* z, int rows, int cols, int ld, const float* bias, Activation act,
                                     float dropout_p, DropoutKey key, const DeviceLimits& limits, cudaStream_t stream);
void activation_dropout_backward(float* grad, const float* out, int rows, int cols, int ld, Activation act,
                                 float dropout_p, DropoutKey key, const DeviceLimits& limits, cudaStream_t stream);
// The forward op from float32 z (not changed) into bfloat16 activations out (leading dim ld_out).
void bias_activation_dropout_forward_bf16(const float* z, int rows, int cols, int ld_z, const float* bias,
                                          Activation act, float dropout_p, DropoutKey key, __nv_bfloat16* out,
                                          int ld_out, const DeviceLimits& limits, cudaStream_t stream);
// The backward op with bfloat16 stored activations: grad (float32, leading dim ld_grad) becomes the float32 dL/dz,
// and grad_z gets it rounded to bfloat16 (one pass, any shape; the bias gradient is then bias_gradient(grad)).
void activation_dropout_backward_to_bf16(float* grad, int ld_grad, const __nv_bfloat16* out, int ld_out, int rows,
                                         int cols, Activation act, float dropout_p, DropoutKey key,
                                         __nv_bfloat16* grad_z, int ld_grad_z, const DeviceLimits& limits,
                                         cudaStream_t stream);
// bias_grad[c] = sum over rows of grad[r, c]; partials: column_sums_partials(rows, cols, limits) doubles (column_reduce.cuh).
void bias_gradient(const float* grad, int rows, int cols, int ld, float* bias_grad, double* partials,
                   const DeviceLimits& limits, cudaStream_t stream);

// backward_bias_gradient.cu: activation_dropout_backward and the column sums of its result (the bias gradient of that layer) in one pass
// over grad, when the rows are whole float4s of at most kThreads float4s. Returns false, having done nothing,
// when it does not apply. partials: fused_backward_partials(rows, cols, limits) doubles of device scratch (0 for shapes
// that are never fused).
std::size_t fused_backward_partials(int rows, int cols, const DeviceLimits& limits);
bool activation_dropout_backward_bias_gradient(float* grad, const float* out, int rows, int cols, int ld,
                                               Activation act, float dropout_p, DropoutKey key, float* bias_grad,
                                               double* partials, const DeviceLimits& limits, cudaStream_t stream);
// The same fused pass with bfloat16 stored activations (out) that writes dL/dz rounded to bfloat16 into grad_z
// (Backend::activation_dropout_backward_bias_gradient_bf16; grad is read, not written). The bias gradient sums the
// float32 dL/dz before rounding. Returns false, having done nothing, when it does not apply (then
// activation_dropout_backward_to_bf16 and bias_gradient). partials: fused_backward_partials(rows, cols, limits).
bool activation_dropout_backward_bias_gradient_bf16(float* grad, int ld_grad, const __nv_bfloat16* out, int ld_out,
                                                    int rows, int cols, Activation act, float dropout_p,
                                                    DropoutKey key, float* bias_grad, __nv_bfloat16* grad_z,
                                                    int ld_grad_z, double* partials, const DeviceLimits& limits,
                                                    cudaStream_t stream);

}  // namespace fasttab
