// The epoch driver: the seed's loop. For each epoch: the loader's permutation, then for each batch one
// training_step, and every eval_every steps an evaluation of the test set; at the epoch's end the figures, early
// stopping's step and the checkpoint's.
#include "fasttab/trainer.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <memory>

#include "fasttab/communicator.hpp"
#include "fasttab/error.hpp"
#include "host/checkpoint/training_checkpoint.hpp"
#include "host/train/training_run.hpp"

namespace fasttab {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

class EpochDriver {
 public:
  EpochDriver(TrainingRun& run, const TrainConfig& config, TrainObserver* observer, bool writes_files)
      : run_(run), c_(config), observer_(observer), writes_files_(writes_files) {}

  // Continues the run saved at config.resume_path: its weights, optimiser state, counters and history.
  void resume() {
    TrainingState saved = load_training_checkpoint(c_.resume_path, c_, run_.data_shape());
    run_.load_state(saved);
    progress_ = std::move(saved.progress);
    if (!progress_.epochs.empty()) last_train_loss_ = progress_.epochs.back().train_loss;
  }

  // Untimed, before the clock starts (TrainingRun::warm_up).
  void warm_up() { run_.warm_up(progress_.steps_done); }

  void run_epochs() {
    start_ = Clock::now();
    for (int epoch = progress_.epochs_done + 1; epoch <= c_.epochs && !progress_.stopped_early; ++epoch) {
      const auto epoch_start = Clock::now();
      EpochRecord record = train_epoch(epoch, epoch_start);
      record.lr = run_.current_lr();
      if (run_.has_validation()) early_stopping_step(record);
      run_.wait();
      record.seconds = seconds_since(epoch_start);  // evaluations included, as the seed timed it
      record.samples_per_s = double(run_.train_rows()) / record.seconds;
      progress_.epochs.push_back(record);
      progress_.epochs_done = epoch;
      if (!c_.save_path.empty() && writes_files_) checkpoint_step();  // rank 0 only
      if (observer_) observer_->on_epoch(record);
    }
  }

  TrainResult finish();

 private:
  double elapsed() const { return progress_.elapsed_s + seconds_since(start_); }
  EpochRecord train_epoch(int epoch, Clock::time_point epoch_start);
  EvalPoint evaluation(std::int64_t losses_begin, std::int64_t losses_end, std::int64_t first_step, int epoch);
  void early_stopping_step(EpochRecord& record);
  void checkpoint_step();

