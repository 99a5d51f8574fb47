// Column statistics of a row-major float table[rows, cols] with leading dimension ld.
//   column_moments: (rows == 0: zeros) mean[c] = sum_r x / rows, then std[c] = sqrt(sum_r (x - mean[c])^2 / rows) (two passes, so no
//                   cancellation), both with column_sums (deterministic, in double); one copy to the host at the end.
//   standardize_columns: x = (x - mean[c]) * inv_std[c] in float, one thread per element over the flat rows x cols.
#include "cuda/ops/column_stats.cuh"

#include <cmath>

#include "cuda/ops/column_reduce.cuh"
#include "cuda/launch.cuh"

namespace fasttab {
namespace {

constexpr int kThreads = 256;
constexpr int kWaves = 4;  // full-occupancy waves of the device at most (grid-stride beyond)

__global__ void __launch_bounds__(kThreads) standardize_kernel(float* __restrict__ table, std::uint64_t total,
                                                               int cols, int ld, const float* __restrict__ mean,
                                                               const float* __restrict__ inv_std) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t f = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; f < total; f += stride) {
    const std::uint64_t r = f / static_cast<std::uint64_t>(cols);
    const int c = static_cast<int>(f - r * static_cast<std::uint64_t>(cols));
    float* x = table + r * static_cast<std::uint64_t>(ld) + c;
    *x = (*x - mean[c]) * inv_std[c];
  }
}

}  // namespace

void column_moments(const float* table, std::int64_t rows, int cols, int ld, double* host_mean, double* host_std,
                    DeviceWorkspace& workspace, const DeviceLimits& limits, cudaStream_t stream) {
  FASTTAB_REQUIRE(rows >= 0 && cols >= 0, "column_moments: bad shape ", rows, " x ", cols);
  FASTTAB_REQUIRE(ld >= cols, "column_moments: leading dimension ", ld, " < columns ", cols);
  if (cols == 0) return;
  if (rows == 0) {  // as the CPU backend: zeros
    for (int c = 0; c < cols; ++c) host_mean[c] = host_std[c] = 0.0;
    return;
  }
  const std::size_t partial_count = column_sums_partials(rows, cols, limits);
  WorkspaceCarver measure(nullptr);
  measure.take<double>(partial_count);
  measure.take<double>(2 * static_cast<std::size_t>(cols));
  WorkspaceCarver carve(workspace.ensure(measure.bytes(), stream));
  double* partials = carve.take<double>(partial_count);
  double* moments = carve.take<double>(2 * static_cast<std::size_t>(cols));  // mean[cols], then std[cols]
  const double count = static_cast<double>(rows);
  column_sums(table, rows, cols, ld, nullptr, count, partials, moments, nullptr, limits, stream);
  column_sums(table, rows, cols, ld, moments, count, partials, moments + cols, nullptr, limits, stream);
  CUDA_CHECK(cudaMemcpyAsync(host_mean, moments, cols * sizeof(double), cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaMemcpyAsync(host_std, moments + cols, cols * sizeof(double), cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  for (int c = 0; c < cols; ++c) host_std[c] = std::sqrt(host_std[c]);
}

void standardize_columns(float* table, std::int64_t rows, int cols, int ld, const float* mean, const float* inv_std,
                         const DeviceLimits& limits, cudaStream_t stream) {
  FASTTAB_REQUIRE(rows >= 0 && cols >= 0, "standardize_columns: bad shape ", rows, " x ", cols);
  FASTTAB_REQUIRE(ld >= cols, "standardize_columns: leading dimension ", ld, " < columns ", cols);
  const std::uint64_t total = static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols);
  if (total == 0) return;
  const unsigned blocks = limits.grid_stride_blocks(static_cast<std::int64_t>(total), kThreads, kWaves);
  standardize_kernel<<<blocks, kThreads, 0, stream>>>(table, total, cols, ld, mean, inv_std);
  CUDA_CHECK_LAUNCH();
}

}  // namespace fasttab
