// round_to_bf16: the bf16 precision's rounding of the GEMM inputs kept in float32 storage (Backend::round_to_bf16).
// Each value goes through __float2bfloat16_rn (cvt.rn.bf16.f32: round-to-nearest-even, subnormals kept, NaN to the
// canonical 0x7FFF) and back, so the float32 buffer holds exactly what a bfloat16 buffer would. A grid-stride loop
// as fill's. The CPU's reference::round_to_bf16 is the same function on the bit pattern (tests/gpu/test_bf16.cpp).
#include "cuda/ops/round_bf16.cuh"

#include <cstdint>

#include <cuda_bf16.h>

#include "cuda/launch.cuh"

namespace fasttab {
namespace {

constexpr int kThreads = 256;
constexpr int kWaves = 2;

__global__ void __launch_bounds__(kThreads) round_bf16_kernel(float* __restrict__ values, std::size_t count) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    values[i] = __bfloat162float(__float2bfloat16_rn(values[i]));
}

}  // namespace

void round_to_bf16(float* values, std::size_t count, const DeviceLimits& limits, cudaStream_t stream) {
  if (count == 0) return;
  FASTTAB_REQUIRE(values != nullptr, "round_to_bf16: null buffer");
  const unsigned blocks = limits.grid_stride_blocks(static_cast<std::int64_t>(count), kThreads, kWaves);
  round_bf16_kernel<<<blocks, kThreads, 0, stream>>>(values, count);
  CUDA_CHECK_LAUNCH();
}

}  // namespace fasttab
