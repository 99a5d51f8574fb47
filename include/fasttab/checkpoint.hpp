// A trained model read back from a checkpoint written by `train --save` (or TrainConfig::save_path): what predict
// needs. The checkpoint format: docs/checkpoint-format.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fasttab/dataset.hpp"
#include "fasttab/io.hpp"
#include "fasttab/model.hpp"

namespace fasttab {

// The model, its task, the standardisation it was trained with and the columns of its training data.
struct SavedModel {
  MlpSpec spec;
  Task task = Task::binary;
  int classes = 0;
  Standardization standardization;
  TargetTransform target;         // regression: outputs are mapped back by target.inverse (older checkpoints: identity)
  std::vector<float> parameters;  // best_parameters when early stopping kept some, else the last weights
  int epochs_done = 0;
  std::string config_json;
  ColumnLayout layout;            // layout.known is false for checkpoints saved without one
  Precision precision = Precision::fp32;  // the precision it was trained in (config "precision"); predictions run in it
  int pad_hidden = 1;  // the hidden-width padding it was trained with (config "pad_hidden"); predictions run with it
  GemmLibrary gemm = GemmLibrary::cublas;  // the GEMM library it was trained with (config "gemm"); predictions use it
  bool fused_mlp = false;  // trained with the fused bf16 passes (config "fused_mlp"); predictions run them too
};

// Reads and checks a checkpoint (its checksum, its sections and their sizes); throws Error naming the file.
SavedModel load_saved_model(const std::string& path);

// A checkpoint held in memory (its file's bytes): one section as text (std::nullopt when there is none), or the
// bytes with one section set (replaced, or appended) and checksummed again. Throws Error for bytes that are not an
// intact checkpoint. Readers ignore sections they do not know, so a program may keep its own there (the Python
// package keeps its estimator's labels and history in a "python" section).
std::optional<std::string> checkpoint_section(const std::string& checkpoint, const std::string& name);
std::string checkpoint_with_section(const std::string& checkpoint, const std::string& name, const std::string& text);

}  // namespace fasttab
