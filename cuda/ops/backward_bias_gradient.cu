// activation_dropout_backward fused with the column sums of its result (the bias gradient of that layer), in one
// pass over grad (also with bfloat16 stored activations, writing bfloat16 dL/dz: Precision::bf16), for rows of whole float4s of at most kThreads float4s (the hidden layers); other shapes fall
// back to the two passes (CudaBackend: Backend's default, activation_dropout_backward then bias_gradient).
// The element math is backward_vec4_kernel's (activation.cuh: backward_one), in the same order.
#include "cuda/ops/bias_activation.cuh"

#include <cstdint>

#include "cuda/launch.cuh"
#include "cuda/ops/activation.cuh"
#include "cuda/ops/column_reduce.cuh"

namespace fasttab {
namespace {

using namespace elementwise;

// The backward pass fused with the bias gradient of its result. A block owns a range of rows; within it,
// thread t takes float4 column group c4 = t % G (G = cols / 4 <= kThreads) of rows begin + t / G, + lanes, ...
// (lanes = kThreads / G rows at a time, consecutive threads on consecutive float4s of a row: coalesced). Each
// thread keeps float sums of its four columns; the block then adds its lanes' sums in lane order (in double)
// into partials[block, column], and column_sums_finish adds the blocks in block order. Fixed order throughout:
// the same bits every run.
// Storage: grad is float32 dL/da (leading dim 4 * ld4_grad); out, the forward op's output, float32 or bfloat16; the
// result dL/dz goes to grad_out, float32 (grad itself: in place) or bfloat16 (another buffer), and the sums are of
// the float32 values before any rounding.
template <Activation act, bool dropout, typename Stored, typename GradOut>
__global__ void __launch_bounds__(kThreads) backward_bias_vec4_kernel(const float* grad, int ld4_grad,
                                                                      const Stored* __restrict__ out, int ld4_out,
                                                                      GradOut* grad_out, int ld4_grad_out,
                                                                      int groups_per_row, int rows,
                                                                      int rows_per_block, float p, DropoutKey key,
                                                                      double* __restrict__ partials) {
  __shared__ float4 lane_sums[kThreads];
  const float keep = 1.0f - p;
  const float scale = 1.0f / (1.0f - p);
  const int lanes = kThreads / groups_per_row;
  const int lane = threadIdx.x / groups_per_row;
  const int c4 = threadIdx.x - lane * groups_per_row;
  float4 sum = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  if (lane < lanes) {
    const int begin = blockIdx.x * rows_per_block;
    const int end = static_cast<int>(min(static_cast<long long>(rows), static_cast<long long>(begin) + rows_per_block));
    for (int r = begin + lane; r < end; r += lanes) {
      float4 v = load4(grad, static_cast<std::size_t>(r) * ld4_grad + c4);
      const float4 o = load4(out, static_cast<std::size_t>(r) * ld4_out + c4);
      Philox4x32 d{};
      if constexpr (dropout) d = dropout_draws(key, static_cast<unsigned>(r) * groups_per_row + c4, groups_per_row * 4);
      v.x = backward_one<act, dropout>(v.x, o.x, d.v[0], p, keep, scale);
      v.y = backward_one<act, dropout>(v.y, o.y, d.v[1], p, keep, scale);
      v.z = backward_one<act, dropout>(v.z, o.z, d.v[2], p, keep, scale);
      v.w = backward_one<act, dropout>(v.w, o.w, d.v[3], p, keep, scale);
      store4(grad_out, static_cast<std::size_t>(r) * ld4_grad_out + c4, v);
      sum.x += v.x;
      sum.y += v.y;
      sum.z += v.z;
      sum.w += v.w;
    }
  }
  lane_sums[threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.x < groups_per_row) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    for (int l = 0; l < lanes; ++l) {
      const float4 q = lane_sums[l * groups_per_row + threadIdx.x];
      s0 += q.x;
      s1 += q.y;
      s2 += q.z;
      s3 += q.w;
    }
    double* column = partials + static_cast<std::size_t>(blockIdx.x) * (4 * groups_per_row) + 4 * threadIdx.x;
    column[0] = s0;
    column[1] = s1;
    column[2] = s2;
    column[3] = s3;
  }
}

// Blocks of the fused pass: about four per SM (132 x 4 on an H100), each a whole number of lane rows. The bias
// gradient's order of additions follows the blocks, so it is the same bits on one device and may differ in the
// last bits between devices with different SM counts.
struct FusedBackwardGrid {
  int blocks;
  int rows_per_block;
};
// Only for the shapes fused_applies() accepts (1 <= cols / 4 <= kThreads, so at least one lane).
FusedBackwardGrid fused_backward_grid(int rows, int cols, const DeviceLimits& limits) {
  const int lanes = kThreads / (cols / 4);
  const int target_blocks = limits.reduction_blocks(4);
  int rows_per_block = ceil_div(rows < 1 ? 1 : rows, target_blocks);
  rows_per_block = ceil_div(rows_per_block, lanes) * lanes;
  return FusedBackwardGrid{ceil_div(rows < 1 ? 1 : rows, rows_per_block), rows_per_block};
}

// Whether the fused pass takes this shape: rows of whole float4s, at most kThreads float4s wide, aligned.
bool fused_applies(int rows, int cols, int ld, const void* grad, const void* out) {
  const std::uint64_t total = static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols);
  return rows >= 1 && cols >= 4 && cols / 4 <= kThreads && vec4_applies(cols, ld, total, grad, out);
}

}  // namespace

