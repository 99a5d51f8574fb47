#include "fasttab/optimizer.hpp"

#include <algorithm>
#include <cmath>

#include "fasttab/error.hpp"

namespace fasttab {

double learning_rate_at(const OptimizerConfig& opt, const ScheduleConfig& s, std::int64_t t, std::int64_t total) {
  const double lr = opt.lr;
  const double warm = s.warmup_steps > 0 ? std::min(1.0, double(t) / double(s.warmup_steps)) : 1.0;
  switch (s.kind) {
    case LrSchedule::constant: return lr;
    case LrSchedule::warmup: return lr * warm;
    case LrSchedule::cosine: {
      if (t <= s.warmup_steps) return lr * warm;
      const double span = std::max<std::int64_t>(1, total - s.warmup_steps);
      const double progress = std::min(1.0, double(t - s.warmup_steps) / span);
      return s.min_lr + (lr - s.min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
    }
    case LrSchedule::step: return lr * std::pow(s.gamma, double((t - 1) / std::max<std::int64_t>(1, s.step_size)));
    case LrSchedule::exponential: return lr * std::pow(s.gamma, double(t - 1));
  }
  return lr;
}

Optimizer::Optimizer(Backend& backend, const OptimizerConfig& config, const ScheduleConfig& schedule,
                     std::size_t parameters, std::int64_t total_steps)
    : backend_(backend), config_(config), schedule_(schedule), total_steps_(total_steps),
      state1_(backend, parameters, "optimizer state"), state2_(backend, parameters, "optimizer state") {
  FASTTAB_REQUIRE(config.lr > 0 && std::isfinite(config.lr), "--lr ", config.lr, " must be a positive number");
  FASTTAB_REQUIRE(config.weight_decay >= 0, "--weight-decay ", config.weight_decay, " must be >= 0");
  FASTTAB_REQUIRE(config.momentum >= 0 && config.momentum < 1, "--momentum ", config.momentum, " is not in [0, 1)");
  backend.fill(state1_.data(), 0.0f, state1_.size());
  backend.fill(state2_.data(), 0.0f, state2_.size());
}

OptimizerUpdate Optimizer::update_at(std::int64_t t) const {
  OptimizerUpdate u;
  u.kind = config_.kind;
  u.lr = static_cast<float>(learning_rate_at(config_, schedule_, t, total_steps_));
  u.beta1 = config_.beta1;
  u.beta2 = config_.beta2;
  u.eps = config_.eps;
  u.weight_decay = config_.weight_decay;
  u.momentum = config_.momentum;
  u.step = t;
  u.bias_correction1 = static_cast<float>(1.0 - std::pow(double(config_.beta1), double(t)));
  u.bias_correction2 = static_cast<float>(1.0 - std::pow(double(config_.beta2), double(t)));
  return u;
}

void Optimizer::step(float* params, const float* grads) {
  count_step();
  backend_.optimizer_update(update_at(steps_done_), params, grads, state1_.data(), state2_.data(), state1_.size());
}

void Optimizer::step_from_counter(float* params, const float* grads, const std::uint32_t* counter,
                                  const float* schedule, std::int64_t schedule_steps) {
  OptimizerUpdate u = update_at(1);  // the hyper-parameters that do not change; t and its values come from memory
  u.step_counter = counter;
  u.schedule = schedule;
  u.schedule_steps = schedule_steps;
  backend_.optimizer_update(u, params, grads, state1_.data(), state2_.data(), state1_.size());
}

void Optimizer::count_step() {
  ++steps_done_;
  last_lr_ = learning_rate_at(config_, schedule_, steps_done_, total_steps_);
}

void Optimizer::schedule_values(std::int64_t first, std::int64_t count, std::int64_t window, float* out) const {
  FASTTAB_REQUIRE(first >= 1 && count <= window, "schedule_values: steps ", first, "+", count, " in a window of ",
                  window);
  for (std::int64_t t = first; t < first + count; ++t) {
    const OptimizerUpdate u = update_at(t);
    float* values = out + 3 * ((t - 1) % window);
    values[0] = u.lr;
    values[1] = u.bias_correction1;
    values[2] = u.bias_correction2;
  }
}

}  // namespace fasttab
