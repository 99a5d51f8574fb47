// The MLP's element-wise ops on z[rows, cols] (row-major, leading dimension ld), in place:
//   forward:   a = act(z + bias[c]);  with p > 0: a = keep ? a * scale : 0,  scale = 1 / (1 - p)
//   backward:  grad = keep ? grad * scale * act'(a) : 0,  a = out * (1 - p) recovered from the stored output,
//              tanh' = 1 - a^2, relu' = [a > 0], identity' = 1  (p == 0: grad * act'(out), every element kept)
//   bias_gradient: bias_grad[c] = sum over r of grad[r, c]  (column_reduce.cu: deterministic, no atomics)
// The float operations are those of the CPU backend, in its order.
// keep = dropout_keep(seed, step, layer, r * cols + c, p) (philox.hpp). One thread takes four consecutive flat
// indices f = 4t .. 4t+3 of the rows x cols elements, the four that one Philox call decides, so each draw is made
// once; consecutive threads take consecutive elements of a row (coalesced).
#include "cuda/bias_activation.cuh"

#include <cstdint>

#include "cuda/column_reduce.cuh"
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

}  // namespace fasttab
