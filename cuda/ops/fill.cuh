// fill: dst[0..count) = value (device memory, asynchronous on the stream), and the other small writes: scale,
// increment_counter.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

#include "cuda/launch.cuh"

namespace fasttab {

void fill(float* dst, float value, std::size_t count, const DeviceLimits& limits, cudaStream_t stream);
// values[i] *= factor for i in [0, count).
void scale(float* values, float factor, std::size_t count, const DeviceLimits& limits, cudaStream_t stream);
// *counter += 1 (one thread): the step counter of a captured training step.
void increment_counter(std::uint32_t* counter, cudaStream_t stream);

}  // namespace fasttab
