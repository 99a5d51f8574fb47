// round_to_bf16: values[i] = float(__float2bfloat16_rn(values[i])) in place (device memory, asynchronous on the stream).
#pragma once

#include <cstddef>

#include <cuda_runtime_api.h>

#include "cuda/launch.cuh"

namespace fasttab {

void round_to_bf16(float* values, std::size_t count, const DeviceLimits& limits, cudaStream_t stream);

}  // namespace fasttab
