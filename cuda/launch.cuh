// Launch helpers shared by the launchers in cuda/ops/: the device's limits (queried once by the backend), grid
// sizing for grid-stride loops, CEIL_DIV and the 16-byte alignment test of the float4 paths. Launch errors are
// checked with CUDA_CHECK_LAUNCH() (cuda_check.cuh) right after each launch.
//
// Grids are sized from the device, not from one GPU's SM count: a grid-stride kernel gets
//   min(blocks the work needs, sm_count * (max_threads_per_sm / threads) * waves)
// blocks, i.e. `waves` full-occupancy waves at most (on an H100, 132 SMs x 2048 threads, 256-thread blocks:
// waves 4 -> 132 * 32 blocks, waves 2 -> 132 * 16, the constants these launchers used before).
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "cuda/cuda_check.cuh"

#define CEIL_DIV(a, b) (((a) + (b) - 1) / (b))

namespace fasttab {

template <typename T>
constexpr T ceil_div(T a, T b) {
  return CEIL_DIV(a, b);
}

inline bool aligned16(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0; }

// What the launchers need to know about the device; the backend fills it once from cudaDeviceProp.
struct DeviceLimits {
  int sm_count = 132;             // multiprocessors (cudaDeviceProp::multiProcessorCount)
  int max_threads_per_sm = 2048;  // cudaDeviceProp::maxThreadsPerMultiProcessor

  // Blocks of `threads` threads for a grid-stride loop over `items` (one item per thread and step): at least 1,
  // at most `waves` full-occupancy waves of the device.
  unsigned grid_stride_blocks(std::int64_t items, int threads, int waves) const {
    const int resident = max_threads_per_sm / threads > 0 ? max_threads_per_sm / threads : 1;
    const std::int64_t most = static_cast<std::int64_t>(sm_count) * resident * waves;
    const std::int64_t wanted = ceil_div<std::int64_t>(items, threads);
    return static_cast<unsigned>(wanted < 1 ? 1 : (wanted > most ? most : wanted));
  }
  // The number of blocks at which a reduction over rows splits them: `per_sm` blocks per SM. Results of the
  // reductions that use it (column_sums, the fused backward's bias gradient) are deterministic on one device but
  // may differ in the last bits between devices with different SM counts (the partials are summed in order).
  int reduction_blocks(int per_sm) const { return sm_count * per_sm; }
};

inline DeviceLimits device_limits(const cudaDeviceProp& props) {
  DeviceLimits limits;
  limits.sm_count = props.multiProcessorCount;
  limits.max_threads_per_sm = props.maxThreadsPerMultiProcessor;
  return limits;
}

}  // namespace fasttab
