// --cuda-graphs on the CUDA backend: the optimiser update and the dropout masks read from the step counter equal
// those given by value, bit for bit; a run whose step is a replayed CUDA Graph gives the same losses and weights as
// the same run launched op by op, bit for bit (the same kernels in the same order on the same device).
#include <vector>

#include "fasttab/dataset.hpp"
#include "fasttab/optimizer.hpp"
#include "fasttab/synthetic.hpp"
#include "fasttab/trainer.hpp"
#include "gpu_test_support.hpp"
#include "test_support.hpp"

using namespace fasttab;

namespace {

std::vector<float> to_host(Backend& b, const BackendBuffer<float>& buffer) {
  std::vector<float> out(buffer.size());
  b.copy_to_host(out.data(), buffer.data(), buffer.bytes());
  return out;
}

BackendBuffer<float> uploaded(Backend& b, const std::vector<float>& values, const char* what) {
  BackendBuffer<float> buffer(b, values.size(), what);
  b.copy_to_backend(buffer.data(), values.data(), buffer.bytes());
  return buffer;
}

}  // namespace

TEST_CASE("cuda optimizer_update from the step counter and schedule window equals the update by value, bit for bit") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto gpu = gpu_test::make_gpu();
  const std::size_t n = 10'000;
  const std::vector<float> params = test::random_vector(n, 1), grads = test::random_vector(n, 2);
  const std::vector<float> m = test::random_vector(n, 3), v = test::random_vector(n, 4, 0.0f, 1.0f);
  for (OptimizerKind kind : {OptimizerKind::adam, OptimizerKind::adamw, OptimizerKind::sgd}) {
    CAPTURE(int(kind));
    OptimizerConfig config;
    config.kind = kind;
    config.weight_decay = 0.013f;
    config.momentum = kind == OptimizerKind::sgd ? 0.9f : 0.0f;
    ScheduleConfig schedule;
    schedule.kind = LrSchedule::cosine;
    schedule.warmup_steps = 3;
    Optimizer host_values(*gpu, config, schedule, n, 50);
    const std::int64_t window = 8, t = 13;  // t = 13 sits at position 4 of the window
    std::vector<float> values(window * 3);
    host_values.schedule_values(9, window, window, values.data());
    const BackendBuffer<float> schedule_window = uploaded(*gpu, values, "schedule");
    const std::uint32_t done = t - 1;
    BackendBuffer<std::uint32_t> counter(*gpu, 1, "counter");
    gpu->copy_to_backend(counter.data(), &done, sizeof done);

    OptimizerUpdate by_value = host_values.update_at(t);
    OptimizerUpdate from_memory = host_values.update_at(1);
    from_memory.step_counter = counter.data();
    from_memory.schedule = schedule_window.data();
    from_memory.schedule_steps = window;
    std::vector<std::vector<float>> results;
    for (const OptimizerUpdate& u : {by_value, from_memory}) {
      BackendBuffer<float> p = uploaded(*gpu, params, "p"), g = uploaded(*gpu, grads, "g"),
                           s1 = uploaded(*gpu, m, "m"), s2 = uploaded(*gpu, v, "v");
      gpu->optimizer_update(u, p.data(), g.data(), s1.data(), s2.data(), n);
      results.push_back(to_host(*gpu, p));
      results.push_back(to_host(*gpu, s1));
    }
    CHECK(results[0] == results[2]);
    CHECK(results[1] == results[3]);
    CHECK(results[0] != params);
  }
}

TEST_CASE("cuda: a run of replayed CUDA Graph steps equals the op-by-op run bit for bit") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  SyntheticSpec spec;
  spec.rows = 60'000;
  spec.seed = 8;
  const Dataset d = split_train_test(make_synthetic(spec).table, 10'000, "synthetic");
  for (int variant = 0; variant < 3; ++variant) {
    CAPTURE(variant);
    TrainConfig c;
    c.model.hidden = {128, 128, 128};
    c.model.dropout = 0.3f;
    c.batch_size = 4096;  // 50,000 training rows: a short last batch of 848
    c.epochs = 3;
    c.eval_every = 5;
    c.shuffle = variant != 1;  // unshuffled: each batch copied into the graph's own buffer
    c.schedule.kind = LrSchedule::cosine;
    if (variant == 2) c.precision = Precision::bf16;
    std::vector<TrainResult> results;
    for (bool graphs : {false, true}) {
      c.cuda_graphs = graphs;
      auto gpu = gpu_test::make_gpu();
      results.push_back(fasttab::train(*gpu, c, d));
    }
    const TrainResult &direct = results[0], &replayed = results[1];
    REQUIRE(direct.evals.size() == replayed.evals.size());
    for (std::size_t i = 0; i < direct.evals.size(); ++i) {
      CHECK(direct.evals[i].train_loss == replayed.evals[i].train_loss);
      CHECK(direct.evals[i].test.loss == replayed.evals[i].test.loss);
    }
    CHECK(direct.parameters == replayed.parameters);
    MESSAGE("s/epoch op by op " << direct.s_per_epoch << ", replayed " << replayed.s_per_epoch);
  }
}
