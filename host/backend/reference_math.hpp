// The math of each Backend op for one element or one host array, shared by the CPU backend and by code that
// needs the same numbers on the host (the predictor, the host-side loaders). Plain, obviously-correct loops.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "fasttab/backend.hpp"

namespace fasttab::reference {

// x rounded to bfloat16: round-to-nearest-even on the bit pattern, as CUDA's host __float2bfloat16_rn (and the
// device's cvt.rn.bf16.f32): subnormals are rounded like any value (not flushed), values beyond the largest
// bfloat16 go to +-Inf, and every NaN becomes the canonical bfloat16 NaN 0x7FFF.
inline bfloat16 bf16_bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bfloat16{0x7fffu};
  const std::uint32_t upper = u >> 16, remainder = u << 16;
  const std::uint32_t rounded = upper + ((remainder > 0x80000000u || (remainder == 0x80000000u && (upper & 1u))) ? 1u : 0u);
  return bfloat16{static_cast<std::uint16_t>(rounded)};
}

// The float32 value of a bfloat16 (exact).
inline float bf16_value(bfloat16 b) {
  const std::uint32_t u = std::uint32_t(b.bits) << 16;
  float r;
  std::memcpy(&r, &u, sizeof r);
  return r;
}

// x rounded to bfloat16 and back to float32.
inline float round_to_bf16(float x) { return bf16_value(bf16_bits(x)); }

inline float activate(Activation act, float x) {
  switch (act) {
    case Activation::tanh: return std::tanh(x);
    case Activation::relu: return x > 0.0f ? x : 0.0f;
    case Activation::identity: return x;
  }
  return x;
}

// The derivative expressed through the activation's output a = act(z).
inline float activation_derivative(Activation act, float a) {
  switch (act) {
    case Activation::tanh: return 1.0f - a * a;
    case Activation::relu: return a > 0.0f ? 1.0f : 0.0f;
    case Activation::identity: return 1.0f;
  }
  return 1.0f;
}

// softplus(x) - y*x, stable for large |x|: the binary cross-entropy of sigmoid(x) against y.
inline double bce_with_logit(double x, double y) { return std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::fabs(x))); }

// A captured step's per-step values read from memory the host can read (the CPU backend's): the dropout step from
// DropoutKey::step_counter, and t, lr and the bias corrections from OptimizerUpdate::step_counter and schedule.
inline DropoutKey resolve_step(DropoutKey key) {
  if (key.step_counter != nullptr) key.step = *key.step_counter;
  return key;
}
inline OptimizerUpdate resolve_step(OptimizerUpdate u) {
  if (u.step_counter == nullptr) return u;
  u.step = std::int64_t(*u.step_counter) + 1;
  const float* values = u.schedule + 3 * ((u.step - 1) % u.schedule_steps);
  u.lr = values[0];
  u.bias_correction1 = values[1];
  u.bias_correction2 = values[2];
  return u;
}

// One optimiser step on one parameter (see OptimizerUpdate in backend.hpp).
inline void optimizer_step(const OptimizerUpdate& u, float& p, float g, float& s1, float& s2) {
  switch (u.kind) {
    case OptimizerKind::adam:
    case OptimizerKind::adamw: {
      if (u.kind == OptimizerKind::adamw) p *= 1.0f - u.lr * u.weight_decay;
      else g += u.weight_decay * p;
      s1 = u.beta1 * s1 + (1.0f - u.beta1) * g;
      s2 = u.beta2 * s2 + (1.0f - u.beta2) * g * g;
      const float denom = std::sqrt(s2) / std::sqrt(u.bias_correction2) + u.eps;
      p -= (u.lr / u.bias_correction1) * s1 / denom;
      break;
    }
    case OptimizerKind::sgd: {
      g += u.weight_decay * p;
      if (u.momentum != 0.0f) {
        s1 = u.step == 1 ? g : u.momentum * s1 + g;
        g = s1;
      }
      p -= u.lr * g;
      break;
    }
  }
}

// Mean loss over rows and its gradient dL/d(outputs) (see Backend::loss_forward_backward); sums in double.
double loss_and_gradient(Task task, const float* outputs, int rows, int width, int ld, const float* labels,
                         float* grad);

// The permutation of 0..n-1 for (seed, epoch): indices stably sorted by permutation_key.
void random_permutation(std::uint64_t seed, std::uint32_t epoch, std::uint32_t n, std::uint32_t* out);

// Metrics of host outputs against host labels (see Backend::evaluate).
Metrics evaluate(Task task, const float* outputs, std::int64_t rows, int width, int ld, const float* labels);

// Exact ROC AUC of scores against 0/1 labels, ties counted one half (NaN without both classes).
double roc_auc(const float* scores, const float* labels, std::int64_t rows, int stride = 1);

void column_moments(const float* table, std::int64_t rows, int cols, int ld, double* mean, double* stddev);

}  // namespace fasttab::reference
