// The CUDA backend's stream, for code that enqueues its own work (loaders' host-to-device copies, events) in
// order with the backend's ops. make_cuda_backend() and cuda_device_count() are declared in backend.hpp.
#pragma once

#include <cuda_runtime_api.h>

#include "fasttab/backend.hpp"

namespace fasttab {

// The one (non-blocking) stream on which every op of a CUDA backend runs. Throws Error if `backend` is not CUDA.
cudaStream_t cuda_stream(Backend& backend);

}  // namespace fasttab
