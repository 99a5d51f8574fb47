#include "fasttab/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "fasttab/checkpoint.hpp"
#include "fasttab/error.hpp"
#include "fasttab/loader.hpp"

namespace fasttab {

void TrainConfig::validate() const {
  FASTTAB_REQUIRE(epochs >= 1 && epochs <= 1'000'000, "--epochs ", epochs, " is not in [1, 1000000]");
  FASTTAB_REQUIRE(batch_size >= 1 && batch_size <= (1 << 24), "--batch-size ", batch_size, " is not in [1, 16777216]");
  FASTTAB_REQUIRE(eval_every >= 0, "--eval-every ", eval_every, " must be >= 0 (0 = only at the end of each epoch)");
  FASTTAB_REQUIRE(val_rows >= 0, "--val-rows ", val_rows, " must be >= 0");
  FASTTAB_REQUIRE(patience >= 0, "--patience ", patience, " must be >= 0");
  FASTTAB_REQUIRE(patience == 0 || val_rows > 0, "--patience needs a validation split: set --val-rows");
  FASTTAB_REQUIRE(task != Task::multiclass || classes == 0 || classes >= 2, "--classes ", classes, " must be >= 2");
  {
    const std::vector<std::string> names = loader_names();
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    FASTTAB_REQUIRE(std::find(names.begin(), names.end(), loader) != names.end(), "--loader: unknown loader '", loader,
                    "'; the loaders are: ", list);
  }
  if (!save_path.empty()) {
    // Refused before training rather than at the end of the first epoch.
    const std::filesystem::path dir = std::filesystem::absolute(save_path).parent_path();
    FASTTAB_REQUIRE(std::filesystem::is_directory(dir), "--save ", save_path, ": the directory ", dir.string(),
                    " does not exist");
  }
  model.validate();
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Forward passes over a resident table in batch-sized chunks into one outputs buffer, then the backend's
// metrics (one wait for the device, at the end).
// Stops with the row when an output is NaN or infinite: the metrics of such outputs mean nothing.
Metrics evaluate_table(Backend& backend, Mlp& mlp, Task task, const DeviceTable& table, BackendBuffer<float>& outputs,
                       const char* what, std::int64_t step) {
  mlp.forward_rows(table.features.data(), table.ld, table.rows, outputs.data());
  const int width = mlp.spec().outputs;
  const std::int64_t bad = backend.find_nonfinite(outputs.data(), table.rows * width);
  if (bad >= 0) {
    float value = 0;
    backend.copy_to_host(&value, outputs.data() + bad, sizeof value);
    FASTTAB_FAIL("the model's output for ", what, " row ", bad / width + 1, " is ", value, " after step ", step,
                 step == 0 ? " (the initial weights)" : "", "; training stopped. The features are too large for the "
                 "model: use --standardize, a lower --lr, or check the data for extreme values");
  }
  return backend.evaluate(task, outputs.data(), table.rows, width, width, table.labels.data());
}

// Bytes of backend memory the run allocates: the resident tables, the model (parameters, gradients, activations),
// the optimiser state, the batch buffers and the evaluation outputs. Checked against the free memory before any
// allocation, so that an oversized --hidden or --batch-size is refused with a message instead of thrashing.
double bytes_needed(const TrainConfig& c, const Dataset& d, std::int64_t val_rows) {
  const double f = sizeof(float);
  const double params = double(c.model.parameter_count());
  const int width = c.model.outputs;
  double activations = 0;
  for (int l = 0; l < c.model.layers(); ++l) activations += c.model.out_width(l);
  const double cols = d.train.cols + 1;  // features and the label
  double bytes = 0;
  if (loader_needs_device_table(c.loader)) bytes += double(d.train.rows) * cols * f;
  bytes += double(d.test.rows) * cols * f;
  const double optimizer_state = 2;  // two state vectors for every optimiser (zeros where unused)
  bytes += params * f * (2 + optimizer_state + (val_rows > 0 ? 1 : 0));                       // + best weights
  bytes += double(c.batch_size) * f * (activations + 2.0 * c.model.max_width() + width);      // passes, gradients
  bytes += double(c.batch_size) * f * 2 * (cols + 1);                                         // batch buffers
  bytes += double(d.test.rows + val_rows) * width * f;                                        // evaluation outputs
  bytes += double(d.train.rows) * 4;                                                           // permutation, losses
  return bytes;
}

// Binary task: a split holding one class has no AUC. Said once, before training.
void warn_single_class(Task task, const Table& t, const char* what, const std::string& where) {
  if (task != Task::binary || t.rows == 0) return;
  const float first = t.labels[0];
  for (std::int64_t r = 1; r < t.rows; ++r)
    if (t.labels[std::size_t(r)] != first) return;
  std::fprintf(stderr, "warning: the %s (%s) holds only class %g: its AUC is undefined (nan); shuffle the file "
               "or choose other rows (--test-rows, --val-rows)\n", what, where.c_str(), double(first));
}

// Mean of batch losses [begin, end) of the epoch, read from the device; throws at the first NaN with its step.
double mean_batch_loss(Backend& backend, const BackendBuffer<float>& losses, std::int64_t begin, std::int64_t end,
                       std::int64_t first_step_of_epoch, int epoch) {
  if (end <= begin) return std::nan("");
  std::vector<float> host(static_cast<std::size_t>(end - begin));
  backend.copy_to_host(host.data(), losses.data() + begin, host.size() * sizeof(float));
  double sum = 0;
  for (std::size_t i = 0; i < host.size(); ++i) {
    if (!std::isfinite(host[i]))
      FASTTAB_FAIL("the training loss became ", host[i], " at step ", first_step_of_epoch + begin + std::int64_t(i) + 1,
                   " (epoch ", epoch, ", batch ", begin + std::int64_t(i) + 1,
                   "); training stopped. Try a lower --lr, --standardize, or check the data for extreme values");
    sum += host[i];
  }
  return sum / double(host.size());
}

}  // namespace

TrainResult train(Backend& backend, const TrainConfig& config, Dataset& dataset, TrainObserver* observer) {
  config.validate();
  TrainConfig c = config;
  const int classes = validate_labels(c.task, c.classes, dataset.train, dataset.source + " (training rows)");
  validate_labels(c.task, classes, dataset.test, dataset.source + " (test rows)");
  c.model.inputs = dataset.train.cols;
  c.model.outputs = c.task == Task::multiclass ? classes : 1;
  c.model.validate();

  // Early stopping's validation rows come from the end of the training rows.
  Table validation;
  if (c.val_rows > 0) {
    FASTTAB_REQUIRE(c.val_rows + c.batch_size <= dataset.train.rows, "--val-rows ", c.val_rows,
                    " leaves fewer than one batch (", c.batch_size, ") of the ", dataset.train.rows, " training rows");
    validation = slice_rows(dataset.train, dataset.train.rows - c.val_rows, dataset.train.rows);
    dataset.train = slice_rows(dataset.train, 0, dataset.train.rows - c.val_rows);
  }
  FASTTAB_REQUIRE(dataset.train.rows >= c.batch_size, "the training set has ", dataset.train.rows,
                  " rows, fewer than one batch of ", c.batch_size, "; lower --batch-size or ",
                  dataset.synthetic ? "use more --rows" : "use a larger table or a smaller --test-rows/--val-rows");

  warn_single_class(c.task, dataset.test, "test set", "its last " + std::to_string(dataset.test.rows) + " rows");
  warn_single_class(c.task, validation, "validation set", "the last " + std::to_string(validation.rows) +
                    " training rows");
  {
    const double needed = bytes_needed(c, dataset, validation.rows);
    const double free = double(backend.free_bytes());
    FASTTAB_REQUIRE(needed <= free, "the model and its buffers need ", std::int64_t(needed), " bytes of ",
                    backend.kind(), " memory but only ", std::int64_t(free), " are available; use smaller --hidden "
                    "or --batch-size");
  }

  backend.set_precision(c.precision);
  TrainResult result;
  result.backend = backend.kind();
  result.device = backend.device_name();
  result.loader = c.loader;
  result.train_rows = dataset.train.rows;
  result.test_rows = dataset.test.rows;
  result.val_rows = validation.rows;

  // The tables go to backend memory once.
  DeviceTable train_table;
  if (loader_needs_device_table(c.loader)) train_table = upload_table(backend, dataset.train, "training table");
  DeviceTable test_table = upload_table(backend, dataset.test, "test table");
  DeviceTable val_table;
  if (validation.rows > 0) val_table = upload_table(backend, validation, "validation table");

  if (c.standardize) {
    // Host-side loaders keep the training table out of backend memory: its moments come from the host.
    const Standardization s = train_table.rows > 0 ? compute_standardization(backend, train_table)
                                                   : compute_standardization(dataset.train);
    if (train_table.rows > 0) apply_standardization(backend, s, train_table);
    if (loader_needs_host_table(c.loader)) apply_standardization(s, dataset.train);
    apply_standardization(backend, s, test_table);
    if (val_table.rows > 0) apply_standardization(backend, s, val_table);
    result.standardization = s;
  }

  LoaderSource source;
  source.backend = &backend;
  source.host_table = &dataset.train;
  source.device_table = train_table.rows > 0 ? &train_table : nullptr;
  source.batch_size = c.batch_size;
  source.shuffle = c.shuffle;
  source.seed = c.seed;
  std::unique_ptr<Loader> loader = make_loader(c.loader, source);
  const std::int64_t batches = loader->batches_per_epoch();

  Mlp mlp(backend, c.model, c.batch_size);
  mlp.set_parameters(initial_parameters(c.model, c.seed));
  Optimizer optimizer(backend, c.optimizer, c.schedule, c.model.parameter_count(), batches * c.epochs);
  const int width = c.model.outputs;
  BackendBuffer<float> grad_outputs(backend, std::size_t(c.batch_size) * width, "output gradients");
  BackendBuffer<float> batch_losses(backend, std::size_t(batches), "batch losses");
  BackendBuffer<float> test_outputs(backend, std::size_t(test_table.rows) * width, "test outputs");
  BackendBuffer<float> val_outputs, best_parameters;
  if (val_table.rows > 0) {
    val_outputs = BackendBuffer<float>(backend, std::size_t(val_table.rows) * width, "validation outputs");
    best_parameters = BackendBuffer<float>(backend, c.model.parameter_count(), "best parameters");
  }

  std::int64_t step = 0;
  double best_val_loss = std::numeric_limits<double>::infinity();
  int epochs_without_improvement = 0;
  double last_train_loss = std::nan("");
  int first_epoch = 1;
  double earlier_seconds = 0;  // training time of the run before a resume, so that time axes continue

  DataShape shape;
  shape.source = dataset.source;
  shape.train_rows = dataset.train.rows;
  shape.test_rows = dataset.test.rows;
  shape.val_rows = validation.rows;
  shape.cols = dataset.train.cols;
  if (!c.resume_path.empty()) {
    TrainingState saved = load_training_checkpoint(c.resume_path, c, shape);
    FASTTAB_REQUIRE(saved.standardization.mean == result.standardization.mean &&
                        saved.standardization.inv_std == result.standardization.inv_std,
                    "checkpoint ", c.resume_path, " does not match this run: the standardisation statistics of the "
                    "training rows differ, so the data is not the data the checkpoint was trained on");
    copy_state_to_backend(backend, saved, mlp, optimizer, best_parameters);
    step = saved.steps_done;
    first_epoch = saved.epochs_done + 1;
    best_val_loss = saved.best_val_loss;
    epochs_without_improvement = saved.epochs_without_improvement;
    result.best_epoch = saved.best_epoch;
    result.stopped_early = saved.stopped_early;
    result.epochs = std::move(saved.epochs);
    result.evals = std::move(saved.evals);
    earlier_seconds = saved.elapsed_s;
    if (!result.epochs.empty()) last_train_loss = result.epochs.back().train_loss;
    if (result.stopped_early) first_epoch = c.epochs + 1;  // early stopping ended that run: nothing left to do
  }
  // At an epoch end: every value the next epoch depends on, copied to the host and written atomically.
  auto save_checkpoint = [&](int epochs_done, double elapsed_s) {
    TrainingState s;
    s.epochs_done = epochs_done;
    s.steps_done = step;
    s.best_epoch = result.best_epoch;
    s.best_val_loss = best_val_loss;
    s.epochs_without_improvement = epochs_without_improvement;
    s.stopped_early = result.stopped_early;
    s.elapsed_s = elapsed_s;
    copy_state_to_host(backend, mlp, optimizer, best_parameters, s);
    s.standardization = result.standardization;
    s.epochs = result.epochs;
    s.evals = result.evals;
    save_training_checkpoint(c.save_path, c, shape, s);
  };
  // Untimed warm-up before the clock starts: one evaluation and one forward and backward pass on the first rows,
  // with no optimiser update. It changes nothing the run depends on (the gradients are overwritten by the first
  // step; the random streams are counters), and it takes the one-time costs (the sort's workspace, cuBLAS's first
  // calls for each shape) out of the first epoch's time.
  evaluate_table(backend, mlp, c.task, test_table, test_outputs, "test", step);
  {
    const int rows = static_cast<int>(std::min<std::int64_t>(c.batch_size, test_table.rows));
    const float* outputs = mlp.forward(test_table.features.data(), test_table.ld, rows, true, DropoutKey{c.seed, 0, 0});
    backend.loss_forward_backward(c.task, outputs, rows, width, width, test_table.labels.data(), grad_outputs.data(),
                                  batch_losses.data());
    mlp.backward(test_table.features.data(), test_table.ld, rows, grad_outputs.data(), DropoutKey{c.seed, 0, 0});
    backend.synchronize();
  }
  const auto start = Clock::now();
  auto elapsed = [&] { return earlier_seconds + seconds_since(start); };

  for (int epoch = first_epoch; epoch <= c.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    const std::int64_t first_step = step;
    std::int64_t losses_read = 0;  // batch losses of this epoch already folded into an evaluation
    EvalPoint last_eval;
    bool eval_at_last_step = false;
    loader->start_epoch(static_cast<std::uint32_t>(epoch - 1));

    for (std::int64_t b = 0; b < batches; ++b) {
      // ---- the training step: enqueue only ----
      const Batch batch = loader->next_batch();
      const DropoutKey key{c.seed, static_cast<std::uint32_t>(step), 0};
      const float* outputs = mlp.forward(batch.features, batch.ld, batch.rows, true, key);
      backend.loss_forward_backward(c.task, outputs, batch.rows, width, width, batch.labels, grad_outputs.data(),
                                    batch_losses.data() + b);
      mlp.backward(batch.features, batch.ld, batch.rows, grad_outputs.data(), key);
      optimizer.step(mlp.parameters(), mlp.gradients());
      ++step;
      // ---- figures the user asked for ----
      if (observer) observer->on_batch(epoch, b + 1, batches, seconds_since(epoch_start), last_train_loss);
      eval_at_last_step = false;
      if (c.eval_every > 0 && step % c.eval_every == 0) {
        last_eval.step = step;
        last_eval.train_loss = mean_batch_loss(backend, batch_losses, losses_read, b + 1, first_step, epoch);
        losses_read = b + 1;
        last_eval.test = evaluate_table(backend, mlp, c.task, test_table, test_outputs, "test", step);
        last_eval.seconds = elapsed();
        last_train_loss = last_eval.train_loss;
        result.evals.push_back(last_eval);
        if (observer) observer->on_eval(last_eval);
        eval_at_last_step = true;
      }
    }

    EpochRecord record;
    record.epoch = epoch;
    record.train_loss = mean_batch_loss(backend, batch_losses, 0, batches, first_step, epoch);
    last_train_loss = record.train_loss;
    if (eval_at_last_step) {
      record.test = last_eval.test;
    } else {
      record.test = evaluate_table(backend, mlp, c.task, test_table, test_outputs, "test", step);
      EvalPoint point;
      point.step = step;
      point.train_loss = mean_batch_loss(backend, batch_losses, losses_read, batches, first_step, epoch);
      point.test = record.test;
      point.seconds = elapsed();
      result.evals.push_back(point);
      if (observer) observer->on_eval(point);
    }
    FASTTAB_REQUIRE(std::isfinite(record.test.loss), "the test loss became ", record.test.loss, " after epoch ", epoch,
                    " (step ", step, "); training stopped. Try a lower --lr or --standardize");
    record.lr = optimizer.current_lr();
    bool stop = false;
    if (val_table.rows > 0) {
      record.validation = evaluate_table(backend, mlp, c.task, val_table, val_outputs, "validation", step);
      if (record.validation.loss < best_val_loss) {
        best_val_loss = record.validation.loss;
        result.best_epoch = epoch;
        epochs_without_improvement = 0;
        backend.copy_within(best_parameters.data(), mlp.parameters(), best_parameters.bytes());
      } else if (c.patience > 0 && ++epochs_without_improvement >= c.patience) {
        stop = true;
      }
    }
    backend.synchronize();
    record.seconds = seconds_since(epoch_start);
    record.samples_per_s = double(dataset.train.rows) / record.seconds;
    result.epochs.push_back(record);
    if (stop) result.stopped_early = true;
    if (!c.save_path.empty()) save_checkpoint(epoch, elapsed());
    if (observer) observer->on_epoch(record);
    if (stop) break;
  }

  result.steps = step;
  FASTTAB_REQUIRE(!result.epochs.empty(), "no epoch was trained");
  if (val_table.rows > 0 && result.best_epoch > 0) {
    // Keep the best weights: restore them and evaluate the test set with them.
    backend.copy_within(mlp.parameters(), best_parameters.data(), best_parameters.bytes());
    result.final_test = evaluate_table(backend, mlp, c.task, test_table, test_outputs, "test", step);
  } else {
    result.final_test = result.epochs.back().test;
  }
  double total = 0;
  for (const auto& e : result.epochs) total += e.seconds;
  result.s_per_epoch = total / double(result.epochs.size());
  result.parameters = mlp.get_parameters();
  return result;
}

}  // namespace fasttab
