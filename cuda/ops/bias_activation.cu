// The MLP's element-wise ops on z[rows, cols] (row-major, leading dimension ld), in place (float32), or from float32
// z into bfloat16 activations and from bfloat16 activations into a bfloat16 gradient (Precision::bf16: computed in
// float32, rounded once when stored; activation.cuh's load/store):
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

// z: float32 pre-activations (leading dim ld_z); out: the activations, float32 or bfloat16 (leading dim ld_out).
// In place when out == z (float32): each element is read before it is written, by the same thread.
template <Activation act, bool dropout, typename Out>
__global__ void __launch_bounds__(kThreads) forward_kernel(const float* z, int ld_z, Out* out, int ld_out, int cols,
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
        float a = activate<act>(z[r * static_cast<std::uint64_t>(ld_z) + c] + bias[c]);
        if constexpr (dropout) a = uniform_from_bits(draws.v[j]) >= p ? a * scale : 0.0f;
        store1(out, r * static_cast<std::uint64_t>(ld_out) + c, a);
      }
      if (++c == cols) {
        c = 0;
        ++r;
      }
    }
  }
}

// grad: float32 dL/da on entry, dL/dz on exit (leading dim ld_grad); out: the forward op's output, float32 or
// bfloat16 (leading dim ld_out); rounded, when not null: also gets bf16(dL/dz) (leading dim ld_rounded).
template <Activation act, bool dropout, typename Stored>
__global__ void __launch_bounds__(kThreads) backward_kernel(float* __restrict__ grad, int ld_grad,
                                                            const Stored* __restrict__ out, int ld_out,
                                                            __nv_bfloat16* __restrict__ rounded, int ld_rounded,
                                                            int cols, std::uint64_t total, float p, DropoutKey key) {
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
        const std::uint64_t at = r * static_cast<std::uint64_t>(ld_grad) + c;
        const float v = backward_one<act, dropout>(grad[at], load1(out, r * static_cast<std::uint64_t>(ld_out) + c),
                                                   draws.v[j], p, keep, scale);
        grad[at] = v;
        if (rounded != nullptr) store1(rounded, r * static_cast<std::uint64_t>(ld_rounded) + c, v);
      }
      if (++c == cols) {
        c = 0;
        ++r;
      }
    }
  }
}


