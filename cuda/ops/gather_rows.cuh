// gather_rows: out_features[i, :] = features[indices[i], :] (ld floats per row) and out_labels[i] = labels[indices[i]].
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "cuda/launch.cuh"

namespace fasttab {

void gather_rows(const float* features, int ld, const float* labels, const std::uint32_t* indices, std::int64_t count,
                 float* out_features, float* out_labels, const DeviceLimits& limits, cudaStream_t stream);

}  // namespace fasttab
