// random_permutation: out[0..n) = 0..n-1 stably sorted by permutation_key(seed, epoch, i) (philox.hpp).
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "cuda/device_workspace.cuh"

namespace fasttab {

// Scratch of the permutation sort (keys in and out, the index sequence, CUB's temp storage); grows only.
struct PermutationWorkspace {
  DeviceWorkspace block;
};

void random_permutation(std::uint64_t seed, std::uint32_t epoch, std::uint32_t n, std::uint32_t* out,
                        PermutationWorkspace& workspace, cudaStream_t stream);

}  // namespace fasttab
