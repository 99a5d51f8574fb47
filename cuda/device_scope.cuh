// DeviceScope: a device made current for one call when the calling thread has another one current (another
// library's, or another backend's), and the thread's own given back after (where the process has used it). A stream, its events, a cuBLAS handle and
// device memory all belong to one device; a caller on another device would get "invalid resource handle" or
// memory on the wrong card. Usually the device is already current (a CUDA backend makes its own current when it is
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

class DeviceScope {
 public:
  // The caller's device is given back only if it has a context (else the backend's stays current).
  explicit DeviceScope(int device) {
    CUDA_CHECK(cudaGetDevice(&caller_));
    if (caller_ == device) {
      caller_ = -1;
      return;
    }
    if (!primary_context_active(caller_)) caller_ = -1;
    CUDA_CHECK(cudaSetDevice(device));
  }
  // The same for destructors and release paths, which report nothing: a failed call is cleared, not thrown (no
  // error is left pending for a later check to misreport).
  DeviceScope(int device, std::nothrow_t) noexcept {
    if (cudaGetDevice(&caller_) != cudaSuccess || caller_ == device) {
      caller_ = -1;
    } else {
      if (!primary_context_active(caller_)) caller_ = -1;
      if (cudaSetDevice(device) != cudaSuccess) caller_ = -1;
    }
    cudaGetLastError();
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
