// Column statistics of a row-major float table: moments (host doubles) and in-place standardisation.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "cuda/device_workspace.cuh"
#include "cuda/launch.cuh"

namespace fasttab {

// host_mean[c], host_std[c] (population) of table[rows, cols] (leading dimension ld), in double; waits for stream.
void column_moments(const float* table, std::int64_t rows, int cols, int ld, double* host_mean, double* host_std,
                    DeviceWorkspace& workspace, const DeviceLimits& limits, cudaStream_t stream);
// table[r, c] = (table[r, c] - mean[c]) * inv_std[c]; mean, inv_std: cols floats in device memory.
void standardize_columns(float* table, std::int64_t rows, int cols, int ld, const float* mean, const float* inv_std,
                         const DeviceLimits& limits, cudaStream_t stream);

}  // namespace fasttab
