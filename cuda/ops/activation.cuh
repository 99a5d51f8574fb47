// Device pieces shared by the element-wise kernels (bias_activation.cu, backward_bias_gradient.cu): the
// activations and their derivatives, the Philox dropout draws, and the one dispatch from the runtime
// (Activation, dropout on/off) pair to a compile-time kernel instantiation.
#pragma once

#include <cstdint>
#include <type_traits>

#include <cuda_bf16.h>

#include "cuda/launch.cuh"
#include "fasttab/backend.hpp"
#include "host/backend/philox.hpp"

namespace fasttab::elementwise {

constexpr int kThreads = 256;

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

// The four keep decisions of flat indices 4g .. 4g+3 of the op's rows x cols elements, which are flat indices
// first_row * cols + 4g .. of the global batch (dropout_keep with index >> 2 == that / 4; first_row * cols is a
// multiple of 4: check_dropout_offset).
// The step: key.step, or for a captured step the counter's value when the kernel runs (DropoutKey::step_counter).
__device__ __forceinline__ Philox4x32 dropout_draws(const DropoutKey& key, std::uint64_t group, int cols) {
  const std::uint64_t global_group = group + key.first_row * static_cast<std::uint64_t>(cols) / 4;
  const std::uint32_t step = key.step_counter != nullptr ? __ldg(key.step_counter) : key.step;
  return philox4x32(key.seed, static_cast<std::uint32_t>(global_group), step,
                    static_cast<std::uint32_t>(RandomStream::dropout), key.layer);
}

// One element of the backward pass: grad * act'(out), and with dropout keep ? grad * scale * act'(out * keep) : 0.
template <Activation act, bool dropout>
__device__ __forceinline__ float backward_one(float g, float o, std::uint32_t bits, float p, float keep, float scale) {
  if constexpr (dropout) return uniform_from_bits(bits) >= p ? g * scale * derivative<act>(o * keep) : 0.0f;
  else return g * derivative<act>(o);
}

// Loads and stores of the element-wise kernels for float32 or bfloat16 storage, computing in float32: one element,
// or the group of four consecutive elements that starts at element 4 * group (one 16-byte float4 or one 8-byte
// pair of bfloat162). A bfloat16 store rounds to nearest even (cvt.rn.bf16.f32, as __float2bfloat16_rn).
__device__ __forceinline__ float load1(const float* p, std::size_t i) { return p[i]; }
__device__ __forceinline__ float load1(const __nv_bfloat16* p, std::size_t i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ void store1(float* p, std::size_t i, float v) { p[i] = v; }
__device__ __forceinline__ void store1(__nv_bfloat16* p, std::size_t i, float v) { p[i] = __float2bfloat16_rn(v); }

__device__ __forceinline__ float4 load4(const float* p, std::size_t group) {
  return reinterpret_cast<const float4*>(p)[group];
}
__device__ __forceinline__ float4 load4(const __nv_bfloat16* p, std::size_t group) {
  const uint2 bits = reinterpret_cast<const uint2*>(p)[group];
  __nv_bfloat162 lo, hi;  // elements 0, 1 (the lower address) and 2, 3
  memcpy(&lo, &bits.x, sizeof lo);
  memcpy(&hi, &bits.y, sizeof hi);
  const float2 a = __bfloat1622float2(lo), b = __bfloat1622float2(hi);
  return make_float4(a.x, a.y, b.x, b.y);
}
__device__ __forceinline__ void store4(float* p, std::size_t group, float4 v) {
  reinterpret_cast<float4*>(p)[group] = v;
}
__device__ __forceinline__ void store4(__nv_bfloat16* p, std::size_t group, float4 v) {
  const __nv_bfloat162 lo = __floats2bfloat162_rn(v.x, v.y), hi = __floats2bfloat162_rn(v.z, v.w);
  uint2 bits;
  memcpy(&bits.x, &lo, sizeof lo);
  memcpy(&bits.y, &hi, sizeof hi);
  reinterpret_cast<uint2*>(p)[group] = bits;
}

// Whether a pointer holds whole groups of four elements at its alignment (float4: 16 bytes, 4 bfloat16s: 8 bytes).
template <typename T>
inline bool aligned_groups(const T* p) {
  return (reinterpret_cast<std::uintptr_t>(p) % (4 * sizeof(T))) == 0;
}

template <Activation act>
using ActivationConstant = std::integral_constant<Activation, act>;

// Calls launch(ActivationConstant<act>{}, std::bool_constant<dropout>{}) for the runtime pair (act, dropout):
// a launcher writes `kernel<decltype(a)::value, decltype(d)::value><<<...>>>` once instead of six times.
template <typename Launch>
void dispatch_activation_dropout(Activation act, bool dropout, Launch&& launch) {
  switch (act) {
    case Activation::tanh:
      if (dropout) launch(ActivationConstant<Activation::tanh>{}, std::true_type{});
      else launch(ActivationConstant<Activation::tanh>{}, std::false_type{});
      return;
    case Activation::relu:
      if (dropout) launch(ActivationConstant<Activation::relu>{}, std::true_type{});
      else launch(ActivationConstant<Activation::relu>{}, std::false_type{});
      return;
    case Activation::identity:
      if (dropout) launch(ActivationConstant<Activation::identity>{}, std::true_type{});
      else launch(ActivationConstant<Activation::identity>{}, std::false_type{});
      return;
  }
}

// Whether the float4 paths apply: whole float4 rows, aligned, and a group count that fits 32 bits.
inline bool vec4_applies(int cols, int ld, std::uint64_t total, const void* a, const void* b) {
  return cols % 4 == 0 && ld % 4 == 0 && aligned16(a) && (b == nullptr || aligned16(b)) && total / 4 < (1ull << 31);
}

// One thread draws for four consecutive flat indices, so a rank's slice must start on a group of four.
inline void check_dropout_offset(const char* op, const DropoutKey& key, int cols, float p) {
  FASTTAB_REQUIRE(p == 0.0f || (key.first_row * static_cast<std::uint64_t>(cols)) % 4 == 0, op, ": the slice of the ",
                  "batch starts at row ", key.first_row, " of a layer ", cols, " wide; dropout on the GPU needs "
                  "first_row * width to be a multiple of 4 (choose --batch-size / ranks a multiple of 4)");
}

inline void check_shape(const char* op, int rows, int cols, int ld, float p) {
  FASTTAB_REQUIRE(rows >= 0 && cols >= 0, op, ": bad shape ", rows, " x ", cols);
  FASTTAB_REQUIRE(ld >= cols, op, ": leading dimension ", ld, " < columns ", cols);
  FASTTAB_REQUIRE(p >= 0.0f && p < 1.0f, op, ": dropout probability ", p, " is not in [0, 1)");
}

}  // namespace fasttab::elementwise
