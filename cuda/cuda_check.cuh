// Error checks for CUDA runtime and cuBLAS calls: each macro throws fasttab::Error naming the failing
// call, the library's error name and text, and the file:line of the call, so that a failure in a kernel launch
// deep inside a training step says where it happened.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "fasttab/error.hpp"

namespace fasttab::cuda_detail {

[[noreturn]] inline void fail_cuda(cudaError_t status, const char* call, const char* file, int line) {
  FASTTAB_FAIL("CUDA error ", cudaGetErrorName(status), " (", cudaGetErrorString(status), ") in ", call, " at ",
               file, ":", line);
}
[[noreturn]] inline void fail_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  FASTTAB_FAIL("cuBLAS error ", cublasGetStatusName(status), " (", cublasGetStatusString(status), ") in ", call,
               " at ", file, ":", line);
}

}  // namespace fasttab::cuda_detail

#define CUDA_CHECK(call)                                                                      \
  do {                                                                                        \
    const cudaError_t fasttab_status_ = (call);                                               \
    if (fasttab_status_ != cudaSuccess)                                                       \
      ::fasttab::cuda_detail::fail_cuda(fasttab_status_, #call, __FILE__, __LINE__);          \
  } while (0)

#define CUBLAS_CHECK(call)                                                                    \
  do {                                                                                        \
    const cublasStatus_t fasttab_status_ = (call);                                            \
    if (fasttab_status_ != CUBLAS_STATUS_SUCCESS)                                             \
      ::fasttab::cuda_detail::fail_cublas(fasttab_status_, #call, __FILE__, __LINE__);        \
  } while (0)

// Right after a kernel launch: a bad launch configuration shows up here, not at the next synchronisation.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