// The vectorised path, for rows of whole groups of four (cols % 4 == 0, leading dims % 4 == 0, aligned pointers:
// every hidden layer of width 4k). Thread g takes group g = the four elements at row r = g / (cols/4), column
// 4 * (g % (cols/4)): one float4 load of z, one store of four outputs (16 bytes of float32 or 8 of bfloat16), 32-bit
// index arithmetic, and the group's flat index 4g is the one the scalar path and the CPU use for its Philox draw.
template <Activation act, bool dropout, typename Out>
__global__ void __launch_bounds__(kThreads) forward_vec4_kernel(const float* z, int ld4_z, Out* out, int ld4_out,
                                                                int groups_per_row, unsigned groups,
                                                                const float4* __restrict__ bias, float p,
                                                                DropoutKey key) {
  const float scale = 1.0f / (1.0f - p);
  for (unsigned g = blockIdx.x * blockDim.x + threadIdx.x; g < groups; g += gridDim.x * blockDim.x) {
    const unsigned r = g / groups_per_row, c4 = g - r * groups_per_row;
    float4 v = load4(z, static_cast<std::size_t>(r) * ld4_z + c4);
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
    store4(out, static_cast<std::size_t>(r) * ld4_out + c4, v);
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

namespace {

// bias + activation + dropout from float32 z into out (float32, possibly z itself, or bfloat16).
template <typename Out>
void launch_forward(const char* op, const float* z, int ld_z, Out* out, int ld_out, int rows, int cols,
                    const float* bias, Activation act, float dropout_p, DropoutKey key, const DeviceLimits& limits,
                    cudaStream_t stream) {
  check_shape(op, rows, cols, ld_z, dropout_p);
  FASTTAB_REQUIRE(ld_out >= cols, op, ": output leading dimension ", ld_out, " < columns ", cols);
  check_dropout_offset(op, key, cols, dropout_p);
  const std::uint64_t total = static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols);
  if (total == 0) return;
  const unsigned blocks = grid_for(total, limits);
  if (vec4_applies(cols, ld_z, total, z, bias) && ld_out % 4 == 0 && aligned_groups(out)) {
    const unsigned groups = static_cast<unsigned>(total / 4);
    const auto* b4 = reinterpret_cast<const float4*>(bias);
    dispatch_activation_dropout(act, dropout_p > 0.0f, [&](auto a, auto d) {
      forward_vec4_kernel<decltype(a)::value, decltype(d)::value, Out>
          <<<blocks, kThreads, 0, stream>>>(z, ld_z / 4, out, ld_out / 4, cols / 4, groups, b4, dropout_p, key);
    });
  } else {
    dispatch_activation_dropout(act, dropout_p > 0.0f, [&](auto a, auto d) {
      forward_kernel<decltype(a)::value, decltype(d)::value, Out>
          <<<blocks, kThreads, 0, stream>>>(z, ld_z, out, ld_out, cols, total, bias, dropout_p, key);
    });
  }
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void bias_activation_dropout_forward(float* z, int rows, int cols, int ld, const float* bias, Activation act,
                                     float dropout_p, DropoutKey key, const DeviceLimits& limits, cudaStream_t stream) {
  launch_forward("bias_activation_dropout_forward", z, ld, z, ld, rows, cols, bias, act, dropout_p, key, limits,
                 stream);
}

void bias_activation_dropout_forward_bf16(const float* z, int rows, int cols, int ld_z, const float* bias,
                                          Activation act, float dropout_p, DropoutKey key, __nv_bfloat16* out,
                                          int ld_out, const DeviceLimits& limits, cudaStream_t stream) {
  launch_forward("bias_activation_dropout_forward_bf16", z, ld_z, out, ld_out, rows, cols, bias, act, dropout_p, key,
                 limits, stream);
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
      backward_kernel<decltype(a)::value, decltype(d)::value, float><<<blocks, kThreads, 0, stream>>>(
          grad, ld, out, ld, nullptr, 0, cols, total, dropout_p, key);
    });
  }
  CUDA_CHECK_LAUNCH();
}

void activation_dropout_backward_to_bf16(float* grad, int ld_grad, const __nv_bfloat16* out, int ld_out, int rows,
                                         int cols, Activation act, float dropout_p, DropoutKey key,
                                         __nv_bfloat16* grad_z, int ld_grad_z, const DeviceLimits& limits,
                                         cudaStream_t stream) {
  check_shape("activation_dropout_backward_to_bf16", rows, cols, ld_grad, dropout_p);
  FASTTAB_REQUIRE(ld_out >= cols && ld_grad_z >= cols, "activation_dropout_backward_to_bf16: leading dimensions ",
                  ld_out, " and ", ld_grad_z, " must be >= columns ", cols);
  check_dropout_offset("activation_dropout_backward_to_bf16", key, cols, dropout_p);
  const std::uint64_t total = static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols);
  if (total == 0) return;
  dispatch_activation_dropout(act, dropout_p > 0.0f, [&](auto a, auto d) {
    backward_kernel<decltype(a)::value, decltype(d)::value, __nv_bfloat16><<<grid_for(total, limits), kThreads, 0,
                                                                             stream>>>(
        grad, ld_grad, out, ld_out, grad_z, ld_grad_z, cols, total, dropout_p, key);
  });
  CUDA_CHECK_LAUNCH();
}

void bias_gradient(const float* grad, int rows, int cols, int ld, float* bias_grad, double* partials,
                   const DeviceLimits& limits, cudaStream_t stream) {
  FASTTAB_REQUIRE(rows >= 0 && cols >= 0, "bias_gradient: bad shape ", rows, " x ", cols);
  FASTTAB_REQUIRE(ld >= cols, "bias_gradient: leading dimension ", ld, " < columns ", cols);
  column_sums(grad, rows, cols, ld, nullptr, 1.0, partials, nullptr, bias_grad, limits, stream);
}

}  // namespace fasttab
