// evaluate: metrics of model outputs against labels on the device (backend.hpp, Metrics).
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "cuda/device_workspace.cuh"
#include "fasttab/backend.hpp"

namespace fasttab {

// Scratch of the evaluation (per-row sums, the AUC sort and group counts, CUB temp storage); grows only.
struct MetricsWorkspace {
  DeviceWorkspace block;
};

// Waits for `stream` once at the end and returns host values; fields that do not apply are NaN.
Metrics evaluate(Task task, const float* outputs, std::int64_t rows, int width, int ld, const float* labels,
                 MetricsWorkspace& workspace, cudaStream_t stream);

}  // namespace fasttab
