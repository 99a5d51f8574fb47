// find_nonfinite: first = min { i < count : values[i] is NaN or infinite }, or -1.
// A grid-stride loop: thread t visits t, t + stride, ... in increasing order, so its first hit is the smallest
// index of its subsequence; it stops there and atomicMin folds it into one 64-bit word that starts at
// ULLONG_MAX (all bits set by cudaMemsetAsync). The minimum does not depend on the order of the atomics, so the
// result is exact and the same on every run and device. A thread also stops once its index passes the minimum
// found so far (a read of the word; stale values only cost time).
#include "cuda/ops/find_nonfinite.cuh"

#include "cuda/launch.cuh"

namespace fasttab {
namespace {

constexpr int kThreads = 256;
constexpr int kWaves = 2;  // full-occupancy waves of the device at most (grid-stride beyond)

__global__ void __launch_bounds__(kThreads) find_nonfinite_kernel(const float* __restrict__ values,
                                                                  unsigned long long count,
                                                                  unsigned long long* first) {
  const unsigned long long stride = static_cast<unsigned long long>(gridDim.x) * blockDim.x;
  for (unsigned long long i = static_cast<unsigned long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    if (!isfinite(values[i])) {
      atomicMin(first, i);
      return;
    }
    if (i > *reinterpret_cast<volatile unsigned long long*>(first)) return;
  }
}

}  // namespace

std::int64_t find_nonfinite(const float* values, std::int64_t count, DeviceWorkspace& workspace,
                            const DeviceLimits& limits, cudaStream_t stream) {
  FASTTAB_REQUIRE(count >= 0, "find_nonfinite: negative count ", count);
  if (count == 0) return -1;
  FASTTAB_REQUIRE(values != nullptr, "find_nonfinite: null values");
  auto* first = workspace.ensure_as<unsigned long long>(1, stream);
  CUDA_CHECK(cudaMemsetAsync(first, 0xFF, sizeof(unsigned long long), stream));
  const unsigned blocks = limits.grid_stride_blocks(count, kThreads, kWaves);
  find_nonfinite_kernel<<<blocks, kThreads, 0, stream>>>(values, static_cast<unsigned long long>(count), first);
  CUDA_CHECK_LAUNCH();
  unsigned long long host_first = 0;
  CUDA_CHECK(cudaMemcpyAsync(&host_first, first, sizeof host_first, cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return host_first == ~0ull ? -1 : static_cast<std::int64_t>(host_first);
}

}  // namespace fasttab
