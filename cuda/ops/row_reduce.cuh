// Deterministic sums over rows: out[k] = scale * sum over r in [0, rows) of fn(r)[k], k < K, in double.
//
// Layout of the work: a fixed grid of at most kRowReduceMaxBlocks blocks of kRowReduceThreads threads; thread t
// of block b adds rows b*T + t, b*T + t + G*T, ... in that order, the block combines its threads by a
// shared-memory tree, and one block then adds the per-block partials in block order. The grid depends only on
// `rows`, so the result is the same bit for bit from run to run (no atomics). `fn(r, acc)` adds row r's terms
// into acc[0..K) and may write per-row outputs (the loss gradient) as a side effect.
//
// Header-only (templates): included by the .cu files that reduce over rows (loss, metrics).
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "cuda/launch.cuh"

namespace fasttab {

constexpr int kRowReduceThreads = 256;
constexpr int kRowReduceMaxBlocks = 512;
constexpr int kRowReduceMaxK = 4;
// Doubles of scratch a row_reduce needs for its per-block partials.
constexpr std::size_t kRowReducePartials = static_cast<std::size_t>(kRowReduceMaxBlocks) * kRowReduceMaxK;

template <int K, typename RowFn>
__global__ void __launch_bounds__(kRowReduceThreads) row_reduce_kernel(std::int64_t rows, RowFn fn,
                                                                       double* partials) {
  __shared__ double shared[K][kRowReduceThreads];
  double acc[K];
#pragma unroll
  for (int k = 0; k < K; ++k) acc[k] = 0.0;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t r = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; r < rows; r += stride)
    fn(r, acc);
#pragma unroll
  for (int k = 0; k < K; ++k) shared[k][threadIdx.x] = acc[k];
  __syncthreads();
  for (int half = kRowReduceThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
#pragma unroll
      for (int k = 0; k < K; ++k) shared[k][threadIdx.x] += shared[k][threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
#pragma unroll
    for (int k = 0; k < K; ++k) partials[static_cast<std::size_t>(k) * gridDim.x + blockIdx.x] = shared[k][0];
  }
}

// One block: out_double[k] and/or out_float[k] = scale * sum over blocks b (in a fixed tree order) of partials.
template <int K>
__global__ void __launch_bounds__(kRowReduceThreads) row_reduce_finish_kernel(const double* partials, int blocks,
                                                                              double scale, double* out_double,
                                                                              float* out_float) {
  __shared__ double shared[kRowReduceThreads];
  for (int k = 0; k < K; ++k) {
    double acc = 0.0;
    for (int b = threadIdx.x; b < blocks; b += kRowReduceThreads) acc += partials[static_cast<std::size_t>(k) * blocks + b];
    shared[threadIdx.x] = acc;
    __syncthreads();
    for (int half = kRowReduceThreads / 2; half > 0; half /= 2) {
      if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      const double total = shared[0] * scale;
      if (out_double) out_double[k] = total;
      if (out_float) out_float[k] = static_cast<float>(total);
    }
    __syncthreads();  // shared[] is reused for the next k
  }
}

// partials: kRowReducePartials doubles of device scratch. rows == 0 gives zeros (times scale).
template <int K, typename RowFn>
void row_reduce(std::int64_t rows, RowFn fn, double* partials, double scale, double* out_double, float* out_float,
                cudaStream_t stream) {
  static_assert(K >= 1 && K <= kRowReduceMaxK, "row_reduce: K out of range");
  FASTTAB_REQUIRE(rows >= 0, "row_reduce: negative row count ", rows);
  const std::int64_t wanted = ceil_div<std::int64_t>(rows, kRowReduceThreads);
  const int blocks = static_cast<int>(wanted < 1 ? 1 : (wanted > kRowReduceMaxBlocks ? kRowReduceMaxBlocks : wanted));
  row_reduce_kernel<K><<<blocks, kRowReduceThreads, 0, stream>>>(rows, fn, partials);
  CUDA_CHECK_LAUNCH();
  row_reduce_finish_kernel<K><<<1, kRowReduceThreads, 0, stream>>>(partials, blocks, scale, out_double, out_float);
  CUDA_CHECK_LAUNCH();
}

}  // namespace fasttab
