// optimizer_update: one Adam / AdamW / SGD step over flat vectors (backend.hpp, OptimizerUpdate).
#pragma once

#include <cstddef>

#include <cuda_runtime_api.h>

#include "cuda/launch.cuh"
#include "fasttab/backend.hpp"

namespace fasttab {

void optimizer_update(const OptimizerUpdate& update, float* params, const float* grads, float* state1, float* state2,
                      std::size_t count, const DeviceLimits& limits, cudaStream_t stream);

}  // namespace fasttab
