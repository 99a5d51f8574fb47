// Learning-rate schedules: learning_rate_at against values worked out by hand, and the trainer's reported lr.
#include <doctest/doctest.h>

#include <cmath>

#include "fasttab/dataset.hpp"
#include "fasttab/optimizer.hpp"
#include "fasttab/synthetic.hpp"
#include "fasttab/trainer.hpp"

using namespace fasttab;

namespace {
double lr_at(LrSchedule kind, std::int64_t t, std::int64_t total, std::int64_t warmup = 0, std::int64_t step_size = 10,
             double gamma = 0.1, double min_lr = 0.0, float lr = 1.0f) {
  OptimizerConfig o;
  o.lr = lr;
  ScheduleConfig s;
  s.kind = kind;
  s.warmup_steps = warmup;
  s.step_size = step_size;
  s.gamma = gamma;
  s.min_lr = min_lr;
  return learning_rate_at(o, s, t, total);
}
}  // namespace

TEST_CASE("constant and warm-up schedules") {
  CHECK(lr_at(LrSchedule::constant, 1, 100, 0, 10, 0.1, 0.0, 0.25f) == 0.25);
  CHECK(lr_at(LrSchedule::constant, 100, 100, 0, 10, 0.1, 0.0, 0.25f) == 0.25);
  CHECK(lr_at(LrSchedule::warmup, 1, 100, 10) == doctest::Approx(0.1).epsilon(1e-12));
  CHECK(lr_at(LrSchedule::warmup, 5, 100, 10) == doctest::Approx(0.5).epsilon(1e-12));
  CHECK(lr_at(LrSchedule::warmup, 10, 100, 10) == 1.0);
  CHECK(lr_at(LrSchedule::warmup, 57, 100, 10) == 1.0);
  CHECK(lr_at(LrSchedule::warmup, 3, 100, 0) == 1.0);  // no warm-up steps: the full rate at once
}

TEST_CASE("cosine schedule: warm-up, then half a cosine from lr down to min_lr over the remaining steps") {
  // No warm-up, 100 steps: lr(t) = (1 + cos(pi t / 100)) / 2.
  CHECK(lr_at(LrSchedule::cosine, 25, 100) == doctest::Approx((1 + std::cos(M_PI / 4)) / 2).epsilon(1e-12));
  CHECK(lr_at(LrSchedule::cosine, 50, 100) == doctest::Approx(0.5).epsilon(1e-12));
  CHECK(lr_at(LrSchedule::cosine, 100, 100) == doctest::Approx(0.0).epsilon(1e-12));
  // 10 warm-up steps of 110: linear to 1 at t = 10, then the cosine over the other 100 steps.
  CHECK(lr_at(LrSchedule::cosine, 5, 110, 10) == doctest::Approx(0.5).epsilon(1e-12));
  CHECK(lr_at(LrSchedule::cosine, 10, 110, 10) == 1.0);
  CHECK(lr_at(LrSchedule::cosine, 60, 110, 10) == doctest::Approx(0.5).epsilon(1e-12));
  // min_lr 0.2: halfway is 0.2 + 0.8 / 2 = 0.6; the end is 0.2 and stays there past the total.
  CHECK(lr_at(LrSchedule::cosine, 50, 100, 0, 10, 0.1, 0.2) == doctest::Approx(0.6).epsilon(1e-12));
  CHECK(lr_at(LrSchedule::cosine, 100, 100, 0, 10, 0.1, 0.2) == doctest::Approx(0.2).epsilon(1e-12));
  CHECK(lr_at(LrSchedule::cosine, 150, 100, 0, 10, 0.1, 0.2) == doctest::Approx(0.2).epsilon(1e-12));
}

TEST_CASE("step and exponential schedules") {
  // step: lr * gamma^floor((t - 1) / step_size), step_size 10, gamma 0.1.
  CHECK(lr_at(LrSchedule::step, 1, 100) == 1.0);
  CHECK(lr_at(LrSchedule::step, 10, 100) == 1.0);
  CHECK(lr_at(LrSchedule::step, 11, 100) == doctest::Approx(0.1).epsilon(1e-12));
  CHECK(lr_at(LrSchedule::step, 20, 100) == doctest::Approx(0.1).epsilon(1e-12));
  CHECK(lr_at(LrSchedule::step, 21, 100) == doctest::Approx(0.01).epsilon(1e-12));
  // exponential: lr * gamma^(t - 1).
  CHECK(lr_at(LrSchedule::exponential, 1, 100, 0, 10, 0.5) == 1.0);
  CHECK(lr_at(LrSchedule::exponential, 3, 100, 0, 10, 0.5) == 0.25);
  CHECK(lr_at(LrSchedule::exponential, 11, 100, 0, 10, 0.5) == doctest::Approx(1.0 / 1024).epsilon(1e-12));
}

TEST_CASE("the trainer reports the schedule's rate at each epoch's last step") {
  SyntheticSpec spec;
  spec.rows = 3'000;
  Dataset d = split_train_test(std::move(make_synthetic(spec).table), 500, "synthetic");  // 2500 train rows
  TrainConfig c;
  c.model.hidden = {8};
  c.batch_size = 500;  // 5 steps per epoch
  c.epochs = 3;
  c.eval_every = 0;
  c.optimizer.lr = 0.01f;
  c.schedule.kind = LrSchedule::step;
  c.schedule.step_size = 4;
  c.schedule.gamma = 0.5;
  auto backend = make_cpu_backend();
  const TrainResult r = train(*backend, c, d);
  REQUIRE(r.epochs.size() == 3);
  // Steps 5, 10, 15: 0.01 * 0.5^floor(4/4), 0.5^floor(9/4), 0.5^floor(14/4).
  CHECK(r.epochs[0].lr == doctest::Approx(double(0.01f) * 0.5).epsilon(1e-12));
  CHECK(r.epochs[1].lr == doctest::Approx(double(0.01f) * 0.25).epsilon(1e-12));
  CHECK(r.epochs[2].lr == doctest::Approx(double(0.01f) * 0.125).epsilon(1e-12));
}
