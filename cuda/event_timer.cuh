// Timing of work enqueued on a CUDA stream by CUDA events: the median, over `repeats` timings, of one call of the
// work, each timing `inner` back-to-back calls, after one warm-up call. It waits for the stream: for benchmarks
// and one-time choices (cuBLASLt's timed plans), never inside a training step or a capture.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <vector>

#include "cuda/cuda_check.cuh"

namespace fasttab {

class EventTimer {
 public:
  EventTimer() {
    CUDA_CHECK(cudaEventCreate(&start_));
    const cudaError_t created = cudaEventCreate(&stop_);
    if (created != cudaSuccess) cudaEventDestroy(start_);
    CUDA_CHECK(created);
  }
  ~EventTimer() {
    cudaEventDestroy(stop_);
    cudaEventDestroy(start_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  // Median milliseconds of one call of `work` (which enqueues on `stream`).
  template <typename F>
  double median_ms(cudaStream_t stream, int repeats, int inner, F&& work) {
    work();
    std::vector<double> ms;
    for (int r = 0; r < repeats; ++r) {
      CUDA_CHECK(cudaEventRecord(start_, stream));
      for (int i = 0; i < inner; ++i) work();
      CUDA_CHECK(cudaEventRecord(stop_, stream));
      CUDA_CHECK(cudaEventSynchronize(stop_));
      float elapsed = 0;
      CUDA_CHECK(cudaEventElapsedTime(&elapsed, start_, stop_));
      ms.push_back(double(elapsed) / inner);
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

}  // namespace fasttab
