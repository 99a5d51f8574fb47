// gather_rows: the mini-batch gather. out_features[i, :] = features[indices[i], :] and out_labels[i] =
// labels[indices[i]], for i in [0, count); rows are ld floats (the padding is copied too), all row-major.
//
// The copy is bit-exact (loads and stores of the raw words, no arithmetic). Threads are laid over the flat
// output, one vector (float4 when ld % 4 == 0 and every pointer is 16-byte aligned, else one float) each, so
// that consecutive threads touch consecutive words of a row and then of the next output row: loads of one
// source row and all stores are coalesced, and a block covers many rows. Labels are copied by the thread that
// holds word 0 of a row.
#include "cuda/ops/gather_rows.cuh"

#include <cstdint>

#include "cuda/launch.cuh"

namespace fasttab {
namespace {

constexpr int kThreads = 256;
constexpr int kWaves = 4;  // full-occupancy waves of the device at most (grid-stride beyond)

template <typename Word, typename Index>
__global__ void __launch_bounds__(kThreads) gather_rows_kernel(const Word* __restrict__ features, int words_per_row,
                                                               const float* __restrict__ labels,
                                                               const std::uint32_t* __restrict__ indices,
                                                               std::int64_t count, Word* __restrict__ out_features,
                                                               float* __restrict__ out_labels) {
  // Index: 32-bit when the flat output fits (cheaper division), else 64-bit.
  const Index total = static_cast<Index>(count) * static_cast<Index>(words_per_row);
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index t = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    const Index i = t / static_cast<Index>(words_per_row);
    const int w = static_cast<int>(t - i * static_cast<Index>(words_per_row));
    const std::uint32_t source = __ldg(indices + i);
    out_features[t] = features[static_cast<std::int64_t>(source) * words_per_row + w];
    if (w == 0 && out_labels != nullptr) out_labels[i] = labels[source];
  }
}

template <typename Word>
void launch(const float* features, int words_per_row, const float* labels, const std::uint32_t* indices,
            std::int64_t count, float* out_features, float* out_labels, const DeviceLimits& limits,
            cudaStream_t stream) {
  const std::int64_t total = count * words_per_row;
  const unsigned blocks = limits.grid_stride_blocks(total, kThreads, kWaves);
  // The grid-stride loop's last step must not overflow the index type either: total + stride < 2^32.
  if (total + static_cast<std::int64_t>(blocks) * kThreads < (std::int64_t{1} << 32))
    gather_rows_kernel<Word, std::uint32_t><<<blocks, kThreads, 0, stream>>>(
        reinterpret_cast<const Word*>(features), words_per_row, labels, indices, count,
        reinterpret_cast<Word*>(out_features), out_labels);
  else
    gather_rows_kernel<Word, std::int64_t><<<blocks, kThreads, 0, stream>>>(
        reinterpret_cast<const Word*>(features), words_per_row, labels, indices, count,
        reinterpret_cast<Word*>(out_features), out_labels);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void gather_rows(const float* features, int ld, const float* labels, const std::uint32_t* indices, std::int64_t count,
                 float* out_features, float* out_labels, const DeviceLimits& limits, cudaStream_t stream) {
  FASTTAB_REQUIRE(ld >= 0, "gather_rows: negative leading dimension ", ld);
  FASTTAB_REQUIRE(count >= 0, "gather_rows: negative row count ", count);
  FASTTAB_REQUIRE(labels == nullptr || out_labels != nullptr, "gather_rows: labels given without out_labels");
  if (count == 0) return;
  if (ld == 0) {
    if (labels == nullptr) return;
    // No features: the label copy alone, one float per row.
    launch<float>(labels, 1, labels, indices, count, out_labels, nullptr, limits, stream);
    return;
  }
  if (ld % 4 == 0 && aligned16(features) && aligned16(out_features))
    launch<float4>(features, ld / 4, labels, indices, count, out_features, labels ? out_labels : nullptr, limits,
                   stream);
  else
    launch<float>(features, ld, labels, indices, count, out_features, labels ? out_labels : nullptr, limits, stream);
}

}  // namespace fasttab
