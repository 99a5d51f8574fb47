// The training settings, one row each: the field of TrainConfig, its key in a checkpoint's config JSON, its
// command-line flag, its accepted range and its help. The tools' flags (CLI11), TrainConfig::validate and a
// checkpoint's mismatch messages are all made from this one table, so that a setting is named, bounded and
// explained in one place.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "fasttab/trainer.hpp"

namespace fasttab {

struct Setting {
  const char* key;   // its path in the checkpoint's config JSON, parts joined by '.': "optimizer.lr"
  const char* flag;  // its command-line flag: "--lr"
  const char* help;
  double min = 0, max = 0;  // numbers (each element of a list): the accepted range, ends included...
  bool min_open = false;    // ...except min when this is set (a learning rate > 0)
};

// Calls visit(setting, field) for every setting of `config` (a TrainConfig, const or not), in the order the
// tools list them. `field` is an int, std::int64_t, std::uint64_t, float, double, bool, std::string (the loader),
// std::vector<int> (the hidden widths) or one of the enums of names.hpp.
template <typename Config, typename Visit>
void for_each_setting(Config& c, Visit&& visit) {
  constexpr double kNoLimit = std::numeric_limits<double>::infinity();
  visit(Setting{"model.hidden", "--hidden", "hidden layer widths, comma-separated", 1, 65536}, c.model.hidden);
  visit(Setting{"model.activation", "--activation", "activation of the hidden layers"}, c.model.activation);
  visit(Setting{"model.dropout", "--dropout", "dropout probability after the first hidden layer", 0, 0.99},
        c.model.dropout);
  visit(Setting{"task", "--task", "what the label is"}, c.task);
  visit(Setting{"classes", "--classes", "multiclass: number of classes (0: the largest label + 1)", 0, 1 << 20},
        c.classes);
  visit(Setting{"epochs", "--epochs", "epochs", 1, 1e6}, c.epochs);
  visit(Setting{"batch_size", "--batch-size", "rows per batch", 1, 1 << 24}, c.batch_size);
  visit(Setting{"shuffle", "--shuffle", "shuffle the rows every epoch (default off, as in the seed)"}, c.shuffle);
  visit(Setting{"shard", "--shard", "under mpirun: each rank trains on its own 1/N of the training rows, batches of "
                "batch-size/N from each, and reads only its rows where it can (.npy, the table cache) (default: "
                "every rank draws from all rows, or shards when the replicated table does not fit; docs/scaling.md)"}, c.shard);
  visit(Setting{"eval_every", "--eval-every", "evaluate the test set every N steps (0: only at epoch ends)", 0,
                std::numeric_limits<int>::max()},
        c.eval_every);
  visit(Setting{"seed", "--seed", "seed of the data, the initial weights, dropout and shuffling", 0, 1.8446744073709552e19},
        c.seed);
  visit(Setting{"precision", "--precision", "GEMM arithmetic"}, c.precision);
  visit(Setting{"pad_hidden", "--pad-hidden", "run each hidden layer N-aligned: its width rounded up to a multiple of "
                "N inside the engine, the padding held at zero, for GEMM shapes the tensor cores tile well (300 -> 304 "
                "with 8, 320 with 64); what is saved and returned is the --hidden model (1: no padding)", 1, 256},
        c.pad_hidden);
  visit(Setting{"gemm", "--gemm", "the library of the GPU's GEMMs: cuBLAS's own kernel choice, cuBLASLt's heuristic "
                "(the same algorithm every run), or cuBLASLt's fastest algorithm timed at start-up (runs may then differ "
                "in the last bits); the CPU uses OpenBLAS whatever this says"},
        c.gemm);
  visit(Setting{"fused_mlp", "--fused-mlp", "bf16: the forward pass as one kernel and the backward pass's chain "
                "through the layers as another, each block of rows kept in shared memory through every layer (widths "
                "up to 320, the first layer's input with its embeddings too; tanh or relu; no --pad-hidden); the weight "
                "gradients stay GEMMs; the same arithmetic up to the order of the float32 sums (off by default until "
                "measured)"},
        c.fused_mlp);
  visit(Setting{"optimizer.kind", "--optimizer", "the optimiser"}, c.optimizer.kind);
  visit(Setting{"optimizer.lr", "--lr", "learning rate", 0, kNoLimit, true}, c.optimizer.lr);
  visit(Setting{"optimizer.beta1", "--beta1", "Adam beta1", 0, 0.99999}, c.optimizer.beta1);
  visit(Setting{"optimizer.beta2", "--beta2", "Adam beta2", 0, 0.99999999}, c.optimizer.beta2);
  visit(Setting{"optimizer.eps", "--eps", "Adam epsilon", 0, 1, true}, c.optimizer.eps);
  visit(Setting{"optimizer.weight_decay", "--weight-decay", "L2 (adam, sgd) or decoupled (adamw) weight decay", 0, 1},
        c.optimizer.weight_decay);
  visit(Setting{"optimizer.momentum", "--momentum", "SGD momentum", 0, 0.999}, c.optimizer.momentum);
  visit(Setting{"schedule.kind", "--lr-schedule", "the learning-rate schedule (per step)"}, c.schedule.kind);
  visit(Setting{"schedule.warmup_steps", "--warmup-steps", "linear warm-up steps (warmup, cosine)", 0, 1e12},
        c.schedule.warmup_steps);
  visit(Setting{"schedule.step_size", "--lr-step-size", "steps between decays (step schedule)", 1, 1e12},
        c.schedule.step_size);
  visit(Setting{"schedule.gamma", "--lr-gamma", "decay factor: per step_size steps (step) or per step (exponential)",
                0, 1},
        c.schedule.gamma);
  visit(Setting{"schedule.min_lr", "--min-lr", "final learning rate of the cosine schedule", 0, kNoLimit},
        c.schedule.min_lr);
  visit(Setting{"loader", "--loader", "where batches come from"}, c.loader);
  visit(Setting{"standardize", "--standardize", "standardise features with the training split's mean and std"},
        c.standardize);
  visit(Setting{"embedding_dim", "--embedding-dim", "categorical columns: the width of each column's embedding "
                "(0: min(16, ceil(1.6 * categories^0.56)))", 0, 1024},
        c.embedding_dim);
  visit(Setting{"min_category_count", "--min-category-count", "categorical columns: categories seen fewer times in "
                "the training rows share the unseen-category bucket", 1, 2e9},
        c.min_category_count);
  visit(Setting{"standardize_target", "--standardize-target", "regression: train on the target standardised with the "
                "training rows' mean and std (predictions and metrics in its own units; default on)"},
        c.standardize_target);
  visit(Setting{"log_target", "--log-target", "regression: train on log(y) (every y > 0); predictions come back as y, "
                "the test metrics are those of log(y)"},
        c.log_target);
  visit(Setting{"val_rows", "--val-rows", "validation rows taken from the end of the training rows (early stopping)",
                0, 2e9},
        c.val_rows);
  visit(Setting{"patience", "--patience", "stop after N epochs without validation improvement (0: never)", 0, 1e6},
        c.patience);
}

// The flag of the setting whose key is `key` ("optimizer.lr" -> "--lr"), or "" when none is.
std::string flag_of_setting(const std::string& key);

// "" when `value` is in the setting's range, else what is wrong: "must be a finite number > 0".
std::string out_of_range(const Setting& s, double value);

}  // namespace fasttab
