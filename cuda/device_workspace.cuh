// DeviceWorkspace: scratch device memory that an op sizes on its first call and then keeps. It only grows;
// a call that needs no more than it already holds does not allocate or synchronise.
#pragma once

#include <cstddef>
#include <vector>

#include <cuda_runtime_api.h>

#include "cuda/cuda_check.cuh"

namespace fasttab {

class DeviceWorkspace {
 public:
  DeviceWorkspace() = default;
  ~DeviceWorkspace() {
    if (data_) cudaFree(data_);
    for (void* block : kept_) cudaFree(block);
  }
  DeviceWorkspace(const DeviceWorkspace&) = delete;
  DeviceWorkspace& operator=(const DeviceWorkspace&) = delete;

  // At least `bytes` bytes. Growing waits for `stream` first: work queued there may still use the old block.
  // After keep_blocks_on_growth(), the old block is kept instead (until the workspace dies).
  void* ensure(std::size_t bytes, cudaStream_t stream) {
    if (bytes <= bytes_ && data_) return data_;
    if (data_) {
      if (keep_on_growth_) {
        kept_.push_back(data_);
      } else {
        CUDA_CHECK(cudaStreamSynchronize(stream));
        CUDA_CHECK(cudaFree(data_));
      }
      data_ = nullptr;
      bytes_ = 0;
    }
    const std::size_t rounded = (bytes + 255) / 256 * 256;
    CUDA_CHECK(cudaMalloc(&data_, rounded == 0 ? 256 : rounded));
    bytes_ = rounded == 0 ? 256 : rounded;
    return data_;
  }
  template <typename T>
  T* ensure_as(std::size_t count, cudaStream_t stream) {
    return static_cast<T*>(ensure(count * sizeof(T), stream));
  }
  std::size_t bytes() const { return bytes_; }
  // A captured graph holds the block's address: a replay after the workspace grew for a direct call would write
  // freed memory. From this call on, growing keeps the old blocks alive.
  void keep_blocks_on_growth() { keep_on_growth_ = true; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  bool keep_on_growth_ = false;
  std::vector<void*> kept_;
};

// Carves aligned pieces out of one block: first with a null base to measure, then with the real base.
class WorkspaceCarver {
 public:
  explicit WorkspaceCarver(void* base) : base_(static_cast<char*>(base)) {}
  template <typename T>
  T* take(std::size_t count) {
    offset_ = (offset_ + 255) / 256 * 256;
    T* piece = base_ ? reinterpret_cast<T*>(base_ + offset_) : nullptr;
    offset_ += count * sizeof(T);
    return piece;
  }
  std::size_t bytes() const { return (offset_ + 255) / 256 * 256; }

 private:
  char* base_;
  std::size_t offset_ = 0;
};

}  // namespace fasttab
