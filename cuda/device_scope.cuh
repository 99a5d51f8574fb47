// DeviceScope: a device made current for one call when the calling thread has another one current (another
// library's, or another backend's), and the thread's own given back after (where the process has used it). A
// stream, its events, a cuBLAS handle and device memory all belong to one device; a caller on another device would
// get "invalid resource handle" or memory on the wrong card. Usually the device is already current (a CUDA backend makes its own current when it is
// made, and a process under mpirun uses one device): then the scope costs one cudaGetDevice and sets nothing.
#pragma once

#include <new>
#include <utility>

#include <cuda.h>
#include <cuda_runtime_api.h>

#include "cuda/cuda_check.cuh"

namespace fasttab {

// Whether CUDA device `device` has an active primary context: whether the process has used it. Asked of the driver
// (cuDevicePrimaryCtxGetState) through the runtime, without linking libcuda; false where that cannot be asked.
// Making a device current (cudaSetDevice) creates its context, hundreds of MB on a GPU nobody uses: a device
// without one is not made current again.
inline bool primary_context_active(int device) {
  using DeviceGet = CUresult (*)(CUdevice*, int);
  using GetState = CUresult (*)(CUdevice, unsigned int*, int*);
  static const std::pair<DeviceGet, GetState> driver = [] {
    void* device_get = nullptr;
    void* get_state = nullptr;
    cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
    const bool have_get = cudaGetDriverEntryPointByVersion("cuDeviceGet", &device_get, 12000, cudaEnableDefault,
                                                           &found) == cudaSuccess && found == cudaDriverEntryPointSuccess;
    const bool have_state = cudaGetDriverEntryPointByVersion("cuDevicePrimaryCtxGetState", &get_state, 12000,
                                                             cudaEnableDefault, &found) == cudaSuccess &&
                            found == cudaDriverEntryPointSuccess;
    cudaGetLastError();
    return have_get && have_state ? std::make_pair(reinterpret_cast<DeviceGet>(device_get),
                                                   reinterpret_cast<GetState>(get_state))
                                  : std::make_pair(DeviceGet(nullptr), GetState(nullptr));
  }();
  if (!driver.first) return false;
  CUdevice handle = 0;
  unsigned int flags = 0;
  int active = 0;
  return driver.first(&handle, device) == CUDA_SUCCESS && driver.second(handle, &flags, &active) == CUDA_SUCCESS &&
         active != 0;
}

// Makes `device` current again if the process has used it (see primary_context_active) and it is not current now.
// Reports nothing: a failed call is cleared, so that no error is left pending for a later check to misreport.
inline void make_used_device_current(int device) noexcept {
  int current = device;
  if (device >= 0 && cudaGetDevice(&current) == cudaSuccess && current != device && primary_context_active(device))
    cudaSetDevice(device);
  cudaGetLastError();
}

class DeviceScope {
 public:
  explicit DeviceScope(int device) { CUDA_CHECK(enter(device)); }
  // The same for destructors and release paths, which report nothing: a failed call is cleared, not thrown.
  DeviceScope(int device, std::nothrow_t) noexcept {
    if (enter(device) != cudaSuccess) cudaGetLastError();
  }
  ~DeviceScope() {
    if (caller_ >= 0) make_used_device_current(caller_);
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  cudaError_t enter(int device) noexcept {
    cudaError_t status = cudaGetDevice(&caller_);
    if (status == cudaSuccess && caller_ != device) status = cudaSetDevice(device);
    else caller_ = -1;  // already current: nothing to give back
    if (status != cudaSuccess) caller_ = -1;
    return status;
  }

  int caller_ = -1;  // the device to give back, or -1
};

// The device a stream belongs to.
inline int stream_device(cudaStream_t stream) {
  int device = 0;
  CUDA_CHECK(cudaStreamGetDevice(stream, &device));
  return device;
}

}  // namespace fasttab
