#include "host/train/training_run.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "fasttab/error.hpp"

namespace fasttab {
namespace {

std::int64_t batches_per_epoch(std::int64_t rows, int batch_size) { return (rows + batch_size - 1) / batch_size; }

bool is_sharded(const TrainConfig& c, const Communicator& comm) { return c.shard && comm.size() > 1; }

// Sharded: every rank trains on floor(n/N) rows (the same count everywhere, so the same number of steps; up to
// N-1 rows unused) in batches of batch_size/N rows.
std::int64_t rank_train_rows(const TrainConfig& c, const Dataset& data, const Communicator& comm) {
  const std::int64_t rows = data.all_train_rows() - c.val_rows;
  return is_sharded(c, comm) ? rows / comm.size() : rows;
}
int rank_batch_size(const TrainConfig& c, const Communicator& comm) {
  if (!is_sharded(c, comm)) return c.batch_size;
  FASTTAB_REQUIRE(c.batch_size % comm.size() == 0, "--shard: --batch-size ", c.batch_size, " is not divisible by the ",
                  comm.size(), " ranks; each rank takes batch-size/ranks rows of its shard per step");
  return c.batch_size / comm.size();
}

}  // namespace

TrainingRun::TrainingRun(Backend& backend, const TrainConfig& config, const Dataset& data, Communicator& comm)
    : backend_(backend), comm_(comm), data_parallel_(std::strcmp(comm.kind(), "single") != 0), config_(config),
      source_(data.source), split_(data.split), sharded_(is_sharded(config, comm)), batch_rows_(rank_batch_size(config, comm)),
      train_rows_(rank_train_rows(config, data, comm)), shard_begin_(sharded_ ? comm.rank() * train_rows_ : 0),
      mlp_(backend, config.model, config.batch_size, config.precision, config.pad_hidden, config.fused_mlp),
      optimizer_(backend, config.optimizer, config.schedule, mlp_.parameter_count(),
                 batches_per_epoch(train_rows_, batch_rows_) * config.epochs) {
  backend.set_precision(config.precision);
  backend.set_gemm_library(config.gemm);
  upload_and_standardize(data);
  LoaderSource source;
  source.backend = &backend;
  source.host_table = host_train_;
  source.device_table = train_.rows > 0 ? &train_ : nullptr;
  source.rows = train_rows_;
  source.batch_size = batch_rows_;
  source.shuffle = config.shuffle;
  source.seed = sharded_ ? config.seed + std::uint64_t(comm.rank()) : config.seed;  // sharded: its own order
  loader_ = make_loader(config.loader, source);

  mlp_.set_parameters(initial_parameters(config.model, config.seed));
  mlp_.set_overlap_weight_gradients(config.overlap_weight_gradients);
  const int width = config.model.outputs;
  grad_outputs_ = BackendBuffer<float>(backend, std::size_t(config.batch_size) * width, "output gradients");
  batch_losses_ = BackendBuffer<float>(backend, std::size_t(loader_->batches_per_epoch()), "batch losses");
  test_outputs_ = BackendBuffer<float>(backend, std::size_t(test_.rows) * width, "test outputs");
  if (validation_.rows > 0) {
    validation_outputs_ = BackendBuffer<float>(backend, std::size_t(validation_.rows) * width, "validation outputs");
    best_parameters_ = BackendBuffer<float>(backend, mlp_.parameter_count(), "best parameters");
  }
  if (config.cuda_graphs) {
    FASTTAB_REQUIRE(!data_parallel_, "--cuda-graphs captures the step of one process: the all-reduce between ranks "
                    "is not captured; leave --cuda-graphs out under mpirun");
    // The whole run's schedule (3 floats a step) and the counter, written once here (and the counter again by
    // load_state): nothing goes from the host to the device inside a step.
    const std::int64_t steps = loader_->batches_per_epoch() * config.epochs;
    step_counter_ = BackendBuffer<std::uint32_t>(backend, 1, "step counter");
    schedule_ = BackendBuffer<float>(backend, std::size_t(steps) * 3, "learning-rate schedule");
    std::vector<float> values(schedule_.size());
    optimizer_.schedule_values(1, steps, steps, values.data());
    backend.copy_to_backend(schedule_.data(), values.data(), schedule_.bytes());
    write_step_counter(0);
    step_loss_ = BackendBuffer<float>(backend, 1, "step loss");
    if (!loader_->reuses_batch_buffer()) {
      const int ld = std::max(train_.ld, padded_width(config.model.inputs));
      step_features_ = BackendBuffer<float>(backend, std::size_t(batch_rows_) * ld, "captured step batch");
      step_labels_ = BackendBuffer<float>(backend, std::size_t(batch_rows_), "captured step batch");
    }
  }
}

// The tables go to backend memory once. Host-side loaders (per-sample, slice) read the host table instead of a
// resident one; with --standardize or a regression target's transform they get a copy of the training rows to
// change, since `data` is not ours.
void TrainingRun::upload_and_standardize(const Dataset& data) {
  // The shard's first row in data.train: a partial load (Dataset::partial) holds the shard from its first row.
  const std::int64_t first = shard_begin_ - (data.partial() ? data.shard_begin : 0);
  if (data.partial()) {
    FASTTAB_REQUIRE(sharded_ && first >= 0 && first + train_rows_ <= data.train.rows - config_.val_rows,
                    "the loaded rows [", data.shard_begin, ", ", data.shard_begin + data.train.rows - config_.val_rows,
                    ") of the training rows do not hold rank ", comm_.rank(), "'s shard [", shard_begin_, ", ",
                    shard_begin_ + train_rows_, ")");
    FASTTAB_REQUIRE(!config_.standardize && (config_.task != Task::regression ||
                                              (!config_.standardize_target && !config_.log_target)),
                    "a partial load cannot standardise: the statistics need every training row");
  }
  const std::int64_t all_train_rows = data.train.rows - config_.val_rows;
  if (data.has_views()) {
    view_tables(data);
  } else {
    if (loader_needs_device_table(config_.loader))
      train_ = upload_rows(backend_, data.train, first, first + train_rows_, "training table");
    test_ = upload_table(backend_, data.test, "test table");
    if (config_.val_rows > 0)
      validation_ = upload_rows(backend_, data.train, all_train_rows, data.train.rows, "validation table");
  }
  host_train_ = &data.train;
  // The target's statistics: of all the training rows (not the validation rows), on the host, the same on every rank.
  target_ = compute_target_transform(config_.task, config_.standardize_target, config_.log_target, data.train,
                                     all_train_rows, data.source + " (training rows)", data.test,
                                     data.source + " (test rows)");
  const bool host_copy = loader_needs_host_table(config_.loader) && (config_.standardize || !target_.identity());
  if (sharded_ && loader_needs_host_table(config_.loader)) {
    standardized_host_train_ = slice_rows(data.train, first, first + train_rows_);
    host_train_ = &standardized_host_train_;
  } else if (host_copy) {
    standardized_host_train_ = slice_rows(data.train, 0, train_rows_);
    host_train_ = &standardized_host_train_;
  }
  if (host_copy) apply_target_transform(target_, standardized_host_train_);
  if (train_.rows > 0) apply_target_transform(backend_, target_, train_);
  apply_target_transform(backend_, target_, test_);
  if (validation_.rows > 0) apply_target_transform(backend_, target_, validation_);
  if (!config_.standardize) return;
  // The statistics of the training rows: on the backend from the resident table, else from the host table; sharded,
  // of all the training rows on the host, the same on every rank.
  standardization_ = sharded_ ? compute_standardization(data.train, all_train_rows)
                     : train_.rows > 0 ? compute_standardization(backend_, train_)
                                       : compute_standardization(data.train, train_rows_);
  keep_category_codes();
  // The caller's arrays stay as they are: standardisation changes a copy in backend memory.
  make_features_writable(backend_, train_, "standardised training rows");
  make_features_writable(backend_, test_, "standardised test rows");
  make_features_writable(backend_, validation_, "standardised validation rows");
  if (train_.rows > 0) apply_standardization(backend_, standardization_, train_);
  if (host_copy) apply_standardization(standardization_, standardized_host_train_);
  apply_standardization(backend_, standardization_, test_);
  if (validation_.rows > 0) apply_standardization(backend_, standardization_, validation_);
}

// The caller's arrays (Dataset::train_features, test_features), read in place where the backend can read them.
void TrainingRun::view_tables(const Dataset& data) {
  FASTTAB_REQUIRE(data.train_features.set() && data.test_features.set() &&
                      data.train_features.rows == data.train.rows && data.test_features.rows == data.test.rows,
                  "internal: a dataset with arrays in place needs both views, of its tables' row counts");
  FASTTAB_REQUIRE(loader_needs_device_table(config_.loader) && !sharded_ && !data.partial(),
                  "arrays passed in place are read by the resident loaders of one process (gather), not by --loader ",
                  config_.loader, (sharded_ ? " or sharded" : ""));
  const std::int64_t all_train_rows = data.train.rows - config_.val_rows;
  train_ = view_rows(backend_, data.train_features, data.train.labels, 0, train_rows_, "training rows");
  test_ = view_rows(backend_, data.test_features, data.test.labels, 0, data.test.rows, "test rows");
  if (config_.val_rows > 0)
    validation_ = view_rows(backend_, data.train_features, data.train.labels, all_train_rows, data.train.rows,
                            "validation rows");
}

// Category codes are row indices of embedding tables: standardisation leaves them as they are ((x - 0) * 1).
void TrainingRun::keep_category_codes() {
  for (const EmbeddingSpec& e : config_.model.embeddings) {
    standardization_.mean[std::size_t(e.column)] = 0.0f;
    standardization_.inv_std[std::size_t(e.column)] = 1.0f;
  }
}

// Rank r's rows: every row belongs to exactly one rank, for any row count (a batch size that N does not divide,
// the short last batch); a rank may get none. Each slice starts on a multiple of 4 rows, so that its first dropout
// index, first_row * width, is a multiple of 4 for every layer width (the CUDA kernels draw four at a time).
RowSlice rank_slice(std::int64_t rows, int rank, int ranks) {
  const auto start = [&](int r) { return r >= ranks ? rows : rows * r / ranks / 4 * 4; };
  return {start(rank), start(rank + 1)};
}

// The training step: forward, loss, backward, update. Enqueues only (the gradients' all-reduce aside).
// Without a communicator (the single-rank one): the whole batch, as always. N ranks (and one rank of MPI or NCCL,
// whose slice is the whole batch and whose all-reduce is a copy: the same bits): this rank's slice, its dropout masks those of the same rows of
// the global batch (first_row), its mean-loss gradient scaled by rows/batch so that the sum across ranks is the
// gradient of the whole batch's mean loss.
// Forward, loss and its gradient, backward over rows [x, x + rows): the batch mean loss into loss_slot and the
// gradients of that mean into Mlp::gradients(). Enqueues only.
void TrainingRun::forward_backward(const float* x, int ld, int rows, const float* labels, DropoutKey key,
                                   float* loss_slot) {
  const int width = config_.model.outputs;
  const float* outputs = mlp_.forward(x, ld, rows, /*training=*/true, key);
  backend_.loss_forward_backward(config_.task, outputs, rows, width, width, labels, grad_outputs_.data(), loss_slot);
  mlp_.backward(x, ld, rows, grad_outputs_.data(), key);
}

void TrainingRun::training_step(const Batch& batch, std::int64_t step, float* loss_slot) {
  if (config_.cuda_graphs) return captured_step(batch, step, loss_slot);
  DropoutKey key{config_.seed, static_cast<std::uint32_t>(step), 0};
  const std::size_t count = mlp_.parameter_count();
  if (!data_parallel_) {
    forward_backward(batch.features, batch.ld, batch.rows, batch.labels, key, loss_slot);
  } else if (sharded_) {  // the batch is this rank's own; all ranks' batches have the same number of rows
    key.first_row = static_cast<std::uint64_t>(comm_.rank()) * ((batch_rows_ + 3) / 4 * 4);  // masks of their own
    forward_backward(batch.features, batch.ld, batch.rows, batch.labels, key, loss_slot);
    const float share = 1.0f / float(comm_.size());
    backend_.scale(loss_slot, share, 1);
    backend_.scale(mlp_.gradients(), share, count);
  } else {  // replicated: this rank's slice of the global batch, its share of the mean
    const RowSlice slice = rank_slice(batch.rows, comm_.rank(), comm_.size());
    const int rows = static_cast<int>(slice.end - slice.begin);
    if (rows > 0) {
      key.first_row = static_cast<std::uint64_t>(slice.begin);
      forward_backward(batch.features + slice.begin * batch.ld, batch.ld, rows, batch.labels + slice.begin, key,
                       loss_slot);
      const float share = float(rows) / float(batch.rows);
      backend_.scale(loss_slot, share, 1);
      backend_.scale(mlp_.gradients(), share, count);
    } else {  // a short last batch with fewer rows than ranks
      backend_.fill(loss_slot, 0.0f, 1);
      backend_.fill(mlp_.gradients(), 0.0f, count);
    }
  }
  if (data_parallel_) comm_.all_reduce_sum(mlp_.gradients(), count);
  optimizer_.step(mlp_.parameters(), mlp_.gradients());
}

// --cuda-graphs: the single-process step above, recorded once per batch row count (a CUDA Graph on the GPU: one
// launch instead of one per op) and replayed. Its dropout step and its update's t, lr and bias corrections are read
// from step_counter_ and schedule_, which hold the values the step above takes by value, and it runs the same ops
// in the same order: the same bits. Outside the recorded work: a copy of the batch when the loader has no buffer of
// its own, and the copy of the loss to its slot. The first step of each row count also records it (a one-time cost,
// like cuBLAS's first calls).
void TrainingRun::captured_step(const Batch& batch, std::int64_t step, float* loss_slot) {
  FASTTAB_REQUIRE(counter_holds_ == step, "internal: the captured step counter holds step ", counter_holds_,
                  ", not ", step);
  const float* x = batch.features;
  const float* labels = batch.labels;
  if (!loader_->reuses_batch_buffer()) {
    FASTTAB_REQUIRE(std::size_t(batch.rows) * batch.ld <= step_features_.size(), "internal: a batch of ", batch.rows,
                    " rows x ", batch.ld, " floats is larger than the captured step's buffer");
    backend_.copy_within(step_features_.data(), x, std::size_t(batch.rows) * batch.ld * sizeof(float));
    backend_.copy_within(step_labels_.data(), labels, std::size_t(batch.rows) * sizeof(float));
    x = step_features_.data();
    labels = step_labels_.data();
  }
  CapturedStep& captured = captured_steps_[batch.rows];
  if (!captured.work) {
    const int rows = batch.rows, ld = batch.ld;
    DropoutKey key{config_.seed, 0, 0};
    key.step_counter = step_counter_.data();
    // Once directly first, without the update: sizes every workspace the recorded work uses.
    forward_backward(x, ld, rows, labels, key, step_loss_.data());
    const std::int64_t steps = std::int64_t(schedule_.size() / 3);
    captured.work = backend_.capture([this, x, labels, rows, ld, key, steps] {
      forward_backward(x, ld, rows, labels, key, step_loss_.data());
      optimizer_.step_from_counter(mlp_.parameters(), mlp_.gradients(), step_counter_.data(), schedule_.data(),
                                   steps);
      backend_.increment_counter(step_counter_.data());
    });
    captured.features = x;
    captured.labels = labels;
    captured.ld = ld;
  }
  FASTTAB_REQUIRE(captured.features == x && captured.labels == labels && captured.ld == batch.ld,
                  "internal: the loader's batch of ", batch.rows, " rows moved after its step was captured");
  captured.work->run();
  backend_.copy_within(loss_slot, step_loss_.data(), sizeof(float));
  optimizer_.count_step();
  counter_holds_ = step + 1;
}

// The captured step's counter: the steps done (a host copy, at construction and resume only).
void TrainingRun::write_step_counter(std::int64_t steps_done) {
  FASTTAB_REQUIRE(steps_done >= 0 && steps_done <= std::int64_t(UINT32_MAX) - 1, "--cuda-graphs: step ", steps_done,
                  " does not fit the 32-bit step counter");
  const std::uint32_t value = static_cast<std::uint32_t>(steps_done);
  backend_.copy_to_backend(step_counter_.data(), &value, sizeof value);
  counter_holds_ = steps_done;
}

// Forward passes over a resident table in batch-sized chunks into one outputs buffer, then the backend's metrics.
// Stops with the row when an output is NaN or infinite: the metrics of such outputs mean nothing.
// N ranks: each computes the outputs of its slice of the rows into a zeroed buffer, and the sum across ranks (each
// element the sum of one rank's value and zeros: exact) gives every rank all the outputs, the same bits everywhere;
// the metrics are then those of a single process on the same scores.
Metrics TrainingRun::evaluate(const DeviceTable& table, BackendBuffer<float>& outputs, const char* what,
                              std::int64_t step) {
  const int width = config_.model.outputs;
  if (!data_parallel_ && config_.cuda_graphs) {
    // --cuda-graphs: the forward passes over this table recorded after their first run (which sizes the workspaces)
    // and replayed: the same table, outputs and weights buffers every time.
    std::unique_ptr<Backend::CapturedWork>& work = captured_evaluations_[&table];
    if (work) {
      work->run();
    } else {
      mlp_.forward_rows(table.features.data(), table.ld, table.rows, outputs.data());
      work = backend_.capture([this, &table, &outputs] {
        mlp_.forward_rows(table.features.data(), table.ld, table.rows, outputs.data());
      });
    }
  } else if (!data_parallel_) {
    mlp_.forward_rows(table.features.data(), table.ld, table.rows, outputs.data());
  } else {
    const RowSlice slice = rank_slice(table.rows, comm_.rank(), comm_.size());
    backend_.fill(outputs.data(), 0.0f, std::size_t(table.rows) * width);
    mlp_.forward_rows(table.features.data() + slice.begin * table.ld, table.ld, slice.end - slice.begin,
                      outputs.data() + slice.begin * width);
    comm_.all_reduce_sum(outputs.data(), std::size_t(table.rows) * width);
  }
  const std::int64_t bad = backend_.find_nonfinite(outputs.data(), table.rows * width);
  if (bad >= 0) {
    float value = 0;
    backend_.copy_to_host(&value, outputs.data() + bad, sizeof value);
    FASTTAB_FAIL("the model's output for ", what, " row ", bad / width + 1, " is ", value, " after step ", step,
                 step == 0 ? " (the initial weights)" : "", "; training stopped. The features are too large for the "
                 "model: use --standardize, a lower --lr, or check the data for extreme values");
  }
  // The labels are target_.forward(y): the metrics come back in the trained scale (y, or log y), exactly.
  return target_.trained_scale(
      backend_.evaluate(config_.task, outputs.data(), table.rows, width, width, table.labels.data()));
}

double TrainingRun::mean_batch_loss(std::int64_t begin, std::int64_t end, std::int64_t first_step, int epoch) {
  if (end <= begin) return std::nan("");
  if (data_parallel_) {
    // Each slot holds this rank's share of its batch's mean loss: the sum over ranks is the batch's mean. Each
    // slot is summed once (the evaluations read consecutive ranges, the epoch's end all of them again).
    if (epoch != losses_epoch_) losses_epoch_ = epoch, losses_reduced_end_ = 0;
    if (end > losses_reduced_end_) {
      const std::int64_t from = std::max(begin, losses_reduced_end_);
      comm_.all_reduce_sum(batch_losses_.data() + from, std::size_t(end - from));
      losses_reduced_end_ = end;
    }
  }
  std::vector<float> host(static_cast<std::size_t>(end - begin));
  backend_.copy_to_host(host.data(), batch_losses_.data() + begin, host.size() * sizeof(float));
  double sum = 0;
  for (std::size_t i = 0; i < host.size(); ++i) {
    if (!std::isfinite(host[i]))
      FASTTAB_FAIL("the training loss became ", host[i], " at step ", first_step + begin + std::int64_t(i) + 1,
                   " (epoch ", epoch, ", batch ", begin + std::int64_t(i) + 1,
                   "); training stopped. Try a lower --lr, --standardize, or check the data for extreme values");
    sum += host[i];
  }
  return sum / double(host.size()) * (target_.std * target_.std);  // the MSE in the trained scale (1: no transform)
}

void TrainingRun::warm_up(std::int64_t step) {
  evaluate_test(step);
  const int rows = static_cast<int>(std::min<std::int64_t>(config_.batch_size, test_.rows));
  const int width = config_.model.outputs;
  const DropoutKey key{config_.seed, 0, 0};
  const float* outputs = mlp_.forward(test_.features.data(), test_.ld, rows, /*training=*/true, key);
  backend_.loss_forward_backward(config_.task, outputs, rows, width, width, test_.labels.data(), grad_outputs_.data(),
                                 batch_losses_.data());
  mlp_.backward(test_.features.data(), test_.ld, rows, grad_outputs_.data(), key);
  backend_.synchronize();
}

void TrainingRun::keep_best_parameters() {
  backend_.copy_within(best_parameters_.data(), mlp_.parameters(), best_parameters_.bytes());
}
void TrainingRun::restore_best_parameters() {
  backend_.copy_within(mlp_.parameters(), best_parameters_.data(), best_parameters_.bytes());
}

// Checkpoints hold the model the user asked for: the padding of --pad-hidden is dropped here (Mlp::download) and
// restored as zeros by load_state (Mlp::upload); it is zero in the parameters and the optimiser state alike.
void TrainingRun::save_state(TrainingState& s) {
  s.parameters = mlp_.get_parameters();
  s.optimizer_state1 = mlp_.download(optimizer_.state1().data());
  s.optimizer_state2 = mlp_.download(optimizer_.state2().data());
  s.best_parameters.clear();
  if (best_parameters_.size() > 0) s.best_parameters = mlp_.download(best_parameters_.data());
  s.standardization = standardization_;
  s.target = target_;
}

void TrainingRun::load_state(const TrainingState& s) {
  FASTTAB_REQUIRE(s.standardization.mean == standardization_.mean && s.standardization.inv_std == standardization_.inv_std,
                  "checkpoint ", config_.resume_path, " does not match this run: the standardisation statistics of "
                  "the training rows differ, so the data is not the data the checkpoint was trained on");
  FASTTAB_REQUIRE(s.target == target_, "checkpoint ", config_.resume_path, " does not match this run: its target "
                  "transform (log ", s.target.log ? "on" : "off", ", mean ", s.target.mean, ", std ", s.target.std,
                  ") is not this run's (log ", target_.log ? "on" : "off", ", mean ", target_.mean, ", std ",
                  target_.std, "); resume with the --standardize-target, --log-target and data it was saved with");
  mlp_.set_parameters(s.parameters);
  mlp_.upload(s.optimizer_state1, optimizer_.state1().data());
  mlp_.upload(s.optimizer_state2, optimizer_.state2().data());
  optimizer_.set_steps_done(s.progress.steps_done);
  if (config_.cuda_graphs) write_step_counter(s.progress.steps_done);
  if (best_parameters_.size() > 0) {
    FASTTAB_REQUIRE(s.best_parameters.size() == config_.model.parameter_count(),
                    "the checkpoint holds no best weights for early stopping");
    mlp_.upload(s.best_parameters, best_parameters_.data());
  }
}

DataShape TrainingRun::data_shape() const {
  DataShape shape;
  shape.source = source_;
  shape.split = split_;
  shape.train_rows = train_rows_;
  shape.test_rows = test_.rows;
  shape.val_rows = validation_.rows;
  shape.cols = config_.model.inputs;
  return shape;
}

}  // namespace fasttab
