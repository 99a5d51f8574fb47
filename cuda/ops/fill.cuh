// fill: dst[0..count) = value (device memory, asynchronous on the stream).
#pragma once

#include <cstddef>

#include <cuda_runtime_api.h>

namespace fasttab {

void fill(float* dst, float value, std::size_t count, cudaStream_t stream);

}  // namespace fasttab
