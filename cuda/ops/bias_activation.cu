// The MLP's element-wise ops on z[rows, cols] (row-major, leading dimension ld), in place:
//   forward:   a = act(z + bias[c]);  with p > 0: a = keep ? a * scale : 0,  scale = 1 / (1 - p)
//   backward:  grad = keep ? grad * scale * act'(a) : 0,  a = out * (1 - p) recovered from the stored output,
//              tanh' = 1 - a^2, relu' = [a > 0], identity' = 1  (p == 0: grad * act'(out), every element kept)
//   bias_gradient: bias_grad[c] = sum over r of grad[r, c]  (column_reduce.cu: deterministic, no atomics)
// The float operations are those of the CPU backend, in its order.
// keep = dropout_keep(seed, step, layer, r * cols + c, p) (philox.hpp). One thread takes four consecutive flat
// indices f = 4t .. 4t+3 of the rows x cols elements, the four that one Philox call decides, so each draw is made
// once; consecutive threads take consecutive elements of a row (coalesced). Rows of whole float4s take the
// vectorised kernels below instead (the hidden layers of the reference model: width 300).
#include "cuda/ops/bias_activation.cuh"

#include <cstdint>

#include "cuda/ops/column_reduce.cuh"
#include "cuda/cuda_check.cuh"
#include "fasttab/philox.hpp"

namespace fasttab {
namespace {

constexpr int kThreads = 256;
constexpr std::int64_t kMaxBlocks = 132 * 32;

template <Activation act>
__device__ __forceinline__ float activate(float x) {
  if constexpr (act == Activation::tanh) return tanhf(x);
  else if constexpr (act == Activation::relu) return x > 0.0f ? x : 0.0f;
  else return x;
}

template <Activation act>
__device__ __forceinline__ float derivative(float a) {
  if constexpr (act == Activation::tanh) return 1.0f - a * a;
  else if constexpr (act == Activation::relu) return a > 0.0f ? 1.0f : 0.0f;
  else return 1.0f;
}

// The four keep decisions of flat indices 4g .. 4g+3 (dropout_keep with index >> 2 == g).
__device__ __forceinline__ Philox4x32 dropout_draws(const DropoutKey& key, std::uint64_t group) {
  return philox4x32(key.seed, static_cast<std::uint32_t>(group), key.step,
                    static_cast<std::uint32_t>(RandomStream::dropout), key.layer);
}

template <Activation act, bool dropout>
__global__ void __launch_bounds__(kThreads) forward_kernel(float* __restrict__ z, int cols, int ld,
                                                           std::uint64_t total, const float* __restrict__ bias,
                                                           float p, DropoutKey key) {
  const std::uint64_t groups = (total + 3) / 4;
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  const float scale = 1.0f / (1.0f - p);
  for (std::uint64_t g = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += stride) {
    const std::uint64_t f0 = g * 4;
    std::uint64_t r = f0 / static_cast<std::uint64_t>(cols);
    int c = static_cast<int>(f0 - r * static_cast<std::uint64_t>(cols));
    Philox4x32 draws{};
    if constexpr (dropout) draws = dropout_draws(key, g);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      if (f0 + j < total) {
        float* element = z + r * static_cast<std::uint64_t>(ld) + c;
        float a = activate<act>(*element + bias[c]);
        if constexpr (dropout) a = uniform_from_bits(draws.v[j]) >= p ? a * scale : 0.0f;
        *element = a;
      }
      if (++c == cols) {
        c = 0;
        ++r;
      }
    }
  }
}

template <Activation act, bool dropout>
__global__ void __launch_bounds__(kThreads) backward_kernel(float* __restrict__ grad, const float* __restrict__ out,
                                                            int cols, int ld, std::uint64_t total, float p,
                                                            DropoutKey key) {
  const std::uint64_t groups = (total + 3) / 4;
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  const float keep = 1.0f - p;
  const float scale = 1.0f / (1.0f - p);
  for (std::uint64_t g = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += stride) {
    const std::uint64_t f0 = g * 4;
    std::uint64_t r = f0 / static_cast<std::uint64_t>(cols);
    int c = static_cast<int>(f0 - r * static_cast<std::uint64_t>(cols));
    Philox4x32 draws{};
    if constexpr (dropout) draws = dropout_draws(key, g);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      if (f0 + j < total) {
        const std::uint64_t offset = r * static_cast<std::uint64_t>(ld) + c;
        if constexpr (dropout) {
          if (uniform_from_bits(draws.v[j]) >= p) {
            grad[offset] = grad[offset] * scale * derivative<act>(out[offset] * keep);
          } else {
            grad[offset] = 0.0f;
          }
        } else {
          grad[offset] = grad[offset] * derivative<act>(out[offset]);
        }
      }
      if (++c == cols) {
        c = 0;
        ++r;
      }
    }
  }
}


