// --cuda-graphs on the CPU backend: the captured step reads its dropout step and its update's t, lr and bias
// corrections from memory (the step counter and the schedule window) and is called again at each run, so these tests
// check that this path gives the bits of the step that takes them by value, for every optimiser, schedule, loader
// and task, across epochs, the short last batch and a resume. (tests/gpu/test_captured_step.cpp checks the CUDA Graph
// replay the same way.)
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "fasttab/dataset.hpp"
#include "fasttab/error.hpp"
#include "fasttab/synthetic.hpp"
#include "fasttab/trainer.hpp"

using namespace fasttab;

namespace {

Dataset synthetic(Task task) {
  SyntheticSpec spec;
  spec.rows = 5'000;  // 4,000 training rows: batches of 384 leave a short last batch of 160
  spec.seed = 6;
  Dataset d = split_train_test(make_synthetic(spec).table, 1'000, "synthetic");
  if (task != Task::binary)
    for (Table* t : {&d.train, &d.test})
      for (std::int64_t r = 0; r < t->rows; ++r) {
        const float* x = t->features.data() + r * t->cols;
        t->labels[std::size_t(r)] = task == Task::multiclass ? float((x[0] > 0) + (x[1] > 0.5f)) : x[0] - 2 * x[2];
      }
  return d;
}

TrainConfig base_config() {
  TrainConfig c;
  c.model.hidden = {32, 16};
  c.model.dropout = 0.3f;
  c.batch_size = 384;
  c.epochs = 3;
  c.eval_every = 4;
  c.shuffle = true;
  c.seed = 11;
  return c;
}

void require_same_run(const TrainResult& a, const TrainResult& b) {
  REQUIRE(a.epochs.size() == b.epochs.size());
  for (std::size_t e = 0; e < a.epochs.size(); ++e) {
    CHECK(a.epochs[e].train_loss == b.epochs[e].train_loss);
    CHECK(a.epochs[e].test.loss == b.epochs[e].test.loss);
    CHECK(a.epochs[e].lr == b.epochs[e].lr);
  }
  REQUIRE(a.evals.size() == b.evals.size());
  for (std::size_t i = 0; i < a.evals.size(); ++i) CHECK(a.evals[i].train_loss == b.evals[i].train_loss);
  CHECK(a.steps == b.steps);
  CHECK(a.parameters == b.parameters);
}

TrainResult run(const TrainConfig& c, const Dataset& d, bool captured) {
  TrainConfig config = c;
  config.cuda_graphs = captured;
  auto backend = make_cpu_backend();
  return train(*backend, config, d);
}

}  // namespace

TEST_CASE("the captured step gives the bits of the direct step: optimisers, schedules, loaders, tasks, precisions") {
  struct Case {
    const char* name;
    void (*adjust)(TrainConfig&);
    Task task = Task::binary;
  };
  const Case cases[] = {
      {"adam, cosine with warm-up, shuffled", [](TrainConfig& c) {
         c.schedule.kind = LrSchedule::cosine;
         c.schedule.warmup_steps = 5;
       }},
      {"adamw with weight decay, step schedule, unshuffled (batches copied)", [](TrainConfig& c) {
         c.optimizer.kind = OptimizerKind::adamw;
         c.optimizer.weight_decay = 0.01f;
         c.schedule.kind = LrSchedule::step;
         c.schedule.step_size = 7;
         c.schedule.gamma = 0.5;
         c.shuffle = false;
       }},
      {"sgd with momentum, exponential schedule", [](TrainConfig& c) {
         c.optimizer.kind = OptimizerKind::sgd;
         c.optimizer.lr = 0.05f;
         c.optimizer.momentum = 0.9f;
         c.schedule.kind = LrSchedule::exponential;
         c.schedule.gamma = 0.99;
       }},
      {"the slice loader (host table)", [](TrainConfig& c) { c.loader = "slice"; }},
      {"bf16", [](TrainConfig& c) { c.precision = Precision::bf16; }},
      {"multiclass", [](TrainConfig&) {}, Task::multiclass},
      {"regression, standardised", [](TrainConfig& c) { c.standardize = true; }, Task::regression},
  };
  for (const Case& k : cases) {
    CAPTURE(k.name);
    TrainConfig c = base_config();
    c.task = k.task;
    k.adjust(c);
    const Dataset d = synthetic(k.task);
    require_same_run(run(c, d, true), run(c, d, false));
  }
}

TEST_CASE("a captured run interrupted after epoch 2 of 4 resumes bit for bit") {
  const Dataset d = synthetic(Task::binary);
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("fasttab-captured-" + std::to_string(::getpid()) + ".ckpt")).string();
  TrainConfig c = base_config();
  c.schedule.kind = LrSchedule::cosine;  // its length is the whole run: the interrupted run has --epochs 4 too
  c.epochs = 4;
  const TrainResult uninterrupted = run(c, d, false);
  struct Interrupt final : TrainObserver {
    void on_epoch(const EpochRecord& e) override {
      if (e.epoch == 2) throw Error("interrupted");  // after the trainer wrote the epoch's checkpoint
    }
  } stop;
  TrainConfig first = c;
  first.save_path = path;
  first.cuda_graphs = true;
  auto backend = make_cpu_backend();
  CHECK_THROWS_WITH(train(*backend, first, d, &stop), "interrupted");
  TrainConfig second = c;
  second.resume_path = path;
  const TrainResult resumed = run(second, d, true);
  std::filesystem::remove(path);
  require_same_run(resumed, uninterrupted);
}
