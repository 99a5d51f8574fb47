// Categorical embeddings (backend.hpp, InputColumn; the CPU reference in host/backend/cpu_backend.cpp).
//
// embed_inputs: e [rows, layout.width] (leading dim ld_e) from x [rows, layout.columns] (leading dim ld_x), both
// row-major. One thread per (row r, input column j), threads laid over the flat (r, j) index so that neighbours
// write neighbouring pieces of e's row: a numeric column (dim 0) copies x[r, j] to e[r, out_offset]; a categorical
// one copies its table row tables[table_offset + embedding_row(x[r, j]) * dim + k], k < dim, to
// e[r, out_offset + k]. Plain loads and stores of the raw words: bit-exact, NaN payloads included.
//
// embedding_gradient, for each categorical column c (dim > 0), on the stream, in column order:
//   1. table_grads[table_offset, + cardinality * dim) = 0                       (cudaMemsetAsync)
//   2. keys[r] = embedding_row(x[r, j], cardinality) (uint32), values[r] = r    (row_keys_kernel)
//   3. cub::DeviceRadixSort::SortPairs over the key bits that can be set (ceil(log2(cardinality)) of them): an LSD
//      radix sort is stable, so rows with equal codes stay in increasing row order.
//   4. one thread per (sorted position i that starts a run of equal keys v, k < dim):
//        s = 0.0f;  for the run's rows r in sorted (= increasing) order: s += grad_e[r, out_offset + k];
//        table_grads[table_offset + v * dim + k] = s                           (run_sums_kernel)
//      Codes absent from the batch keep the zeros of step 1.
// The CPU backend adds the rows into the table in increasing r from 0.0f, so each code's sum is the same sequence
// of float additions (no products, hence no FMA contraction to differ): the result is equal bit for bit, and
// deterministic run to run (no atomics). Only a NaN in grad_e may come out with another payload.
//
// A run is summed by one thread, so a code present in every row of a large batch costs `rows` dependent adds in
// one thread. A segmented reduction (split runs, sum the pieces in order) would be faster for huge batches with
// few categories; at today's batch sizes the sort dominates and it is not needed.
//
// Scratch (keys and values in and out, CUB's temporary storage) comes from an EmbeddingWorkspace carved once per
// call for the largest column; it grows only, so a step of an already-seen size allocates nothing and nothing
// here synchronises except that growth.
#include "cuda/ops/embedding.cuh"

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include <cub/device/device_radix_sort.cuh>

#include "cuda/launch.cuh"
#include "host/backend/embedding_row.hpp"

namespace fasttab {
namespace {

constexpr int kThreads = 256;
constexpr int kWaves = 4;  // full-occupancy waves of the device at most (grid-stride beyond)

__global__ void __launch_bounds__(kThreads) embed_inputs_kernel(const float* __restrict__ x, int ld_x, int rows,
                                                                const InputColumn* __restrict__ columns,
                                                                int column_count, const float* __restrict__ tables,
                                                                float* __restrict__ e, int ld_e) {
  const std::int64_t total = static_cast<std::int64_t>(rows) * column_count;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t t = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    const std::int64_t r = t / column_count;
    const int j = static_cast<int>(t - r * column_count);
    const InputColumn c = columns[j];
    const float value = x[r * ld_x + j];
    float* out = e + r * ld_e + c.out_offset;
    if (c.dim == 0) {
      *out = value;
      continue;
    }
    const float* row = tables + c.table_offset + static_cast<std::int64_t>(embedding_row(value, c.cardinality)) * c.dim;
    for (int k = 0; k < c.dim; ++k) out[k] = __ldg(row + k);
  }
}

// keys[r] = the table row that x[r, column] reads, values[r] = r.
__global__ void __launch_bounds__(kThreads) row_keys_kernel(const float* __restrict__ x, int ld_x, int rows,
                                                            int column, int cardinality,
                                                            std::uint32_t* __restrict__ keys,
                                                            std::uint32_t* __restrict__ values) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  keys[r] = static_cast<std::uint32_t>(embedding_row(x[static_cast<std::int64_t>(r) * ld_x + column], cardinality));
  values[r] = static_cast<std::uint32_t>(r);
}

// Threads over (i, k), i < rows sorted positions, k < dim (k fastest: a run's first rows are read coalesced).
// The thread at the start of a run of equal keys sums its column k over the run in sorted order, from 0.0f.
__global__ void __launch_bounds__(kThreads) run_sums_kernel(const std::uint32_t* __restrict__ sorted_keys,
                                                            const std::uint32_t* __restrict__ sorted_rows, int rows,
                                                            const float* __restrict__ grad_e, int ld_g,
                                                            int out_offset, int dim, float* __restrict__ table) {
  const std::int64_t total = static_cast<std::int64_t>(rows) * dim;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t t = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    const int i = static_cast<int>(t / dim);
    const int k = static_cast<int>(t - static_cast<std::int64_t>(i) * dim);
    const std::uint32_t key = sorted_keys[i];
    if (i > 0 && sorted_keys[i - 1] == key) continue;  // not the start of a run
    float sum = 0.0f;
    for (int p = i; p < rows && sorted_keys[p] == key; ++p)
      sum += grad_e[static_cast<std::int64_t>(sorted_rows[p]) * ld_g + out_offset + k];
    table[static_cast<std::int64_t>(key) * dim + k] = sum;
  }
}

// The key bits a table row of a `cardinality`-row table can set (rows 0..cardinality-1), at least 1.
int key_bits(int cardinality) {
  int bits = 1;
  while (bits < 32 && (std::uint64_t{1} << bits) < static_cast<std::uint64_t>(cardinality)) ++bits;
  return bits;
}

