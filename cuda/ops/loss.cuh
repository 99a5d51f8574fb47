// loss_forward_backward: the training loss and its gradient with respect to the outputs (backend.hpp).
#pragma once

#include <cuda_runtime_api.h>

#include "fasttab/backend.hpp"

namespace fasttab {

// partials: kRowReducePartials doubles of device scratch (row_reduce.cuh). *loss: one float in device memory.
void loss_forward_backward(Task task, const float* outputs, int rows, int width, int ld, const float* labels,
                           float* grad, float* loss, double* partials, cudaStream_t stream);

}  // namespace fasttab
