// column_sums: deterministic column sums of a row-major float table, in double.
//   out[c] = (sum over r in [0, rows) of f(table[r, c])) / divisor,  f(x) = x, or (x - center[c])^2 when center given.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

#include "cuda/device_workspace.cuh"
#include "cuda/launch.cuh"

namespace fasttab {

// The doubles of partial sums column_sums needs for (rows, cols) on this device.
std::size_t column_sums_partials(std::int64_t rows, int cols, const DeviceLimits& limits);

// partials: column_sums_partials(rows, cols) doubles of device scratch. Writes out_double and/or out_float (cols
// values each; either may be null). center (cols doubles, device) selects the centred-squares form.
void column_sums(const float* table, std::int64_t rows, int cols, int ld, const double* center, double divisor,
                 double* partials, double* out_double, float* out_float, const DeviceLimits& limits,
                 cudaStream_t stream);

// The finishing pass alone: out[c] = (sum over k < chunks of partials[k * cols + c]) / divisor, in a fixed order.
// For kernels that write their own per-block column partials (the fused backward-and-bias-gradient pass).
void column_sums_finish(const double* partials, int chunks, int cols, double divisor, double* out_double,
                        float* out_float, cudaStream_t stream);

}  // namespace fasttab
