// Resume on the GPU (issue 9's correctness list: "resume stays bit-exact on the GPU"): a run saved after 2 epochs
// and resumed to 4 equals the uninterrupted 4-epoch run bit for bit on the same device, in every precision, with the
// training step launched op by op and as a replayed CUDA Graph. The same code runs on the same shapes in both runs
// (cuBLAS, the reductions and the permutation are deterministic on one device), so the bound is 0.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "fasttab/dataset.hpp"
#include "fasttab/synthetic.hpp"
#include "fasttab/trainer.hpp"
#include "gpu_test_support.hpp"

using namespace fasttab;

namespace {

std::string temp_path(const std::string& name) {
  static const std::filesystem::path dir = [] {
    const auto d = std::filesystem::temp_directory_path() / ("fasttab_gpu_resume_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return (dir / name).string();
}

// Shuffling, dropout, evaluations inside epochs and a per-step schedule: all that a resume must restore.
TrainConfig resume_config(Precision precision, bool graphs) {
  TrainConfig c;
  c.model.hidden = {64, 32};
  c.model.dropout = 0.3f;
  c.batch_size = 512;
  c.epochs = 4;
  c.eval_every = 5;
  c.shuffle = true;
  c.seed = 9;
  c.optimizer.lr = 3e-3f;
  c.schedule.kind = LrSchedule::step;
  c.schedule.step_size = 20;
  c.schedule.gamma = 0.5;
  c.precision = precision;
  c.cuda_graphs = graphs;
  return c;
}

// The epochs a run trains itself (a resumed run reports the saved ones too, without training them).
struct EpochsTrained final : TrainObserver {
  std::vector<int> epochs;
  void on_epoch(const EpochRecord& e) override { epochs.push_back(e.epoch); }
};

TrainResult run(Backend& backend, const TrainConfig& c, EpochsTrained* trained = nullptr) {
  SyntheticSpec spec;
  spec.rows = 12'000;
  spec.seed = 3;
  Dataset d = split_train_test(make_synthetic(spec).table, 2'000, "synthetic");
  return train(backend, c, d, trained);
}

}  // namespace

TEST_CASE("cuda resume: 2 epochs saved and resumed to 4 equal 4 uninterrupted epochs bit for bit, every precision") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto gpu = gpu_test::make_gpu();
  const struct {
    Precision precision;
    bool graphs;
    const char* name;
  } cases[] = {{Precision::fp32, false, "fp32"}, {Precision::tf32, false, "tf32"}, {Precision::bf16, false, "bf16"},
               {Precision::fp32, true, "fp32_graphs"}, {Precision::bf16, true, "bf16_graphs"}};
  for (const auto& k : cases) {
    CAPTURE(k.name);
    TrainConfig full = resume_config(k.precision, k.graphs);
    full.save_path = temp_path(std::string(k.name) + "_full.ckpt");
    const TrainResult uninterrupted = run(*gpu, full);

    TrainConfig first = full;
    first.epochs = 2;
    first.save_path = temp_path(std::string(k.name) + "_half.ckpt");
    const TrainResult half = run(*gpu, first);
    REQUIRE(half.epochs.size() == 2);
    CHECK(half.parameters != uninterrupted.parameters);  // the comparison below is not vacuous

    TrainConfig second = full;
    second.resume_path = first.save_path;
    second.save_path = temp_path(std::string(k.name) + "_resumed.ckpt");
    EpochsTrained trained;
    const TrainResult resumed = run(*gpu, second, &trained);
    CHECK(trained.epochs == std::vector<int>{3, 4});  // it did resume: only epochs 3 and 4 were trained
    REQUIRE(resumed.epochs.size() == uninterrupted.epochs.size());
    for (std::size_t i = 0; i < resumed.epochs.size(); ++i) {
      CAPTURE(i);
      CHECK(resumed.epochs[i].train_loss == uninterrupted.epochs[i].train_loss);
      CHECK(resumed.epochs[i].test.loss == uninterrupted.epochs[i].test.loss);
      CHECK(resumed.epochs[i].test.auc == uninterrupted.epochs[i].test.auc);
    }
    CHECK(resumed.steps == uninterrupted.steps);
    CHECK(resumed.parameters == uninterrupted.parameters);
  }
}
