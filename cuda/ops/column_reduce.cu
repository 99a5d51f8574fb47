// column_sums: deterministic column sums (bias gradients, column means and variances), in double.
//
// Pass 1: a block of 32 x 8 threads owns 32 adjacent columns (threadIdx.x: coalesced loads along a row) and one
// chunk of rows; its 8 row lanes (threadIdx.y) add rows chunk_start + y, + 8, ... and then lane 0 adds the 8 lane
// sums in lane order into partials[chunk, c]. Pass 2: one warp per column adds the chunks' partials (each lane a
// fixed subset in order, then a fixed shuffle tree). The chunking depends only on (rows, cols, SM count), so the sums are
// the same bit for bit from run to run on one device.
#include "cuda/ops/column_reduce.cuh"

#include "cuda/launch.cuh"

namespace fasttab {
namespace {

constexpr int kColumnsPerBlock = 32;
constexpr int kRowLanes = 8;
constexpr int kMaxChunks = 256;
constexpr std::int64_t kMinRowsPerChunk = 64;
// Chunks of rows: enough blocks for about four per SM (limits.reduction_blocks(4); 132 x 4 on an H100). The sums'
// order follows the chunking, so they are the same bits on one device, and may differ in the last bits between
// devices with different SM counts.
constexpr int kBlocksPerSm = 4;

struct Chunking {
  int column_blocks;
  int chunks;
  std::int64_t rows_per_chunk;
};

Chunking chunking(std::int64_t rows, int cols, const DeviceLimits& limits) {
  Chunking c{};
  c.column_blocks = ceil_div(cols, kColumnsPerBlock);
  const std::int64_t target_blocks = limits.reduction_blocks(kBlocksPerSm);
  std::int64_t chunks = ceil_div<std::int64_t>(target_blocks, c.column_blocks < 1 ? 1 : c.column_blocks);
  const std::int64_t by_rows = ceil_div<std::int64_t>(rows, kMinRowsPerChunk);
  if (chunks > by_rows) chunks = by_rows;
  if (chunks > kMaxChunks) chunks = kMaxChunks;
  if (chunks < 1) chunks = 1;
  c.chunks = static_cast<int>(chunks);
  c.rows_per_chunk = ceil_div<std::int64_t>(rows, chunks);
  return c;
}

__global__ void __launch_bounds__(kColumnsPerBlock* kRowLanes)
    column_partials_kernel(const float* __restrict__ table, std::int64_t rows, int cols, int ld,
                           std::int64_t rows_per_chunk, const double* __restrict__ center,
                           double* __restrict__ partials) {
  __shared__ double lanes[kRowLanes][kColumnsPerBlock];
  const int c = blockIdx.x * kColumnsPerBlock + threadIdx.x;
  const std::int64_t begin = static_cast<std::int64_t>(blockIdx.y) * rows_per_chunk;
  std::int64_t end = begin + rows_per_chunk;
  if (end > rows) end = rows;
  double acc = 0.0;
  if (c < cols) {
    const double mu = center ? center[c] : 0.0;
    auto term = [&](float value) {
      const double x = static_cast<double>(value);
      return center ? (x - mu) * (x - mu) : x;
    };
    // Four independent loads in flight per thread (one was too few to cover the memory latency: 1 TB/s), then
    // the same fixed order of additions every run.
    std::int64_t r = begin + threadIdx.y;
    for (; r + 3 * kRowLanes < end; r += 4 * kRowLanes) {
      const float x0 = table[r * ld + c], x1 = table[(r + kRowLanes) * ld + c];
      const float x2 = table[(r + 2 * kRowLanes) * ld + c], x3 = table[(r + 3 * kRowLanes) * ld + c];
      acc += term(x0);
      acc += term(x1);
      acc += term(x2);
      acc += term(x3);
    }
    for (; r < end; r += kRowLanes) acc += term(table[r * ld + c]);
  }
  lanes[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    double total = 0.0;
#pragma unroll
    for (int y = 0; y < kRowLanes; ++y) total += lanes[y][threadIdx.x];
    partials[static_cast<std::size_t>(blockIdx.y) * cols + c] = total;
  }
}

// One warp per column: lane k adds chunks k, k + 32, ... in order, then a fixed shuffle tree adds the 32 lane
// sums (a thread per column adding every chunk in sequence was latency-bound: ~8 us for 300 columns).
__global__ void column_finish_kernel(const double* __restrict__ partials, int chunks, int cols, double divisor,
                                     double* __restrict__ out_double, float* __restrict__ out_float) {
  const int c = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (c >= cols) return;  // whole warps leave together: c is the same across a warp
  double total = 0.0;
  for (int k = lane; k < chunks; k += 32) total += partials[static_cast<std::size_t>(k) * cols + c];
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) total += __shfl_down_sync(0xffffffffu, total, offset);
  if (lane == 0) {
    total /= divisor;
    if (out_double) out_double[c] = total;
    if (out_float) out_float[c] = static_cast<float>(total);
  }
}

}  // namespace

std::size_t column_sums_partials(std::int64_t rows, int cols, const DeviceLimits& limits) {
  const Chunking c = chunking(rows, cols, limits);
  return static_cast<std::size_t>(c.chunks) * static_cast<std::size_t>(cols < 1 ? 1 : cols);
}

void column_sums(const float* table, std::int64_t rows, int cols, int ld, const double* center, double divisor,
                 double* partials, double* out_double, float* out_float, const DeviceLimits& limits,
                 cudaStream_t stream) {
  FASTTAB_REQUIRE(rows >= 0 && cols >= 0, "column_sums: bad shape ", rows, " x ", cols);
  FASTTAB_REQUIRE(ld >= cols, "column_sums: leading dimension ", ld, " < columns ", cols);
  if (cols == 0) return;
  const Chunking c = chunking(rows, cols, limits);
  const dim3 block(kColumnsPerBlock, kRowLanes);
  const dim3 grid(static_cast<unsigned>(c.column_blocks), static_cast<unsigned>(c.chunks));
  column_partials_kernel<<<grid, block, 0, stream>>>(table, rows, cols, ld, c.rows_per_chunk, center, partials);
  CUDA_CHECK_LAUNCH();
  column_sums_finish(partials, c.chunks, cols, divisor, out_double, out_float, stream);
}

void column_sums_finish(const double* partials, int chunks, int cols, double divisor, double* out_double,
                        float* out_float, cudaStream_t stream) {
  FASTTAB_REQUIRE(chunks >= 1 && cols >= 0, "column_sums_finish: ", chunks, " chunks of ", cols, " columns");
  if (cols == 0) return;
  constexpr int kFinishThreads = 256;  // 8 columns per block, a warp each
  column_finish_kernel<<<ceil_div(cols, kFinishThreads / 32), kFinishThreads, 0, stream>>>(partials, chunks, cols,
                                                                                            divisor, out_double, out_float);
  CUDA_CHECK_LAUNCH();
}

}  // namespace fasttab
