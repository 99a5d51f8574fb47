// The MLP's element-wise ops (semantics in include/fasttab/backend.hpp): bias + activation + dropout forward,
// its backward, and the bias gradient.
#pragma once

#include <cuda_runtime_api.h>

#include "cuda/launch.cuh"
#include "fasttab/backend.hpp"

namespace fasttab {

void bias_activation_dropout_forward(float* z, int rows, int cols, int ld, const float* bias, Activation act,
                                     float dropout_p, DropoutKey key, const DeviceLimits& limits, cudaStream_t stream);
void activation_dropout_backward(float* grad, const float* out, int rows, int cols, int ld, Activation act,
                                 float dropout_p, DropoutKey key, const DeviceLimits& limits, cudaStream_t stream);
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

}  // namespace fasttab