  TrainingRun& run_;
  const TrainConfig& c_;
  TrainObserver* observer_;
  bool writes_files_;
  RunProgress progress_;
  double last_train_loss_ = std::nan("");
  Clock::time_point start_;
};

EpochRecord EpochDriver::train_epoch(int epoch, Clock::time_point epoch_start) {
  Loader& loader = run_.loader();
  const std::int64_t batches = loader.batches_per_epoch();
  const std::int64_t first_step = progress_.steps_done;
  std::int64_t losses_read = 0;  // batch losses of this epoch already folded into an evaluation
  loader.start_epoch(static_cast<std::uint32_t>(epoch - 1));
  EpochRecord record;
  record.epoch = epoch;
  bool evaluated_last_step = false;
  for (std::int64_t b = 0; b < batches; ++b) {
    run_.training_step(loader.next_batch(), progress_.steps_done, run_.batch_loss_slot(b));
    ++progress_.steps_done;
    if (observer_) observer_->on_batch(epoch, b + 1, batches, seconds_since(epoch_start), last_train_loss_);
    evaluated_last_step = c_.eval_every > 0 && progress_.steps_done % c_.eval_every == 0;
    if (evaluated_last_step) {
      record.test = evaluation(losses_read, b + 1, first_step, epoch).test;
      losses_read = b + 1;
    }
  }
  if (!evaluated_last_step) record.test = evaluation(losses_read, batches, first_step, epoch).test;
  record.train_loss = run_.mean_batch_loss(0, batches, first_step, epoch);
  last_train_loss_ = record.train_loss;
  FASTTAB_REQUIRE(std::isfinite(record.test.loss), "the test loss became ", record.test.loss, " after epoch ", epoch,
                  " (step ", progress_.steps_done, "); training stopped. Try a lower --lr or --standardize");
  return record;
}

// A point of the test curve: the mean batch loss since the previous point, and the test metrics now.
EvalPoint EpochDriver::evaluation(std::int64_t losses_begin, std::int64_t losses_end, std::int64_t first_step,
                                  int epoch) {
  EvalPoint point;
  point.step = progress_.steps_done;
  point.train_loss = run_.mean_batch_loss(losses_begin, losses_end, first_step, epoch);
  point.test = run_.evaluate_test(progress_.steps_done);
  point.seconds = elapsed();
  if (std::isfinite(point.train_loss)) last_train_loss_ = point.train_loss;
  progress_.evals.push_back(point);
  if (observer_) observer_->on_eval(point);
  return point;
}

// The best validation loss so far keeps its weights; `patience` epochs without a better one stop the run.
void EpochDriver::early_stopping_step(EpochRecord& record) {
  record.validation = run_.evaluate_validation(progress_.steps_done);
  if (record.validation.loss < progress_.best_val_loss) {
    progress_.best_val_loss = record.validation.loss;
    progress_.best_epoch = record.epoch;
    progress_.epochs_without_improvement = 0;
    run_.keep_best_parameters();
  } else if (c_.patience > 0 && ++progress_.epochs_without_improvement >= c_.patience) {
    progress_.stopped_early = true;
  }
}

// Every value the next epoch depends on, copied to the host and written atomically.
void EpochDriver::checkpoint_step() {
  TrainingState state;
  state.progress = progress_;
  state.progress.elapsed_s = elapsed();
  run_.save_state(state);
  save_training_checkpoint(c_.save_path, c_, run_.data_shape(), state);
}

TrainResult EpochDriver::finish() {
  FASTTAB_REQUIRE(!progress_.epochs.empty(), "no epoch was trained");
  TrainResult result;
  result.final_test = progress_.epochs.back().test;
  if (run_.has_validation() && progress_.best_epoch > 0) {
    // Keep the best weights: restore them and evaluate the test set with them.
    run_.restore_best_parameters();
    result.final_test = run_.evaluate_test(progress_.steps_done);
  }
  result.loader = c_.loader;
  result.train_rows = run_.train_rows();
  result.train_features = run_.train_features();
  result.test_rows = run_.test_rows();
  result.val_rows = run_.validation_rows();
  result.steps = progress_.steps_done;
  result.stopped_early = progress_.stopped_early;
  result.best_epoch = progress_.best_epoch;
  double total = 0;
  for (const auto& e : progress_.epochs) total += e.seconds;
  result.s_per_epoch = total / double(progress_.epochs.size());
  result.epochs = std::move(progress_.epochs);
  result.evals = std::move(progress_.evals);
  result.standardization = run_.standardization();
  result.target = run_.target();
  result.parameters = run_.parameters();
  return result;
}

}  // namespace

TrainResult train(Backend& backend, const TrainConfig& config, const Dataset& data, TrainObserver* observer,
                  Communicator* communicator) {
  std::unique_ptr<Communicator> single;
  if (!communicator) single = make_single_communicator();
  Communicator& comm = communicator ? *communicator : *single;
  const TrainConfig c = resolve_config(backend, config, data, comm.size(), &comm);
  TrainingRun run(backend, c, data, comm);
  EpochDriver driver(run, c, observer, comm.rank() == 0);
  if (!c.resume_path.empty()) driver.resume();
  driver.warm_up();
  driver.run_epochs();
  TrainResult result = driver.finish();
  result.backend = backend.kind();
  result.device = backend.device_name();
  result.gemm_plans = backend.gemm_plans();
  return result;
}

}  // namespace fasttab
