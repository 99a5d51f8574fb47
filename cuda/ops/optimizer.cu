// optimizer_update: one fused step per element i of the flat vectors p (params), g (grads), m (state1), v (state2):
//   adam  (PyTorch Adam):  g += wd*p;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
//                          p -= (lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps)
//   adamw (PyTorch AdamW): p *= 1 - lr*wd; then Adam without the g += wd*p term
//   sgd   (PyTorch SGD, no dampening or Nesterov): g += wd*p;  m = g at t == 1, else m = momentum*m + g;
//                          p -= lr*m  (with momentum 0: p -= lr*g, m untouched and may be null)
// lr/bc1 and sqrt(bc2) are computed once on the host; the float operations are the CPU backend's
// (host/reference_math.hpp) in its order, up to the FMA contractions nvcc makes. Grid-stride over the elements.
// A captured step's update (OptimizerUpdate::step_counter) reads t, lr and the bias corrections from device memory
// when it runs, and every thread forms the same scalars with round-to-nearest intrinsics (no contraction), so
// that they are the host's floats bit for bit.
#include "cuda/ops/optimizer.cuh"

#include <cmath>
#include <cstdint>

#include "cuda/launch.cuh"

namespace fasttab {
namespace {

constexpr int kThreads = 256;
constexpr int kWaves = 2;  // full-occupancy waves of the device at most (grid-stride beyond)

// The per-step scalars of the kernels: from the host, or for a captured step (counter set) read from the
// schedule window in device memory by each thread.
struct StepScalars {
  float lr = 0, step_size = 0, bc2_sqrt = 1, decay_factor = 1;
  bool first_step = false;
  const std::uint32_t* counter = nullptr;
  const float* schedule = nullptr;
  long long schedule_steps = 0;
};

__device__ __forceinline__ StepScalars resolved(StepScalars s, float weight_decay) {
  if (s.counter == nullptr) return s;
  const long long t = static_cast<long long>(__ldg(s.counter)) + 1;
  const float* values = s.schedule + 3 * ((t - 1) % s.schedule_steps);
  s.lr = values[0];
  s.step_size = __fdiv_rn(s.lr, values[1]);
  s.bc2_sqrt = __fsqrt_rn(values[2]);
  s.decay_factor = __fsub_rn(1.0f, __fmul_rn(s.lr, weight_decay));
  s.first_step = t == 1;
  return s;
}

template <bool decoupled>
__global__ void __launch_bounds__(kThreads) adam_kernel(float* __restrict__ p, const float* __restrict__ grads,
                                                        float* __restrict__ m, float* __restrict__ v,
                                                        std::size_t count, float beta1, float beta2, float eps,
                                                        float weight_decay, StepScalars step) {
  const StepScalars s = resolved(step, weight_decay);
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    float param = p[i];
    float g = grads[i];
    if constexpr (decoupled) {
      param *= s.decay_factor;
    } else {
      g += weight_decay * param;
    }
    const float mi = beta1 * m[i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const float denom = sqrtf(vi) / s.bc2_sqrt + eps;
    p[i] = param - s.step_size * mi / denom;
  }
}

template <bool with_momentum>
__global__ void __launch_bounds__(kThreads) sgd_kernel(float* __restrict__ p, const float* __restrict__ grads,
                                                       float* __restrict__ m, std::size_t count, float weight_decay,
                                                       float momentum, StepScalars step) {
  const StepScalars s = resolved(step, weight_decay);
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const float param = p[i];
    float g = grads[i] + weight_decay * param;
    if constexpr (with_momentum) {
      g = s.first_step ? g : momentum * m[i] + g;
      m[i] = g;
    }
    p[i] = param - s.lr * g;
  }
}

// The scalars of `u` as the host forms them, or the pointers a captured step reads them from.
StepScalars step_scalars(const OptimizerUpdate& u) {
  StepScalars s;
  if (u.step_counter != nullptr) {
    FASTTAB_REQUIRE(u.schedule != nullptr && u.schedule_steps >= 1, "optimizer_update: a step counter without its "
                    "schedule window");
    s.counter = u.step_counter;
    s.schedule = u.schedule;
    s.schedule_steps = u.schedule_steps;
    return s;
  }
  FASTTAB_REQUIRE(u.step >= 1, "optimizer_update: step ", u.step, " is not >= 1");
  s.lr = u.lr;
  s.step_size = u.lr / u.bias_correction1;
  s.bc2_sqrt = std::sqrt(u.bias_correction2);
  s.decay_factor = 1.0f - u.lr * u.weight_decay;
  s.first_step = u.step == 1;
  return s;
}

}  // namespace

void optimizer_update(const OptimizerUpdate& u, float* params, const float* grads, float* state1, float* state2,
                      std::size_t count, const DeviceLimits& limits, cudaStream_t stream) {
  if (count == 0) return;
  FASTTAB_REQUIRE(params != nullptr && grads != nullptr, "optimizer_update: null params or grads");
  const StepScalars step = step_scalars(u);
  const unsigned blocks = limits.grid_stride_blocks(static_cast<std::int64_t>(count), kThreads, kWaves);
  switch (u.kind) {
    case OptimizerKind::adam:
    case OptimizerKind::adamw:
      FASTTAB_REQUIRE(state1 != nullptr && state2 != nullptr, "optimizer_update: Adam needs both state vectors");
      if (u.kind == OptimizerKind::adamw)
        adam_kernel<true><<<blocks, kThreads, 0, stream>>>(params, grads, state1, state2, count, u.beta1, u.beta2,
                                                           u.eps, u.weight_decay, step);
      else
        adam_kernel<false><<<blocks, kThreads, 0, stream>>>(params, grads, state1, state2, count, u.beta1, u.beta2,
                                                            u.eps, u.weight_decay, step);
      CUDA_CHECK_LAUNCH();
      break;
    case OptimizerKind::sgd:
      if (u.momentum != 0.0f) {
        FASTTAB_REQUIRE(state1 != nullptr, "optimizer_update: SGD with momentum needs its state vector");
        sgd_kernel<true><<<blocks, kThreads, 0, stream>>>(params, grads, state1, count, u.weight_decay, u.momentum,
                                                          step);
      } else {
        sgd_kernel<false><<<blocks, kThreads, 0, stream>>>(params, grads, nullptr, count, u.weight_decay, 0.0f, step);
      }
      CUDA_CHECK_LAUNCH();
      break;
  }
}

}  // namespace fasttab