// The vectorised path, for rows of whole float4s (cols % 4 == 0, ld % 4 == 0, 16-byte aligned pointers: every
// hidden layer of width 4k). Thread g takes group g = the float4 at row r = g / (cols/4), column 4 * (g % (cols/4)):
// one 16-byte load and store per operand, 32-bit index arithmetic, and the group's flat index 4g is the one the
// scalar path and the CPU use for its Philox draw.
template <Activation act, bool dropout>
__global__ void __launch_bounds__(kThreads) forward_vec4_kernel(float* __restrict__ z, int groups_per_row, int ld4,
                                                                unsigned groups, const float4* __restrict__ bias,
                                                                float p, DropoutKey key) {
  const float scale = 1.0f / (1.0f - p);
  for (unsigned g = blockIdx.x * blockDim.x + threadIdx.x; g < groups; g += gridDim.x * blockDim.x) {
    const unsigned r = g / groups_per_row, c4 = g - r * groups_per_row;
    float4* element = reinterpret_cast<float4*>(z) + static_cast<std::size_t>(r) * ld4 + c4;
    float4 v = *element;
    const float4 b = bias[c4];
    v.x = activate<act>(v.x + b.x);
    v.y = activate<act>(v.y + b.y);
    v.z = activate<act>(v.z + b.z);
    v.w = activate<act>(v.w + b.w);
    if constexpr (dropout) {
      const Philox4x32 d = dropout_draws(key, g);
      v.x = uniform_from_bits(d.v[0]) >= p ? v.x * scale : 0.0f;
      v.y = uniform_from_bits(d.v[1]) >= p ? v.y * scale : 0.0f;
      v.z = uniform_from_bits(d.v[2]) >= p ? v.z * scale : 0.0f;
      v.w = uniform_from_bits(d.v[3]) >= p ? v.w * scale : 0.0f;
    }
    *element = v;
  }
}

template <Activation act, bool dropout>
__device__ __forceinline__ float backward_one(float g, float o, std::uint32_t bits, float p, float keep, float scale) {
  if constexpr (dropout) return uniform_from_bits(bits) >= p ? g * scale * derivative<act>(o * keep) : 0.0f;
  else return g * derivative<act>(o);
}

