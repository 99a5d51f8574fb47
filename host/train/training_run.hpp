// What one training run holds in backend memory, and the two operations an epoch is made of:
//   training_step(batch)  forward (dropout masks from (seed, step)), loss and its gradient, backward, one optimiser
//                         update; enqueued only: no allocation, no synchronisation, no host copy;
//   evaluate(table)       the forward pass over a whole resident table in batch-sized chunks, then the metrics
//                         (one wait for the device).
// The epoch driver (trainer.cpp) calls them; a CUDA graph, a communicator or the Python binding wrap the same step.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "fasttab/communicator.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/model.hpp"
#include "fasttab/optimizer.hpp"
#include "fasttab/trainer.hpp"
#include "host/checkpoint/training_checkpoint.hpp"
#include "host/loaders/loader.hpp"

namespace fasttab {

// The config a run trains with: `config` checked (ranges, labels for the task, room for one batch, memory) with
// model.inputs, model.outputs and classes taken from the data. Warns on stderr about a test or validation split
// of a single class. Throws Error naming the setting and what to change.
// `ranks`: the data-parallel ranks (with --shard each card holds 1/ranks of the training rows). With more than
// one rank and no --shard, a table whose replicas do not fit in the backend's free memory but whose shards do
// turns --shard on (a note on stdout from rank 0; `comm`, when given, makes every rank take the same decision).
TrainConfig resolve_config(Backend& backend, const TrainConfig& config, const Dataset& data, int ranks = 1,
                           Communicator* comm = nullptr);

// Bytes of backend memory a run of `c` (model.inputs and outputs set) allocates with train_rows resident training
// rows of feature_cols features, test_rows test rows and c.val_rows validation rows (none of their features when
// they are read in place); resolve_config checks it against the free memory before any allocation.
double run_bytes_needed(const TrainConfig& c, int feature_cols, std::int64_t train_rows, std::int64_t test_rows,
                        bool features_in_place = false);

// The automatic --shard under mpirun without --shard: true on every rank when some rank's free memory is short of
// replicated_bytes while every rank's holds sharded_bytes, and the ranks divide the batch (the note of the switch
// printed by rank 0). Collective over `comm`: every rank calls it. False for one rank and under --shard.
bool vote_for_shard(Backend& backend, const TrainConfig& c, double replicated_bytes, double sharded_bytes,
                    std::int64_t train_rows, int ranks, Communicator* comm);

// Rows [begin, end) of a table or batch.
struct RowSlice {
  std::int64_t begin = 0, end = 0;
};
// Rank `rank`'s rows of `rows` rows split across `ranks`: from rows*rank/ranks rounded down to a multiple of 4 to
// the next rank's start (the last rank: to `rows`).
RowSlice rank_slice(std::int64_t rows, int rank, int ranks);

class TrainingRun {
 public:
  // Uploads the tables once (the training rows, the test rows and early stopping's validation rows, which are the
  // last val_rows training rows), standardises them when asked, transforms a regression target (TargetTransform), builds the loader, the model at its initial
  // weights and the optimiser. `data` is only read; `config` is resolved (resolve_config).
  // `comm`: the ranks of a data-parallel run (one rank: the single-process run, bit for bit).
  TrainingRun(Backend& backend, const TrainConfig& config, const Dataset& data, Communicator& comm);

  // `batch` is the global batch (every rank's loader yields the same one); this rank trains on its slice, the
  // gradients are summed across ranks (each rank's scaled by its share of the rows, so the sum is the gradient
  // of the mean over the whole batch), then every rank makes the same update. *loss_slot gets this rank's share
  // of the batch's mean loss; mean_batch_loss sums the shares across ranks.
  void training_step(const Batch& batch, std::int64_t step, float* loss_slot);

  Metrics evaluate_test(std::int64_t step) { return evaluate(test_, test_outputs_, "test", step); }
  Metrics evaluate_validation(std::int64_t step) { return evaluate(validation_, validation_outputs_, "validation", step); }
  bool has_validation() const { return validation_.rows > 0; }

