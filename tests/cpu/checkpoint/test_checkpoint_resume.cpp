// Checkpoints of the trainer: a run stopped after any epoch and resumed gives exactly (bit for bit) what the
// uninterrupted run gives; damaged or foreign checkpoints are refused with an error that says why.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "fasttab/checkpoint.hpp"
#include "host/checkpoint/checkpoint_file.hpp"
#include "host/checkpoint/training_checkpoint.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/error.hpp"
#include "fasttab/synthetic.hpp"
#include "fasttab/trainer.hpp"
#include "test_support.hpp"

using namespace fasttab;

namespace {

// A directory of this process, removed when the test executable exits.
struct TempDir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("fasttab_resume_" + std::to_string(::getpid()));
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

std::string temp_path(const std::string& name) {
  static TempDir dir;
  return (dir.path / name).string();
}

Dataset small_dataset() {
  SyntheticSpec spec;
  spec.rows = 6'000;
  spec.seed = 11;
  SyntheticData data = make_synthetic(spec);
  return split_train_test(std::move(data.table), 1'000, "synthetic");
}

// Shuffling, dropout and a per-step schedule: every random stream and counter a resume has to restore.
TrainConfig resume_config() {
  TrainConfig c;
  c.model.hidden = {32, 16};
  c.model.dropout = 0.3f;
  c.batch_size = 256;
  c.epochs = 4;
  c.eval_every = 7;
  c.shuffle = true;
  c.seed = 5;
  c.optimizer.lr = 3e-3f;
  c.schedule.kind = LrSchedule::step;
  c.schedule.step_size = 30;
  c.schedule.gamma = 0.5;
  return c;
}

TrainResult run(const TrainConfig& c) {
  Dataset d = small_dataset();
  auto backend = make_cpu_backend();
  return train(*backend, c, d);
}

// Stops the run after epoch `stop_after` as a crash would: by throwing out of the training loop.
struct Interrupt final : TrainObserver {
  int stop_after;
  explicit Interrupt(int e) : stop_after(e) {}
  void on_epoch(const EpochRecord& e) override {
    if (e.epoch == stop_after) throw std::runtime_error("interrupted");
  }
};

void check_same_run(const TrainResult& a, const TrainResult& b) {
  REQUIRE(a.epochs.size() == b.epochs.size());
  for (std::size_t i = 0; i < a.epochs.size(); ++i) {
    CAPTURE(i);
    CHECK(a.epochs[i].epoch == b.epochs[i].epoch);
    CHECK(a.epochs[i].train_loss == b.epochs[i].train_loss);
    CHECK(a.epochs[i].test.loss == b.epochs[i].test.loss);
    CHECK(a.epochs[i].test.auc == b.epochs[i].test.auc);
    CHECK(a.epochs[i].lr == b.epochs[i].lr);
  }
  REQUIRE(a.evals.size() == b.evals.size());
  for (std::size_t i = 0; i < a.evals.size(); ++i) {
    CHECK(a.evals[i].step == b.evals[i].step);
    CHECK(a.evals[i].train_loss == b.evals[i].train_loss);
    CHECK(a.evals[i].test.loss == b.evals[i].test.loss);
  }
  CHECK(a.steps == b.steps);
  CHECK(a.final_test.loss == b.final_test.loss);
  CHECK(a.best_epoch == b.best_epoch);
  CHECK(a.parameters == b.parameters);
}

std::vector<std::uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("2 epochs saved, then resumed to 4, equal 4 uninterrupted epochs bit for bit") {
  TrainConfig full = resume_config();
  full.save_path = temp_path("full.ckpt");
  const TrainResult uninterrupted = run(full);

  TrainConfig first = resume_config();
  first.epochs = 2;
  first.save_path = temp_path("half.ckpt");
  const TrainResult half = run(first);
  REQUIRE(half.epochs.size() == 2);
  CHECK(half.parameters != uninterrupted.parameters);  // the comparison below is not vacuous

  TrainConfig second = resume_config();
  second.resume_path = first.save_path;
  second.save_path = temp_path("resumed.ckpt");
  const TrainResult resumed = run(second);
  check_same_run(uninterrupted, resumed);

  // The final checkpoints agree too (weights and both optimiser state vectors).
  const CheckpointFile a = read_checkpoint_file(full.save_path), b = read_checkpoint_file(second.save_path);
  for (const char* section : {"parameters", "optimizer_state1", "optimizer_state2", "standardization"}) {
    CAPTURE(section);
    CHECK(a.at(section).bytes == b.at(section).bytes);
  }
}

// bf16: the weights' bfloat16 copy is made from the master weights at every forward pass, so a checkpoint (master
// weights, optimiser state, counters) is all that a resume needs; the precision is recorded in its config.
TEST_CASE("bf16: 2 epochs saved, then resumed to 4, equal 4 uninterrupted epochs bit for bit") {
  TrainConfig full = resume_config();
  full.precision = Precision::bf16;
  full.save_path = temp_path("bf16_full.ckpt");
  const TrainResult uninterrupted = run(full);
  TrainConfig fp32 = resume_config();
  CHECK(run(fp32).parameters != uninterrupted.parameters);  // bf16 changes the run

  TrainConfig first = full;
  first.epochs = 2;
  first.save_path = temp_path("bf16_half.ckpt");
  const TrainResult half = run(first);
  REQUIRE(half.epochs.size() == 2);
  CHECK(half.parameters != uninterrupted.parameters);

  TrainConfig second = full;
  second.resume_path = first.save_path;
  second.save_path = temp_path("bf16_resumed.ckpt");
  const TrainResult resumed = run(second);
  check_same_run(uninterrupted, resumed);
  const CheckpointFile a = read_checkpoint_file(full.save_path), b = read_checkpoint_file(second.save_path);
  for (const char* section : {"parameters", "optimizer_state1", "optimizer_state2"}) {
    CAPTURE(section);
    CHECK(a.at(section).bytes == b.at(section).bytes);
  }

  // Resuming a bf16 checkpoint as fp32 is refused, naming the flag.
  TrainConfig other = resume_config();
  other.resume_path = first.save_path;
  Dataset d = small_dataset();
  auto backend = make_cpu_backend();
  CHECK_THROWS_WITH(train(*backend, other, d), doctest::Contains("--precision"));
}

TEST_CASE("a run interrupted after epoch 2 of 4 (cosine schedule, early-stopping state) resumes bit for bit") {
  TrainConfig c = resume_config();
  c.schedule.kind = LrSchedule::cosine;  // its length is the whole run: the interrupted run had --epochs 4 too
  c.schedule.warmup_steps = 10;
  c.val_rows = 800;
  c.patience = 10;
  c.optimizer.lr = 2e-2f;
  const TrainResult uninterrupted = run(c);

  TrainConfig first = c;
  first.save_path = temp_path("interrupted.ckpt");
  {
    Dataset d = small_dataset();
    auto backend = make_cpu_backend();
    Interrupt stop(2);
    CHECK_THROWS_WITH(train(*backend, first, d, &stop), "interrupted");
  }
  const TrainingState saved = load_training_checkpoint(first.save_path, [&] {
    TrainConfig r = c;  // the resolved config, as the trainer sees it
    r.model.inputs = 21;
    r.model.outputs = 1;
    return r;
  }(), DataShape{"synthetic", 4'200, 1'000, 800, 21, "last rows"});
  CHECK(saved.progress.epochs_done == 2);
  CHECK(saved.best_parameters.size() == saved.parameters.size());
  CHECK(saved.progress.best_epoch >= 1);

  TrainConfig second = c;
  second.resume_path = first.save_path;
  check_same_run(uninterrupted, run(second));
}

TEST_CASE("resuming a finished run trains nothing more and reports the same result") {
  TrainConfig c = resume_config();
  c.epochs = 2;
  c.save_path = temp_path("finished.ckpt");
  const TrainResult done = run(c);
  TrainConfig again = resume_config();
  again.epochs = 2;
  again.resume_path = c.save_path;
  check_same_run(done, run(again));
}

TEST_CASE("a checkpoint with one flipped byte is refused as corrupted") {
  TrainConfig c = resume_config();
  c.epochs = 1;
  c.save_path = temp_path("flip.ckpt");
  run(c);
  std::vector<std::uint8_t> bytes = file_bytes(c.save_path);
  REQUIRE(bytes.size() > 200);
  bytes[bytes.size() / 2] ^= 0x10;
  const std::string bad = temp_path("flipped.ckpt");
  std::ofstream(bad, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  TrainConfig r = resume_config();
  r.resume_path = bad;
  CHECK_THROWS_WITH_AS(run(r), doctest::Contains("is corrupted"), Error);
}

TEST_CASE("a checkpoint of another run is refused with the field that differs") {
  TrainConfig c = resume_config();
  c.epochs = 1;
  c.save_path = temp_path("other.ckpt");
  run(c);
  auto refused = [&](auto change, const char* field) {
    TrainConfig r = resume_config();
    change(r);
    r.resume_path = c.save_path;
    CAPTURE(field);
    CHECK_THROWS_WITH_AS(run(r), doctest::Contains(field), Error);
  };
  refused([](TrainConfig& r) { r.model.hidden = {32, 17}; }, "model.hidden (--hidden) is [32,16] in the checkpoint but [32,17]");
  refused([](TrainConfig& r) { r.batch_size = 128; }, "batch_size (--batch-size) is 256");
  refused([](TrainConfig& r) { r.seed = 6; }, "seed (--seed)");
  refused([](TrainConfig& r) { r.task = Task::regression; }, "task (--task)");
  refused([](TrainConfig& r) { r.optimizer.kind = OptimizerKind::sgd; }, "optimizer.kind (--optimizer)");
  refused([](TrainConfig& r) { r.shuffle = false; }, "shuffle (--shuffle)");
  refused([](TrainConfig& r) { r.schedule.gamma = 0.25; }, "schedule.gamma (--lr-gamma)");

  // Other data of the same shape: the training rows' standardisation statistics differ.
  TrainConfig s = resume_config();
  s.epochs = 1;
  s.standardize = true;
  s.save_path = temp_path("standardized.ckpt");
  run(s);
  SyntheticSpec spec;
  spec.rows = 6'000;
  spec.seed = 12;
  Dataset other = split_train_test(std::move(make_synthetic(spec).table), 1'000, "synthetic");
  TrainConfig r = s;
  r.save_path.clear();
  r.resume_path = s.save_path;
  auto backend = make_cpu_backend();
  CHECK_THROWS_WITH_AS(train(*backend, r, other), doctest::Contains("standardisation statistics"), Error);

  // Fewer rows: data.train_rows names it.
  spec.seed = 11;
  spec.rows = 5'000;
  Dataset fewer = split_train_test(std::move(make_synthetic(spec).table), 1'000, "synthetic");
  TrainConfig f = resume_config();
  f.resume_path = c.save_path;
  CHECK_THROWS_WITH_AS(train(*backend, f, fewer), doctest::Contains("data.train_rows"), Error);
}

TEST_CASE("train --resume on the command line refuses a corrupted checkpoint") {
  const std::string tool = std::string(FASTTAB_BINARY_DIR) + "/train";
  if (!std::filesystem::exists(tool)) FASTTAB_SKIP_TEST("build/train is not built");
  const std::string ckpt = temp_path("cli.ckpt"), log = temp_path("cli.log");
  const std::string flags = " --device cpu --rows 3000 --epochs 1 --batch-size 256 --hidden 8 ";
  REQUIRE(std::system((tool + flags + "--save " + ckpt + " > " + log + " 2>&1").c_str()) == 0);
  std::vector<std::uint8_t> bytes = file_bytes(ckpt);
  bytes[bytes.size() / 3] ^= 0x01;
  std::ofstream(ckpt, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  CHECK(std::system((tool + flags + "--resume " + ckpt + " > " + log + " 2>&1").c_str()) != 0);
  std::ifstream in(log);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  CHECK(text.find("is corrupted") != std::string::npos);
}
