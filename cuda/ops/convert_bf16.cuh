// convert_to_bf16: dst[r, c] = __float2bfloat16_rn(src[r, c]) for a rows x cols float32 matrix (leading dims ld_src,
// ld_dst; dst's row padding is not written). Device memory, asynchronous on the stream.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include "cuda/launch.cuh"

namespace fasttab {

void convert_to_bf16(const float* src, int rows, int cols, int ld_src, __nv_bfloat16* dst, int ld_dst,
                     const DeviceLimits& limits, cudaStream_t stream);

}  // namespace fasttab
