// convert_to_bf16 (Backend::convert_to_bf16): the bf16 precision's conversions of float32 into bfloat16 storage
// (the weight copy, the first layer's input, the loss gradient). Each value goes through __float2bfloat16_rn
// (cvt.rn.bf16.f32: round-to-nearest-even, subnormals kept, NaN to the canonical 0x7FFF); the CPU's
// reference::bf16_bits is the same function on the bit pattern (tests/gpu/test_bf16.cpp). A grid-stride loop over
// the rows x cols elements, consecutive threads on consecutive elements of a row.
#include "cuda/ops/convert_bf16.cuh"

#include <cstdint>

#include "cuda/launch.cuh"

namespace fasttab {
namespace {

constexpr int kThreads = 256;
constexpr int kWaves = 2;

__global__ void __launch_bounds__(kThreads) convert_bf16_kernel(const float* __restrict__ src, int ld_src,
                                                                __nv_bfloat16* __restrict__ dst, int ld_dst,
                                                                int cols, std::uint64_t total) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t i = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const std::uint64_t r = i / static_cast<std::uint64_t>(cols), c = i - r * static_cast<std::uint64_t>(cols);
    dst[r * static_cast<std::uint64_t>(ld_dst) + c] = __float2bfloat16_rn(src[r * static_cast<std::uint64_t>(ld_src) + c]);
  }
}

}  // namespace

void convert_to_bf16(const float* src, int rows, int cols, int ld_src, __nv_bfloat16* dst, int ld_dst,
                     const DeviceLimits& limits, cudaStream_t stream) {
  FASTTAB_REQUIRE(rows >= 0 && cols >= 0, "convert_to_bf16: bad shape ", rows, " x ", cols);
  FASTTAB_REQUIRE(ld_src >= cols && ld_dst >= cols, "convert_to_bf16: leading dimensions ", ld_src, " and ", ld_dst,
                  " must be >= columns ", cols);
  const std::uint64_t total = static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols);
  if (total == 0) return;
  FASTTAB_REQUIRE(src != nullptr && dst != nullptr, "convert_to_bf16: null buffer");
  const unsigned blocks = limits.grid_stride_blocks(static_cast<std::int64_t>(total), kThreads, kWaves);
  convert_bf16_kernel<<<blocks, kThreads, 0, stream>>>(src, ld_src, dst, ld_dst, cols, total);
  CUDA_CHECK_LAUNCH();
}

}  // namespace fasttab