// The checks both ops share: sizes, and every column inside e's width with a table of at least the two fixed rows
// (embedding_row reads row 1 for a malformed code).
void check_layout(const char* op, int ld_x, int rows, const InputLayout& layout, int ld_out) {
  FASTTAB_REQUIRE(rows >= 0, op, ": negative row count ", rows);
  FASTTAB_REQUIRE(layout.columns >= 0 && layout.width >= 0, op, ": negative layout size (", layout.columns,
                  " columns, width ", layout.width, ")");
  FASTTAB_REQUIRE(ld_x >= layout.columns, op, ": x's leading dimension ", ld_x, " is below its ", layout.columns,
                  " columns");
  FASTTAB_REQUIRE(ld_out >= layout.width, op, ": e's leading dimension ", ld_out, " is below its width ",
                  layout.width);
  FASTTAB_REQUIRE(layout.columns == 0 || (layout.host != nullptr && layout.device != nullptr), op,
                  ": the layout's host or device column array is missing");
  for (int j = 0; j < layout.columns; ++j) {
    const InputColumn& c = layout.host[j];
    FASTTAB_REQUIRE(c.dim >= 0 && c.out_offset >= 0 && c.out_offset + std::max(c.dim, 1) <= layout.width, op,
                    ": input column ", j, " (out_offset ", c.out_offset, ", dim ", c.dim,
                    ") does not fit in e's width ", layout.width);
    FASTTAB_REQUIRE(c.dim == 0 || (c.cardinality >= 2 && c.table_offset >= 0), op, ": input column ", j,
                    " has an embedding table of ", c.cardinality, " rows at offset ", c.table_offset,
                    " (at least 2 rows: missing and unseen)");
  }
}

}  // namespace

void embed_inputs(const float* x, int ld_x, int rows, const InputLayout& layout, const float* tables, float* e,
                  int ld_e, const DeviceLimits& limits, cudaStream_t stream) {
  check_layout("embed_inputs", ld_x, rows, layout, ld_e);
  if (rows == 0 || layout.columns == 0) return;
  const std::int64_t items = static_cast<std::int64_t>(rows) * layout.columns;
  const unsigned blocks = limits.grid_stride_blocks(items, kThreads, kWaves);
  embed_inputs_kernel<<<blocks, kThreads, 0, stream>>>(x, ld_x, rows, layout.device, layout.columns, tables, e, ld_e);
  CUDA_CHECK_LAUNCH();
}

void embedding_gradient(const float* x, int ld_x, int rows, const InputLayout& layout, const float* grad_e, int ld_g,
                        float* table_grads, EmbeddingWorkspace& workspace, const DeviceLimits& limits,
                        cudaStream_t stream) {
  check_layout("embedding_gradient", ld_x, rows, layout, ld_g);

  // CUB's temporary storage for the widest key of any column (queried on the host: nothing is launched).
  std::size_t temp_bytes = 0;
  bool categorical = false;
  for (int j = 0; j < layout.columns; ++j) {
    const InputColumn& c = layout.host[j];
    if (c.dim == 0) continue;
    categorical = true;
    if (rows == 0) continue;
    std::size_t bytes = 0;
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const std::uint32_t*>(nullptr),
                                               static_cast<std::uint32_t*>(nullptr),
                                               static_cast<const std::uint32_t*>(nullptr),
                                               static_cast<std::uint32_t*>(nullptr), rows, 0, key_bits(c.cardinality),
                                               stream));
    temp_bytes = std::max(temp_bytes, bytes);
  }
  if (!categorical) return;

  std::uint32_t *keys = nullptr, *sorted_keys = nullptr, *values = nullptr, *sorted_values = nullptr;
  void* temp = nullptr;
  if (rows > 0) {
    const std::size_t n = static_cast<std::size_t>(rows);
    WorkspaceCarver measure(nullptr);
    for (int piece = 0; piece < 4; ++piece) measure.take<std::uint32_t>(n);
    measure.take<char>(temp_bytes);
    WorkspaceCarver carve(workspace.block.ensure(measure.bytes(), stream));
    keys = carve.take<std::uint32_t>(n);
    sorted_keys = carve.take<std::uint32_t>(n);
    values = carve.take<std::uint32_t>(n);
    sorted_values = carve.take<std::uint32_t>(n);
    temp = carve.take<char>(temp_bytes);
  }

  for (int j = 0; j < layout.columns; ++j) {
    const InputColumn& c = layout.host[j];
    if (c.dim == 0) continue;
    float* table = table_grads + c.table_offset;
    CUDA_CHECK(cudaMemsetAsync(table, 0, static_cast<std::size_t>(c.cardinality) * c.dim * sizeof(float), stream));
    if (rows == 0) continue;

    row_keys_kernel<<<static_cast<unsigned>(ceil_div<std::int64_t>(rows, kThreads)), kThreads, 0, stream>>>(
        x, ld_x, rows, j, c.cardinality, keys, values);
    CUDA_CHECK_LAUNCH();
    std::size_t bytes = temp_bytes;
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, bytes, keys, sorted_keys, values, sorted_values, rows, 0,
                                               key_bits(c.cardinality), stream));
    const std::int64_t items = static_cast<std::int64_t>(rows) * c.dim;
    const unsigned blocks = limits.grid_stride_blocks(items, kThreads, kWaves);
    run_sums_kernel<<<blocks, kThreads, 0, stream>>>(sorted_keys, sorted_values, rows, grad_e, ld_g, c.out_offset,
                                                     c.dim, table);
    CUDA_CHECK_LAUNCH();
  }
}

}  // namespace fasttab
