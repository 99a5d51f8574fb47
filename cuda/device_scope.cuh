// DeviceScope: a device made current for one call when the calling thread has another one current (another
// library's, or another backend's), and the thread's own given back after. A stream, its events, a cuBLAS handle and
// device memory all belong to one device; a caller on another device would get "invalid resource handle" or
// memory on the wrong card. Usually the device is already current (a CUDA backend makes its own current when it is
// made, and a process under mpirun uses one device): then the scope costs one cudaGetDevice and sets nothing.
#pragma once

#include <cuda_runtime_api.h>

#include "cuda/cuda_check.cuh"

namespace fasttab {

class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    CUDA_CHECK(cudaGetDevice(&caller_));
    if (caller_ == device) caller_ = -1;
    else CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceScope() {
    if (caller_ >= 0 && cudaSetDevice(caller_) != cudaSuccess) cudaGetLastError();  // none left pending
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int caller_ = -1;
};

// The device a stream belongs to.
inline int stream_device(cudaStream_t stream) {
  int device = 0;
  CUDA_CHECK(cudaStreamGetDevice(stream, &device));
  return device;
}

}  // namespace fasttab
