// random_permutation: the epoch's row order. out[i] = i and keys[i] = permutation_key(seed, epoch, i) (64-bit
// Philox draws, philox.hpp), then thrust::stable_sort_by_key of out by keys, so that rows with equal keys keep
// index order and the result equals std::stable_sort by key on the host (the CPU backend,
// host/reference_math.cpp). For 64-bit integer keys Thrust sorts by radix on the device.
//
// Everything runs on the backend's stream (thrust::cuda::par_nosync(allocator).on(stream): no synchronisation),
// and no memory is allocated per epoch after the first: the keys live in a workspace that only grows, and Thrust's
// temporary storage comes from a caching allocator that keeps the blocks it hands out for the next call.
#include "cuda/ops/random_permutation.cuh"

#include <thrust/execution_policy.h>
#include <thrust/sort.h>

#include "cuda/launch.cuh"
#include "host/backend/philox.hpp"

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

// ---- ThrustCachingAllocator ----------------------------------------------------------------------------------

char* ThrustCachingAllocator::allocate(std::ptrdiff_t bytes) {
  const std::size_t wanted = bytes > 0 ? static_cast<std::size_t>(bytes) : 1;
  for (Block& block : blocks_) {
    if (!block.in_use && block.bytes >= wanted) {
      block.in_use = true;
      return block.data;
    }
  }
  // A new block (the first call, or a larger n): the blocks it does not reuse stay cached for later calls.
  Block block{nullptr, wanted, true};
  CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&block.data), wanted));
  blocks_.push_back(block);
  return block.data;
}

void ThrustCachingAllocator::deallocate(char* pointer, std::size_t) {
  // Back to the cache. Work still queued on the stream may use the block: the next user runs on the same stream,
  // after it, so reuse is ordered.
  for (Block& block : blocks_) {
    if (block.data == pointer) {
      block.in_use = false;
      return;
    }
  }
}

ThrustCachingAllocator::~ThrustCachingAllocator() {
  for (Block& block : blocks_) cudaFree(block.data);  // cudaFree waits for the device's work that uses it
}

void random_permutation(std::uint64_t seed, std::uint32_t epoch, std::uint32_t n, std::uint32_t* out,
                        PermutationWorkspace& workspace, cudaStream_t stream) {
  if (n == 0) return;
  FASTTAB_REQUIRE(out != nullptr, "random_permutation: null output");
  std::uint64_t* keys = workspace.keys.ensure_as<std::uint64_t>(n, stream);
  const unsigned blocks = static_cast<unsigned>(ceil_div<std::uint64_t>(n, kThreads));
  permutation_keys_kernel<<<blocks, kThreads, 0, stream>>>(seed, epoch, n, keys, out);
  CUDA_CHECK_LAUNCH();
  thrust::stable_sort_by_key(thrust::cuda::par_nosync(workspace.thrust_scratch).on(stream), keys, keys + n, out);
  CUDA_CHECK_LAUNCH();
}

}  // namespace fasttab
