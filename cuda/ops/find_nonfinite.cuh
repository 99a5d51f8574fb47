// find_nonfinite: the index of the first NaN or infinite element of a device vector (backend.hpp).
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "cuda/device_workspace.cuh"
#include "cuda/launch.cuh"

namespace fasttab {

// The smallest i < count with values[i] NaN or +-inf, or -1 when there is none. workspace: one 64-bit word of
// device scratch (grows only). Waits for `stream`.
std::int64_t find_nonfinite(const float* values, std::int64_t count, DeviceWorkspace& workspace,
                            const DeviceLimits& limits, cudaStream_t stream);

}  // namespace fasttab
