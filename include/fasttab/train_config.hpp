// A training run's settings (TrainConfig; settings.hpp names, bounds and explains each one) and the records it
// keeps of its epochs and evaluations. Shared by the trainer and its checkpoints.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fasttab/backend.hpp"
#include "fasttab/io.hpp"
#include "fasttab/model.hpp"
#include "fasttab/optimizer.hpp"

namespace fasttab {

struct TrainConfig {
  MlpSpec model;               // model.inputs and model.outputs are set from the data and task
  Task task = Task::binary;
  int classes = 0;             // multiclass: number of classes (0 = from the labels)
  int epochs = 10;
  int batch_size = 16384;
  bool shuffle = false;
  bool shard = false;          // under mpirun: each rank trains on its own 1/N of the training rows (docs/scaling.md)
  int eval_every = 100;        // steps between test evaluations (0 = only at epoch ends)
  std::uint64_t seed = 1;
  Precision precision = Precision::fp32;
  int pad_hidden = 1;          // hidden widths padded inside the engine to multiples of this (Mlp, padded_spec)
  GemmLibrary gemm = GemmLibrary::cublas;  // the CUDA backend's GEMM library (Backend::set_gemm_library)
  bool fused_mlp = false;      // bf16: the MLP's fused passes (Mlp's `fused`): the forward pass and the backward chain
                               // each as one kernel
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  std::string loader = "gather";
  bool standardize = false;
  int embedding_dim = 0;       // categorical columns: the width of each embedding (0: default_embedding_dim)
  int min_category_count = 1;  // categories seen fewer times in the training rows share the unseen bucket
  bool standardize_target = true;  // regression: train on the standardised target (TargetTransform, dataset.hpp)
  bool log_target = false;         // regression: train on log(y)
  std::int64_t val_rows = 0;   // early stopping: validation rows taken from the end of the training rows
  double val_fraction = 0;     // --val-fraction: the tools turn it into val_rows (random training rows moved to the end)
  int patience = 0;            // epochs without validation improvement before stopping (0 = never stop early)
  bool cuda_graphs = false;    // --cuda-graphs: the training step captured once (per batch row count) and replayed;
                               // the same results bit for bit, not a setting of the model (not in the checkpoint)
  bool overlap_weight_gradients = false;  // --overlap-weight-gradients: Mlp::set_overlap_weight_gradients; the same
                                          // results bit for bit, not a setting of the model (not in the checkpoint)
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

}  // namespace fasttab
