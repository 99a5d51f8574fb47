// random_permutation: the epoch's row order. keys[i] = permutation_key(seed, epoch, i) (64-bit Philox draws),
// values[i] = i, then a CUB radix sort of the pairs by key. Radix sort is stable, so rows with equal keys keep
// index order and the result equals std::stable_sort by key on the host (the CPU backend).
//
// Scratch (keys in, keys out, values in, CUB temp storage) is carved from one block that only grows: a call for
// the same or a smaller n does not allocate. The sorted values go straight to `out`.
#include "cuda/ops/random_permutation.cuh"

#include <cub/device/device_radix_sort.cuh>

#include "cuda/launch.cuh"
#include "fasttab/philox.hpp"

namespace fasttab {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) permutation_keys_kernel(std::uint64_t seed, std::uint32_t epoch,
                                                                    std::uint32_t n, std::uint64_t* keys,
                                                                    std::uint32_t* values) {
  const std::uint64_t i = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;  // no wrap near n = 2^32
  if (i >= n) return;
  keys[i] = permutation_key(seed, epoch, static_cast<std::uint32_t>(i));
  values[i] = static_cast<std::uint32_t>(i);
}

}  // namespace

void random_permutation(std::uint64_t seed, std::uint32_t epoch, std::uint32_t n, std::uint32_t* out,
                        PermutationWorkspace& workspace, cudaStream_t stream) {
  if (n == 0) return;
  FASTTAB_REQUIRE(out != nullptr, "random_permutation: null output");
  std::size_t temp_bytes = 0;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, static_cast<const std::uint64_t*>(nullptr),
                                             static_cast<std::uint64_t*>(nullptr),
                                             static_cast<const std::uint32_t*>(nullptr),
                                             static_cast<std::uint32_t*>(nullptr), n, 0, 64, stream));
  WorkspaceCarver measure(nullptr);
  measure.take<std::uint64_t>(n);
  measure.take<std::uint64_t>(n);
  measure.take<std::uint32_t>(n);
  measure.take<char>(temp_bytes);
  WorkspaceCarver carve(workspace.block.ensure(measure.bytes(), stream));
  std::uint64_t* keys_in = carve.take<std::uint64_t>(n);
  std::uint64_t* keys_out = carve.take<std::uint64_t>(n);
  std::uint32_t* values_in = carve.take<std::uint32_t>(n);
  void* temp = carve.take<char>(temp_bytes);

  const unsigned blocks = static_cast<unsigned>(ceil_div<std::uint64_t>(n, kThreads));
  permutation_keys_kernel<<<blocks, kThreads, 0, stream>>>(seed, epoch, n, keys_in, values_in);
  CUDA_CHECK_LAUNCH();
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, temp_bytes, keys_in, keys_out, values_in, out, n, 0, 64, stream));
}

}  // namespace fasttab
