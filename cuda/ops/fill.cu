// fill: dst[i] = value for i in [0, count); a grid-stride loop (cudaMemset only writes byte patterns).
// scale: values[i] *= factor, the same loop.
#include "cuda/ops/fill.cuh"

#include <cstdint>

#include "cuda/launch.cuh"

namespace fasttab {
namespace {

constexpr int kThreads = 256;
constexpr int kWaves = 2;  // full-occupancy waves of the device at most (grid-stride beyond)

__global__ void __launch_bounds__(kThreads) fill_kernel(float* __restrict__ dst, float value, std::size_t count) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    dst[i] = value;
}

__global__ void __launch_bounds__(kThreads) scale_kernel(float* __restrict__ values, float factor, std::size_t count) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    values[i] *= factor;
}

__global__ void increment_counter_kernel(std::uint32_t* counter) { *counter += 1; }

}  // namespace

void fill(float* dst, float value, std::size_t count, const DeviceLimits& limits, cudaStream_t stream) {
  if (count == 0) return;
  FASTTAB_REQUIRE(dst != nullptr, "fill: null destination");
  const unsigned blocks = limits.grid_stride_blocks(static_cast<std::int64_t>(count), kThreads, kWaves);
  fill_kernel<<<blocks, kThreads, 0, stream>>>(dst, value, count);
  CUDA_CHECK_LAUNCH();
}

void scale(float* values, float factor, std::size_t count, const DeviceLimits& limits, cudaStream_t stream) {
  if (count == 0) return;
  FASTTAB_REQUIRE(values != nullptr, "scale: null buffer");
  const unsigned blocks = limits.grid_stride_blocks(static_cast<std::int64_t>(count), kThreads, kWaves);
  scale_kernel<<<blocks, kThreads, 0, stream>>>(values, factor, count);
  CUDA_CHECK_LAUNCH();
}

void increment_counter(std::uint32_t* counter, cudaStream_t stream) {
  FASTTAB_REQUIRE(counter != nullptr, "increment_counter: null counter");
  increment_counter_kernel<<<1, 1, 0, stream>>>(counter);
  CUDA_CHECK_LAUNCH();
}

}  // namespace fasttab
