// random_permutation: out[0..n) = 0..n-1 stably sorted by permutation_key(seed, epoch, i) (philox.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <cuda_runtime_api.h>

#include "cuda/device_workspace.cuh"

namespace fasttab {

// Thrust's temporary storage, cached: a freed block goes back to the cache and is handed out again to a later
// request of no more bytes, so a sort of the same size allocates nothing after its first call. Device memory is
// released when the allocator is destroyed. One stream only (blocks are reused in that stream's order).
class ThrustCachingAllocator {
 public:
  using value_type = char;

  ThrustCachingAllocator() = default;
  ~ThrustCachingAllocator();
  ThrustCachingAllocator(const ThrustCachingAllocator&) = delete;
  ThrustCachingAllocator& operator=(const ThrustCachingAllocator&) = delete;

  char* allocate(std::ptrdiff_t bytes);
  void deallocate(char* pointer, std::size_t bytes);

 private:
  struct Block {
    char* data;
    std::size_t bytes;
    bool in_use;
  };
  std::vector<Block> blocks_;
};

// Scratch of the permutation sort: the keys (grow only) and Thrust's temporary storage.
struct PermutationWorkspace {
  DeviceWorkspace keys;
  ThrustCachingAllocator thrust_scratch;
};

void random_permutation(std::uint64_t seed, std::uint32_t epoch, std::uint32_t n, std::uint32_t* out,
                        PermutationWorkspace& workspace, cudaStream_t stream);

}  // namespace fasttab