template <Activation act, bool dropout>
__global__ void __launch_bounds__(kThreads) backward_vec4_kernel(float* __restrict__ grad, const float* __restrict__ out,
                                                                 int groups_per_row, int ld4, unsigned groups, float p,
                                                                 DropoutKey key) {
  const float keep = 1.0f - p;
  const float scale = 1.0f / (1.0f - p);
  for (unsigned g = blockIdx.x * blockDim.x + threadIdx.x; g < groups; g += gridDim.x * blockDim.x) {
    const unsigned r = g / groups_per_row, c4 = g - r * groups_per_row;
    const std::size_t at = static_cast<std::size_t>(r) * ld4 + c4;
    float4 v = reinterpret_cast<float4*>(grad)[at];
    const float4 o = reinterpret_cast<const float4*>(out)[at];
    Philox4x32 d{};
    if constexpr (dropout) d = dropout_draws(key, g);
    v.x = backward_one<act, dropout>(v.x, o.x, d.v[0], p, keep, scale);
    v.y = backward_one<act, dropout>(v.y, o.y, d.v[1], p, keep, scale);
    v.z = backward_one<act, dropout>(v.z, o.z, d.v[2], p, keep, scale);
    v.w = backward_one<act, dropout>(v.w, o.w, d.v[3], p, keep, scale);
    reinterpret_cast<float4*>(grad)[at] = v;
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0; }

// Whether the float4 path applies: whole float4 rows, aligned, and a group count that fits 32 bits.
bool vec4_applies(int cols, int ld, std::uint64_t total, const void* a, const void* b) {
  return cols % 4 == 0 && ld % 4 == 0 && aligned16(a) && (b == nullptr || aligned16(b)) && total / 4 < (1ull << 31);
}

unsigned grid_for(std::uint64_t total);

template <bool dropout>
void launch_forward_vec4(Activation act, float* z, int cols, int ld, std::uint64_t total, const float* bias, float p,
                         DropoutKey key, cudaStream_t stream) {
  const unsigned blocks = grid_for(total);
  const unsigned groups = static_cast<unsigned>(total / 4);
  const auto* b4 = reinterpret_cast<const float4*>(bias);
  switch (act) {
    case Activation::tanh:
      forward_vec4_kernel<Activation::tanh, dropout><<<blocks, kThreads, 0, stream>>>(z, cols / 4, ld / 4, groups, b4, p, key);
      break;
    case Activation::relu:
      forward_vec4_kernel<Activation::relu, dropout><<<blocks, kThreads, 0, stream>>>(z, cols / 4, ld / 4, groups, b4, p, key);
      break;
    case Activation::identity:
      forward_vec4_kernel<Activation::identity, dropout><<<blocks, kThreads, 0, stream>>>(z, cols / 4, ld / 4, groups, b4, p,
                                                                                          key);
      break;
  }
  CUDA_CHECK_LAUNCH();
}

template <bool dropout>
void launch_backward_vec4(Activation act, float* grad, const float* out, int cols, int ld, std::uint64_t total, float p,
                          DropoutKey key, cudaStream_t stream) {
  const unsigned blocks = grid_for(total);
  const unsigned groups = static_cast<unsigned>(total / 4);
  switch (act) {
    case Activation::tanh:
      backward_vec4_kernel<Activation::tanh, dropout><<<blocks, kThreads, 0, stream>>>(grad, out, cols / 4, ld / 4, groups, p, key);
      break;
    case Activation::relu:
      backward_vec4_kernel<Activation::relu, dropout><<<blocks, kThreads, 0, stream>>>(grad, out, cols / 4, ld / 4, groups, p, key);
      break;
    case Activation::identity:
      backward_vec4_kernel<Activation::identity, dropout><<<blocks, kThreads, 0, stream>>>(grad, out, cols / 4, ld / 4, groups,
                                                                                           p, key);
      break;
  }
  CUDA_CHECK_LAUNCH();
}


// The backward pass fused with the bias gradient of its result. A block owns a range of rows; within it,
// thread t takes float4 column group c4 = t % G (G = cols / 4 <= kThreads) of rows begin + t / G, + lanes, ...
// (lanes = kThreads / G rows at a time, consecutive threads on consecutive float4s of a row: coalesced). Each
// thread keeps float sums of its four columns; the block then adds its lanes' sums in lane order (in double)
// into partials[block, column], and column_sums_finish adds the blocks in block order. Fixed order throughout:
// the same bits every run.
template <Activation act, bool dropout>
__global__ void __launch_bounds__(kThreads) backward_bias_vec4_kernel(float* __restrict__ grad,
                                                                      const float* __restrict__ out,
                                                                      int groups_per_row, int ld4, int rows,
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
    const int end = min(rows, begin + rows_per_block);
    for (int r = begin + lane; r < end; r += lanes) {
      const std::size_t at = static_cast<std::size_t>(r) * ld4 + c4;
      float4 v = reinterpret_cast<float4*>(grad)[at];
      const float4 o = reinterpret_cast<const float4*>(out)[at];
      Philox4x32 d{};
      if constexpr (dropout) d = dropout_draws(key, static_cast<unsigned>(r) * groups_per_row + c4);
      v.x = backward_one<act, dropout>(v.x, o.x, d.v[0], p, keep, scale);
      v.y = backward_one<act, dropout>(v.y, o.y, d.v[1], p, keep, scale);
      v.z = backward_one<act, dropout>(v.z, o.z, d.v[2], p, keep, scale);
      v.w = backward_one<act, dropout>(v.w, o.w, d.v[3], p, keep, scale);
      reinterpret_cast<float4*>(grad)[at] = v;
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

// Blocks of the fused pass: about four per SM of an H100, each a whole number of lane rows.
struct FusedBackwardGrid {
  int blocks;
  int rows_per_block;
};
// Only for the shapes fused_applies() accepts (1 <= cols / 4 <= kThreads, so at least one lane).
FusedBackwardGrid fused_backward_grid(int rows, int cols) {
  const int lanes = kThreads / (cols / 4);
  const int target_blocks = 132 * 4;
  int rows_per_block = ceil_div(rows < 1 ? 1 : rows, target_blocks);
  rows_per_block = ceil_div(rows_per_block, lanes) * lanes;
  return FusedBackwardGrid{ceil_div(rows < 1 ? 1 : rows, rows_per_block), rows_per_block};
}

unsigned grid_for(std::uint64_t total) {
  const std::int64_t wanted = ceil_div<std::int64_t>(static_cast<std::int64_t>((total + 3) / 4), kThreads);
  return static_cast<unsigned>(wanted < 1 ? 1 : (wanted > kMaxBlocks ? kMaxBlocks : wanted));
}

template <bool dropout>
void launch_forward(Activation act, float* z, int cols, int ld, std::uint64_t total, const float* bias, float p,
                    DropoutKey key, cudaStream_t stream) {
  const unsigned blocks = grid_for(total);
  switch (act) {
    case Activation::tanh:
      forward_kernel<Activation::tanh, dropout><<<blocks, kThreads, 0, stream>>>(z, cols, ld, total, bias, p, key);
      break;
    case Activation::relu:
      forward_kernel<Activation::relu, dropout><<<blocks, kThreads, 0, stream>>>(z, cols, ld, total, bias, p, key);
      break;
    case Activation::identity:
      forward_kernel<Activation::identity, dropout><<<blocks, kThreads, 0, stream>>>(z, cols, ld, total, bias, p, key);
      break;
  }
  CUDA_CHECK_LAUNCH();
}

template <bool dropout>
void launch_backward(Activation act, float* grad, const float* out, int cols, int ld, std::uint64_t total, float p,
                     DropoutKey key, cudaStream_t stream) {
  const unsigned blocks = grid_for(total);
  switch (act) {
    case Activation::tanh:
      backward_kernel<Activation::tanh, dropout><<<blocks, kThreads, 0, stream>>>(grad, out, cols, ld, total, p, key);
      break;
    case Activation::relu:
      backward_kernel<Activation::relu, dropout><<<blocks, kThreads, 0, stream>>>(grad, out, cols, ld, total, p, key);
      break;
    case Activation::identity:
      backward_kernel<Activation::identity, dropout><<<blocks, kThreads, 0, stream>>>(grad, out, cols, ld, total, p,
                                                                                       key);
      break;
  }
  CUDA_CHECK_LAUNCH();
}

void check_shape(const char* op, int rows, int cols, int ld, float p) {
  FASTTAB_REQUIRE(rows >= 0 && cols >= 0, op, ": bad shape ", rows, " x ", cols);
  FASTTAB_REQUIRE(ld >= cols, op, ": leading dimension ", ld, " < columns ", cols);
  FASTTAB_REQUIRE(p >= 0.0f && p < 1.0f, op, ": dropout probability ", p, " is not in [0, 1)");
}

}  // namespace

void bias_activation_dropout_forward(float* z, int rows, int cols, int ld, const float* bias, Activation act,
                                     float dropout_p, DropoutKey key, cudaStream_t stream) {
  check_shape("bias_activation_dropout_forward", rows, cols, ld, dropout_p);
  const std::uint64_t total = static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols);
  if (total == 0) return;
  if (vec4_applies(cols, ld, total, z, bias)) {
    if (dropout_p > 0.0f) launch_forward_vec4<true>(act, z, cols, ld, total, bias, dropout_p, key, stream);
    else launch_forward_vec4<false>(act, z, cols, ld, total, bias, dropout_p, key, stream);
    return;
  }
  if (dropout_p > 0.0f)
    launch_forward<true>(act, z, cols, ld, total, bias, dropout_p, key, stream);
  else
    launch_forward<false>(act, z, cols, ld, total, bias, dropout_p, key, stream);
}

void activation_dropout_backward(float* grad, const float* out, int rows, int cols, int ld, Activation act,
                                 float dropout_p, DropoutKey key, cudaStream_t stream) {
  check_shape("activation_dropout_backward", rows, cols, ld, dropout_p);
  const std::uint64_t total = static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols);
  if (total == 0) return;
  if (vec4_applies(cols, ld, total, grad, out)) {
    if (dropout_p > 0.0f) launch_backward_vec4<true>(act, grad, out, cols, ld, total, dropout_p, key, stream);
    else launch_backward_vec4<false>(act, grad, out, cols, ld, total, dropout_p, key, stream);
    return;
  }
  if (dropout_p > 0.0f)
    launch_backward<true>(act, grad, out, cols, ld, total, dropout_p, key, stream);
  else
    launch_backward<false>(act, grad, out, cols, ld, total, dropout_p, key, stream);
}

