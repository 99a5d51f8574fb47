// The trainer's checkpoints: what a run has to keep to continue bit for bit (weights, optimiser state, step and
// epoch counters, early-stopping state, standardisation, history) and to predict later (model shape, task, column
// layout, standardisation), stored as sections of the checkpoint container (checkpoint_file.hpp). Section names
// and contents: docs/checkpoint-format.md, "The trainer's sections".
//
// There is no random-generator state to save: every random draw is a pure function of counters (dropout masks of
// (seed, step, layer), the epoch permutation of (seed, epoch), the initial weights of seed), so the seed in
// "config" plus the step and epoch in "progress" ARE the random state.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "fasttab/dataset.hpp"
#include "fasttab/train_config.hpp"

namespace fasttab {

// The data a run trained on, as far as a checkpoint checks it on resume.
struct DataShape {
  std::string source;  // file path or "synthetic data" (recorded, not compared)
  std::int64_t train_rows = 0, test_rows = 0, val_rows = 0;
  int cols = 0;
  std::string split;   // Dataset::split ("last rows", "random test 0.2 seed 0 val 0.1", ...); empty: not recorded
};

// A run's counters and history: the "progress" and "history" sections.
struct RunProgress {
  int epochs_done = 0;
  std::int64_t steps_done = 0;
  int best_epoch = 0;
  double best_val_loss = std::numeric_limits<double>::infinity();
  int epochs_without_improvement = 0;
  bool stopped_early = false;
  double elapsed_s = 0;  // wall-clock seconds of training so far (so that time axes continue)
  std::vector<EpochRecord> epochs;
  std::vector<EvalPoint> evals;
};

// Everything of a run at an epoch end that the next epoch depends on, as host values.
struct TrainingState {
  RunProgress progress;
  std::vector<float> parameters, optimizer_state1, optimizer_state2, best_parameters;
  Standardization standardization;
  TargetTransform target;  // regression: the labels' transform (the identity otherwise)
};

// The "config" section: JSON text of the resolved config (model.inputs/outputs and classes from the data), the
// data shape and the column layout. A resume compares the run's config with the saved one field by field.
std::string checkpoint_config_json(const TrainConfig& resolved, const DataShape& data);

// Writes all sections atomically (write_checkpoint_file): a crash leaves the previous checkpoint intact.
void save_training_checkpoint(const std::string& path, const TrainConfig& resolved, const DataShape& data,
                              const TrainingState& state);

// Reads a checkpoint for --resume and checks that it belongs to this run: the same model shape, task, classes,
// data rows and columns, batch size, seed, shuffle, loader, standardisation, precision, optimiser and schedule.
// Throws Error naming the first field that differs, with its flag and both values ("epochs" may grow, except under
// a cosine schedule whose length it sets). Sizes of the state vectors are checked against the model.
TrainingState load_training_checkpoint(const std::string& path, const TrainConfig& resolved, const DataShape& data);

}  // namespace fasttab
