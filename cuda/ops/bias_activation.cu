// The MLP's element-wise ops on z[rows, cols] (row-major, leading dimension ld), in place:
//   forward:   a = act(z + bias[c]);  with p > 0: a = keep ? a * scale : 0,  scale = 1 / (1 - p)
//   backward:  grad = keep ? grad * scale * act'(a) : 0,  a = out * (1 - p) recovered from the stored output,
//              tanh' = 1 - a^2, relu' = [a > 0], identity' = 1  (p == 0: grad * act'(out), every element kept)
//   bias_gradient: bias_grad[c] = sum over r of grad[r, c]  (column_reduce.cu: deterministic, no atomics)
// The float operations are those of the CPU backend, in its order. The fused backward with the bias gradient is in
// backward_bias_gradient.cu; the device pieces (activations, draws, dispatch) in activation.cuh.
// keep = dropout_keep(seed, step, layer, r * cols + c, p) (philox.hpp). One thread takes four consecutive flat
// indices f = 4t .. 4t+3 of the rows x cols elements, the four that one Philox call decides, so each draw is made
// once; consecutive threads take consecutive elements of a row (coalesced). Rows of whole float4s take the
// vectorised kernels below instead (the hidden layers of the reference model: width 300).
#include "cuda/ops/bias_activation.cuh"

#include <cstdint>

#include "cuda/launch.cuh"
#include "cuda/ops/activation.cuh"
#include "cuda/ops/column_reduce.cuh"

namespace fasttab {
namespace {

using namespace elementwise;

constexpr int kWaves = 4;  // full-occupancy waves of the device at most (grid-stride beyond)

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
    if constexpr (dropout) draws = dropout_draws(key, g, cols);
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
    if constexpr (dropout) draws = dropout_draws(key, g, cols);
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
      const Philox4x32 d = dropout_draws(key, g, groups_per_row * 4);
      v.x = uniform_from_bits(d.v[0]) >= p ? v.x * scale : 0.0f;
      v.y = uniform_from_bits(d.v[1]) >= p ? v.y * scale : 0.0f;
      v.z = uniform_from_bits(d.v[2]) >= p ? v.z * scale : 0.0f;
      v.w = uniform_from_bits(d.v[3]) >= p ? v.w * scale : 0.0f;
    }
    *element = v;
  }
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
    if constexpr (dropout) d = dropout_draws(key, g, groups_per_row * 4);
    v.x = backward_one<act, dropout>(v.x, o.x, d.v[0], p, keep, scale);
    v.y = backward_one<act, dropout>(v.y, o.y, d.v[1], p, keep, scale);
    v.z = backward_one<act, dropout>(v.z, o.z, d.v[2], p, keep, scale);
    v.w = backward_one<act, dropout>(v.w, o.w, d.v[3], p, keep, scale);
    reinterpret_cast<float4*>(grad)[at] = v;
  }
}

// Blocks for the groups of four elements of `total` elements (grid-stride beyond the device's kWaves waves).
unsigned grid_for(std::uint64_t total, const DeviceLimits& limits) {
  return limits.grid_stride_blocks(static_cast<std::int64_t>((total + 3) / 4), kThreads, kWaves);
}

}  // namespace

void bias_activation_dropout_forward(float* z, int rows, int cols, int ld, const float* bias, Activation act,
                                     float dropout_p, DropoutKey key, const DeviceLimits& limits, cudaStream_t stream) {
  check_shape("bias_activation_dropout_forward", rows, cols, ld, dropout_p);
  check_dropout_offset("bias_activation_dropout_forward", key, cols, dropout_p);
  const std::uint64_t total = static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols);
  if (total == 0) return;
  const unsigned blocks = grid_for(total, limits);
  if (vec4_applies(cols, ld, total, z, bias)) {
    const unsigned groups = static_cast<unsigned>(total / 4);
    const auto* b4 = reinterpret_cast<const float4*>(bias);
    dispatch_activation_dropout(act, dropout_p > 0.0f, [&](auto a, auto d) {
      forward_vec4_kernel<decltype(a)::value, decltype(d)::value>
          <<<blocks, kThreads, 0, stream>>>(z, cols / 4, ld / 4, groups, b4, dropout_p, key);
    });
  } else {
    dispatch_activation_dropout(act, dropout_p > 0.0f, [&](auto a, auto d) {
      forward_kernel<decltype(a)::value, decltype(d)::value>
          <<<blocks, kThreads, 0, stream>>>(z, cols, ld, total, bias, dropout_p, key);
    });
  }
  CUDA_CHECK_LAUNCH();
}

void activation_dropout_backward(float* grad, const float* out, int rows, int cols, int ld, Activation act,
                                 float dropout_p, DropoutKey key, const DeviceLimits& limits, cudaStream_t stream) {
  check_shape("activation_dropout_backward", rows, cols, ld, dropout_p);
  check_dropout_offset("activation_dropout_backward", key, cols, dropout_p);
  const std::uint64_t total = static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols);
  if (total == 0) return;
  const unsigned blocks = grid_for(total, limits);
  if (vec4_applies(cols, ld, total, grad, out)) {
    const unsigned groups = static_cast<unsigned>(total / 4);
    dispatch_activation_dropout(act, dropout_p > 0.0f, [&](auto a, auto d) {
      backward_vec4_kernel<decltype(a)::value, decltype(d)::value>
          <<<blocks, kThreads, 0, stream>>>(grad, out, cols / 4, ld / 4, groups, dropout_p, key);
    });
  } else {
    dispatch_activation_dropout(act, dropout_p > 0.0f, [&](auto a, auto d) {
      backward_kernel<decltype(a)::value, decltype(d)::value>
          <<<blocks, kThreads, 0, stream>>>(grad, out, cols, ld, total, dropout_p, key);
    });
  }
  CUDA_CHECK_LAUNCH();
}

void bias_gradient(const float* grad, int rows, int cols, int ld, float* bias_grad, double* partials,
                   const DeviceLimits& limits, cudaStream_t stream) {
  FASTTAB_REQUIRE(rows >= 0 && cols >= 0, "bias_gradient: bad shape ", rows, " x ", cols);
  FASTTAB_REQUIRE(ld >= cols, "bias_gradient: leading dimension ", ld, " < columns ", cols);
  column_sums(grad, rows, cols, ld, nullptr, 1.0, partials, nullptr, bias_grad, limits, stream);
}

}  // namespace fasttab