void bias_gradient(const float* grad, int rows, int cols, int ld, float* bias_grad, double* partials,
                   cudaStream_t stream) {
  FASTTAB_REQUIRE(rows >= 0 && cols >= 0, "bias_gradient: bad shape ", rows, " x ", cols);
  FASTTAB_REQUIRE(ld >= cols, "bias_gradient: leading dimension ", ld, " < columns ", cols);
  column_sums(grad, rows, cols, ld, nullptr, 1.0, partials, nullptr, bias_grad, stream);
}

// Whether the fused pass takes this shape: rows of whole float4s, at most kThreads float4s wide, aligned.
bool fused_applies(int rows, int cols, int ld, const void* grad, const void* out) {
  const std::uint64_t total = static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols);
  return rows >= 1 && cols >= 4 && cols / 4 <= kThreads && vec4_applies(cols, ld, total, grad, out);
}

std::size_t fused_backward_partials(int rows, int cols) {
  if (rows < 1 || cols < 4 || cols % 4 != 0 || cols / 4 > kThreads) return 0;
  return static_cast<std::size_t>(fused_backward_grid(rows, cols).blocks) * static_cast<std::size_t>(cols);
}

bool activation_dropout_backward_bias_gradient(float* grad, const float* out, int rows, int cols, int ld,
                                               Activation act, float dropout_p, DropoutKey key, float* bias_grad,
                                               double* partials, cudaStream_t stream) {
  check_shape("activation_dropout_backward_bias_gradient", rows, cols, ld, dropout_p);
  const std::uint64_t total = static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols);
  if (total == 0 || partials == nullptr || !fused_applies(rows, cols, ld, grad, out)) return false;
  const FusedBackwardGrid grid = fused_backward_grid(rows, cols);
  const int g4 = cols / 4, ld4 = ld / 4;
