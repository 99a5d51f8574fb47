// The trainer: epochs of batches from a loader through the MLP, the loss, the backward pass and the optimiser,
// with the test set evaluated every `eval_every` steps and at the end of each epoch.
//
// The training step enqueues work only: no allocation, no synchronisation, no host copy. The host reads
// device values only at evaluation points and epoch ends, where the user asked for figures.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "fasttab/backend.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/model.hpp"
#include "fasttab/optimizer.hpp"

namespace fasttab {

// The columns of the data a model was trained on, recorded in its checkpoint ("layout" in "config") so that
// predict selects the same columns of a file by default (docs/checkpoint-format.md).
struct ColumnLayout {
  bool known = false;                      // false: not recorded (a checkpoint saved before layouts were)
  bool synthetic = false;                  // the built-in data: label then features, as --export-npy writes it
  std::string format;                      // "csv", "csv.gz", "npy" or "synthetic"
  int source_cols = 0;                     // columns of the file, the label included
  int label_col = 0;                       // 0-based
  std::string features = "all";            // the --features spec as given
  std::vector<int> feature_cols;           // the resolved source columns, in the model's input order
  std::vector<std::string> feature_names;  // their header names (empty when the file had no header)
  char delimiter = 0;                      // CSV: the delimiter (0 for .npy and synthetic data)
  bool header = false;                     // CSV: the first line was a header
};

struct TrainConfig {
  MlpSpec model;               // model.inputs and model.outputs are set from the data and task
  Task task = Task::binary;
  int classes = 0;             // multiclass: number of classes (0 = from the labels)
  int epochs = 10;
  int batch_size = 16384;
  bool shuffle = false;
  int eval_every = 100;        // steps between test evaluations (0 = only at epoch ends)
  std::uint64_t seed = 1;
  Precision precision = Precision::fp32;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  std::string loader = "gather";
  bool standardize = false;
  std::int64_t val_rows = 0;   // early stopping: validation rows taken from the end of the training rows
  int patience = 0;            // epochs without validation improvement before stopping (0 = never stop early)
  std::string save_path;       // checkpoint written (atomically) at the end of every epoch; empty = none
  std::string resume_path;     // checkpoint to continue from: the run goes on from its next epoch, bit for bit
  ColumnLayout data_layout;    // recorded in the checkpoint's config for predict (not used by training)

  void validate() const;       // throws Error naming the flag and its range
};

struct EpochRecord {
  int epoch = 0;               // from 1
  double seconds = 0;          // wall-clock, evaluations included (as the seed timed it)
  double samples_per_s = 0;
  double train_loss = 0;       // mean of the epoch's batch losses
  Metrics test;
  Metrics validation;          // when val_rows > 0
  double lr = 0;               // at the end of the epoch
};

struct EvalPoint {
  std::int64_t step = 0;
  double seconds = 0;          // since training started
  double train_loss = 0;       // mean batch loss since the previous evaluation
  Metrics test;
};

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
  std::vector<float> parameters;  // the final (or best) weights, host copy
};

// Called from the training loop; every field is already a host value (no callback forces a device wait).
struct TrainObserver {
  virtual ~TrainObserver() = default;
  virtual void on_batch(int /*epoch*/, std::int64_t /*batch*/, std::int64_t /*batches*/, double /*epoch_seconds*/,
                        double /*last_train_loss*/) {}
  virtual void on_eval(const EvalPoint&) {}
  virtual void on_epoch(const EpochRecord&) {}
};

// Trains on dataset.train, evaluates on dataset.test. Labels are validated for the task first.
// With config.resume_path the run continues a checkpoint (checkpoint.hpp) after checking that it was saved with
// the same settings and data; the result then holds the saved epochs and evaluations too. With save_path a
// checkpoint is written at the end of every epoch, before observer->on_epoch.
TrainResult train(Backend& backend, const TrainConfig& config, Dataset& dataset, TrainObserver* observer = nullptr);

}  // namespace fasttab
