// Optimisers and learning-rate schedules. The update itself is one fused backend op over the flat parameter
// vector (Backend::optimizer_update); this module owns the state vectors and resolves the per-step scalars
// (learning rate, bias corrections) on the host, so the device never waits for the host.
#pragma once

#include <cstdint>
#include <string>

#include "fasttab/backend.hpp"

namespace fasttab {

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::adam;
  float lr = 1e-3f;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weight_decay = 0.0f;  // L2 for adam and sgd, decoupled for adamw
  float momentum = 0.0f;      // sgd only
};

enum class LrSchedule { constant, warmup, cosine, step, exponential };

// lr(t) for step t = 1, 2, ... of total_steps:
//   constant:    lr
//   warmup:      lr * min(1, t / warmup_steps)
//   cosine:      warm-up as above, then min_lr + (lr - min_lr) * (1 + cos(pi * progress)) / 2 over the rest
//   step:        lr * gamma^floor((t - 1) / step_size)
//   exponential: lr * gamma^(t - 1)       (per-step decay, e.g. the Baldi et al. HIGGS recipe's 1.0000002^-1)
struct ScheduleConfig {
  LrSchedule kind = LrSchedule::constant;
  std::int64_t warmup_steps = 0;
  std::int64_t step_size = 1000;
  double gamma = 0.1;
  double min_lr = 0.0;
};

double learning_rate_at(const OptimizerConfig& opt, const ScheduleConfig& schedule, std::int64_t step,
                        std::int64_t total_steps);


class Optimizer {
 public:
  Optimizer(Backend& backend, const OptimizerConfig& config, const ScheduleConfig& schedule, std::size_t parameters,
            std::int64_t total_steps);
  // One update of params with grads; advances the step counter. Enqueued only: no wait.
  void step(float* params, const float* grads);
  // The update of step t (from 1): the hyper-parameters, lr and bias corrections that step() uses for it.
  OptimizerUpdate update_at(std::int64_t t) const;
  // A captured step's update (OptimizerUpdate::step_counter): of step *counter + 1, its lr and bias corrections read
  // from `schedule` (schedule_values) when it runs. Enqueued only; count_step() keeps the host's count.
  void step_from_counter(float* params, const float* grads, const std::uint32_t* counter, const float* schedule,
                         std::int64_t schedule_steps);
  void count_step();  // steps_done + 1 and its learning rate, without an update (a captured step's)
  // lr, bias_correction1, bias_correction2 of steps [first, first + count), 3 floats each at out[3 * ((t - 1) %
  // window)]: the schedule window a captured step reads. count <= window.
  void schedule_values(std::int64_t first, std::int64_t count, std::int64_t window, float* out) const;
  std::int64_t steps_done() const { return steps_done_; }
  double current_lr() const { return last_lr_; }
  // State for checkpoints: both state vectors and the step counter.
  BackendBuffer<float>& state1() { return state1_; }
  BackendBuffer<float>& state2() { return state2_; }
  void set_steps_done(std::int64_t steps) { steps_done_ = steps; }

 private:
  Backend& backend_;
  OptimizerConfig config_;
  ScheduleConfig schedule_;
  std::int64_t total_steps_;
  std::int64_t steps_done_ = 0;
  double last_lr_ = 0;
  BackendBuffer<float> state1_, state2_;
};

}  // namespace fasttab