#define FASTTAB_FUSED_LAUNCH(ACT, DROPOUT)                                                                   \
  backward_bias_vec4_kernel<ACT, DROPOUT><<<grid.blocks, kThreads, 0, stream>>>(grad, out, g4, ld4, rows,     \
                                                                               grid.rows_per_block, dropout_p, \
                                                                               key, partials)
  const bool dropout = dropout_p > 0.0f;
  switch (act) {
    case Activation::tanh:
      if (dropout) FASTTAB_FUSED_LAUNCH(Activation::tanh, true); else FASTTAB_FUSED_LAUNCH(Activation::tanh, false);
      break;
    case Activation::relu:
      if (dropout) FASTTAB_FUSED_LAUNCH(Activation::relu, true); else FASTTAB_FUSED_LAUNCH(Activation::relu, false);
      break;
    case Activation::identity:
      if (dropout) FASTTAB_FUSED_LAUNCH(Activation::identity, true);
      else FASTTAB_FUSED_LAUNCH(Activation::identity, false);
      break;
  }
#undef FASTTAB_FUSED_LAUNCH
  CUDA_CHECK_LAUNCH();
  column_sums_finish(partials, grid.blocks, cols, 1.0, nullptr, bias_grad, stream);
  return true;
}

}  // namespace fasttab