std::size_t fused_backward_partials(int rows, int cols, const DeviceLimits& limits) {
  if (rows < 1 || cols < 4 || cols % 4 != 0 || cols / 4 > kThreads) return 0;
  return static_cast<std::size_t>(fused_backward_grid(rows, cols, limits).blocks) * static_cast<std::size_t>(cols);
}

namespace {

// The fused pass for float32 or bfloat16 storage; false when the shape does not take it.
template <typename Stored, typename GradOut>
bool launch_fused_backward(const char* op, float* grad, int ld_grad, const Stored* out, int ld_out, GradOut* grad_out,
                           int ld_grad_out, int rows, int cols, Activation act, float dropout_p, DropoutKey key,
                           float* bias_grad, double* partials, const DeviceLimits& limits, cudaStream_t stream) {
  check_shape(op, rows, cols, ld_grad, dropout_p);
  FASTTAB_REQUIRE(ld_out >= cols && ld_grad_out >= cols, op, ": leading dimensions ", ld_out, " and ", ld_grad_out,
                  " must be >= columns ", cols);
  check_dropout_offset(op, key, cols, dropout_p);
  const std::uint64_t total = static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols);
  if (total == 0 || partials == nullptr || !fused_applies(rows, cols, ld_grad, grad, nullptr) || ld_out % 4 != 0 ||
      ld_grad_out % 4 != 0 || !aligned_groups(out) || !aligned_groups(grad_out))
    return false;
  const FusedBackwardGrid grid = fused_backward_grid(rows, cols, limits);
  dispatch_activation_dropout(act, dropout_p > 0.0f, [&](auto a, auto d) {
    backward_bias_vec4_kernel<decltype(a)::value, decltype(d)::value, Stored, GradOut>
        <<<grid.blocks, kThreads, 0, stream>>>(grad, ld_grad / 4, out, ld_out / 4, grad_out, ld_grad_out / 4, cols / 4,
                                               rows, grid.rows_per_block, dropout_p, key, partials);
  });
  CUDA_CHECK_LAUNCH();
  column_sums_finish(partials, grid.blocks, cols, 1.0, nullptr, bias_grad, stream);
  return true;
}

}  // namespace

bool activation_dropout_backward_bias_gradient(float* grad, const float* out, int rows, int cols, int ld,
                                               Activation act, float dropout_p, DropoutKey key, float* bias_grad,
                                               double* partials, const DeviceLimits& limits, cudaStream_t stream) {
  return launch_fused_backward("activation_dropout_backward_bias_gradient", grad, ld, out, ld, grad, ld, rows, cols,
                               act, dropout_p, key, bias_grad, partials, limits, stream);
}

bool activation_dropout_backward_bias_gradient_bf16(float* grad, int ld_grad, const __nv_bfloat16* out, int ld_out,
                                                    int rows, int cols, Activation act, float dropout_p,
                                                    DropoutKey key, float* bias_grad, __nv_bfloat16* grad_z,
                                                    int ld_grad_z, double* partials, const DeviceLimits& limits,
                                                    cudaStream_t stream) {
  return launch_fused_backward("activation_dropout_backward_bias_gradient_bf16", grad, ld_grad, out, ld_out, grad_z,
                               ld_grad_z, rows, cols, act, dropout_p, key, bias_grad, partials, limits, stream);
}

}  // namespace fasttab
