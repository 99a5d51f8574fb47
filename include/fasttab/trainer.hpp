// The trainer: epochs of batches from a loader through the MLP, the loss, the backward pass and the optimiser,
// with the test set evaluated every `eval_every` steps and at the end of each epoch.
//
// The training step enqueues work only: no allocation, no synchronisation, no host copy. The host reads
// device values only at evaluation points and epoch ends, where the user asked for figures.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fasttab/backend.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/train_config.hpp"

namespace fasttab {

class Communicator;

struct TrainResult {
  std::string backend, device, loader;
  std::int64_t train_rows = 0, test_rows = 0, val_rows = 0;
  std::int64_t steps = 0;
  std::vector<EpochRecord> epochs;
  std::vector<EvalPoint> evals;
  Metrics final_test;
  double s_per_epoch = 0;      // mean over the epochs run
  bool stopped_early = false;
  int best_epoch = 0;          // early stopping: the epoch whose weights were kept
  Standardization standardization;
  TargetTransform target;         // regression: the labels' transform; the metrics are in its trained scale
  std::vector<float> parameters;  // the final (or best) weights, host copy
  std::vector<GemmPlan> gemm_plans;  // --gemm cublaslt, cublaslt-timed: the algorithm each GEMM shape got (CUDA)
  // Where the training rows' features were read from (backend memory): the caller's array when Dataset::train_features
  // was read in place (no copy), else the engine's own copy.
  const void* train_features = nullptr;
};

// Called from the training loop; every field is already a host value (no callback forces a device wait).
struct TrainObserver {
  virtual ~TrainObserver() = default;
  virtual void on_batch(int /*epoch*/, std::int64_t /*batch*/, std::int64_t /*batches*/, double /*epoch_seconds*/,
                        double /*last_train_loss*/) {}
  virtual void on_eval(const EvalPoint&) {}
  virtual void on_epoch(const EpochRecord&) {}
};

// Trains on dataset.train (the last config.val_rows of its rows are early stopping's validation rows), evaluates
// on dataset.test. `dataset` is only read. Labels are validated for the task first.
// With config.resume_path the run continues a checkpoint (checkpoint.hpp) after checking that it was saved with
// the same settings and data; the result then holds the saved epochs and evaluations too. With save_path a
// checkpoint is written at the end of every epoch, before observer->on_epoch.
// With a communicator of N > 1 ranks (communicator.hpp) the run is data-parallel and replicated: every rank holds
// the whole table and calls train() with the same config and data; rank r trains on about rows [r*b/N, (r+1)*b/N)
// of each global batch of b rows (rank_slice: starts rounded down to multiples of 4), the gradients are summed
// across ranks, and every rank steps the same update (the one a single process makes on the whole batch, up to the
// order of the float sums). Evaluations are split across the ranks and gathered; only rank 0 writes the
// checkpoint. Null: one process.
TrainResult train(Backend& backend, const TrainConfig& config, const Dataset& dataset, TrainObserver* observer = nullptr,
                  Communicator* communicator = nullptr);

}  // namespace fasttab