  // Mean of the batch losses [begin, end) of the epoch that started at step first_step, in the target's trained
  // scale (as the evaluations: TargetTransform::trained_scale); throws at a non-finite one, naming its step. Reads the device (a figure the user asked for). Collective: every rank calls it with
  // the same ranges.
  double mean_batch_loss(std::int64_t begin, std::int64_t end, std::int64_t first_step, int epoch);
  float* batch_loss_slot(std::int64_t batch) { return batch_losses_.data() + batch; }

  // Untimed: one evaluation and one forward and backward pass without an update, so that one-time costs (scratch
  // sizing, cuBLAS's first calls per shape) stay out of the first epoch's time. Changes nothing the run depends on.
  void warm_up(std::int64_t step);

  // Waits for the work enqueued so far (an epoch's time is measured to its end).
  void wait() { backend_.synchronize(); }

  // Early stopping: copy the weights aside, or put the copy back.
  void keep_best_parameters();
  void restore_best_parameters();

  // Checkpoints: the run's tensors and standardisation to and from a TrainingState (host copies, at epoch ends).
  void save_state(TrainingState& state);
  void load_state(const TrainingState& state);
  DataShape data_shape() const;

  Loader& loader() { return *loader_; }
  const Standardization& standardization() const { return standardization_; }
  const TargetTransform& target() const { return target_; }
  std::int64_t train_rows() const { return train_rows_; }
  const float* train_features() const { return train_.features.data(); }
  std::int64_t test_rows() const { return test_.rows; }
  std::int64_t validation_rows() const { return validation_.rows; }
  double current_lr() const { return optimizer_.current_lr(); }
  std::vector<float> parameters() const { return mlp_.get_parameters(); }

 private:
  void forward_backward(const float* x, int ld, int rows, const float* labels, DropoutKey key, float* loss_slot);
  void captured_step(const Batch& batch, std::int64_t step, float* loss_slot);
  void write_step_counter(std::int64_t steps_done);
  Metrics evaluate(const DeviceTable& table, BackendBuffer<float>& outputs, const char* what, std::int64_t step);
  void upload_and_standardize(const Dataset& data);
  void view_tables(const Dataset& data);
  void keep_category_codes();

  Backend& backend_;
  Communicator& comm_;
  bool data_parallel_;  // a real communicator (MPI, NCCL), even of one rank: slices, all-reduces
  TrainConfig config_;
  std::string source_;
  std::string split_;
  bool sharded_;              // --shard under mpirun: this rank's training rows are its shard
  int batch_rows_;            // rows of this rank's batches (sharded: batch_size / N)
  std::int64_t train_rows_;   // the training rows this rank draws from (sharded: its shard)
  std::int64_t shard_begin_;  // the first of them in the training rows
  DeviceTable train_, test_, validation_;
  Table standardized_host_train_;  // a host loader's training rows, standardised and/or their target transformed
  const Table* host_train_ = nullptr;
  Standardization standardization_;
  TargetTransform target_;         // regression: the labels of every table are target_.forward(y)
  std::unique_ptr<Loader> loader_;
  Mlp mlp_;
  Optimizer optimizer_;
  std::int64_t losses_reduced_end_ = 0;  // batch losses [0, this) of losses_epoch_ are summed across ranks
  int losses_epoch_ = 0;
  BackendBuffer<float> grad_outputs_, batch_losses_, test_outputs_, validation_outputs_, best_parameters_;

  // --cuda-graphs (captured_step): the step recorded once per batch row count and replayed. It reads the step from
  // step_counter_ (backend memory) and its learning rate and bias corrections from schedule_ (3 floats per step of
  // the run, written at construction), its batch from the loader's buffer or a copy in step_features_/step_labels_,
  // and writes its loss to step_loss_.
  struct CapturedStep {
    std::unique_ptr<Backend::CapturedWork> work;
    const float* features = nullptr;  // the batch it reads
    const float* labels = nullptr;
    int ld = 0;
  };
  std::map<int, CapturedStep> captured_steps_;
  std::map<const DeviceTable*, std::unique_ptr<Backend::CapturedWork>> captured_evaluations_;  // test, validation
  BackendBuffer<std::uint32_t> step_counter_;
  BackendBuffer<float> schedule_, step_features_, step_labels_, step_loss_;
  std::int64_t counter_holds_ = -1;  // the steps done that step_counter_ holds when the next step runs
};

}  // namespace fasttab
