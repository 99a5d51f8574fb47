// build/train: train the MLP on a table (or the built-in synthetic data) and report s/epoch and test metrics.
// With no arguments on a GPU it runs the seed's reference workload: 10.5M training rows, 500k test rows,
// 21-300-300-300-300-1 tanh MLP, dropout 0.5, Adam 1e-3, batch 16384, 10 epochs, evaluation every 100 steps.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "fasttab/checkpoint.hpp"
#include "fasttab/communicator.hpp"
#include "host/io/crc32c.hpp"
#include "host/train/training_run.hpp"
#include "tools/report/plot.hpp"
#include "fasttab/predictor.hpp"
#include "tools/report/progress.hpp"
#include "tools/report/tensorboard.hpp"
#include "tools/cli_common.hpp"

namespace {

using namespace fasttab;

// Regression under --log-target: the metrics are those of log(y), the scale the model was trained on.
const char* metric_name(const TrainConfig& c) {
  if (c.task == Task::regression) return c.log_target ? "R^2 (log y)" : "R^2";
  return c.task == Task::binary ? "AUC" : "accuracy";
}
double headline(Task task, const Metrics& m) {
  return task == Task::binary ? m.auc : task == Task::multiclass ? m.accuracy : m.r2;
}

const char* metric_tag(Task task) { return task == Task::binary ? "auc" : task == Task::multiclass ? "accuracy" : "r2"; }

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The progress bar on a terminal (plain per-epoch lines elsewhere) and, with --log-dir, TensorBoard scalars at
// every evaluation and epoch end.
class ConsoleObserver final : public TrainObserver {
 public:
  ConsoleObserver(const TrainConfig& c, std::int64_t train_rows, const std::string& log_dir)
      : config_(c), train_rows_(train_rows), bar_(stdout) {
    if (!log_dir.empty()) {
      board_ = std::make_unique<TensorBoardWriter>(log_dir);
      std::printf("TensorBoard events: %s\n", board_->path().c_str());
    }
  }
  void on_eval(const EvalPoint& p) override {
    last_step_ = p.step;
    if (!board_) return;
    const double now = unix_seconds();
    if (std::isfinite(p.train_loss)) board_->add_scalar("train/loss", float(p.train_loss), p.step, now);
    board_->add_scalar("test/loss", float(p.test.loss), p.step, now);
    board_->add_scalar(std::string("test/") + metric_tag(config_.task), float(headline(config_.task, p.test)), p.step, now);
  }
  void on_batch(int epoch, std::int64_t batch, std::int64_t batches, double seconds, double loss) override {
    if (!bar_.interactive()) return;
    const double rows_done = double(batch) * config_.batch_size;
    const double rate = seconds > 0 ? rows_done / seconds : 0;
    const double eta = rate > 0 ? (double(train_rows_) - rows_done) / rate : std::nan("");
    bar_.update(epoch, config_.epochs, batch, batches, rate, eta, loss);
  }
  void on_epoch(const EpochRecord& e) override {
    char line[256];
    std::snprintf(line, sizeof line, "epoch %3d  %8.3f s  %12.0f samples/s  train loss %.5f  test loss %.5f  test %s %.5f",
                  e.epoch, e.seconds, e.samples_per_s, e.train_loss, e.test.loss, metric_name(config_),
                  headline(config_.task, e.test));
    std::string text = line;
    if (e.validation.rows > 0) {
      std::snprintf(line, sizeof line, "  val loss %.5f", e.validation.loss);
      text += line;
    }
    bar_.finish_epoch(text);
    std::fflush(stdout);
    if (board_) {
      const double now = unix_seconds();
      board_->add_scalar("epoch/train_loss", float(e.train_loss), last_step_, now);
      board_->add_scalar("epoch/test_loss", float(e.test.loss), last_step_, now);
      board_->add_scalar(std::string("epoch/test_") + metric_tag(config_.task), float(headline(config_.task, e.test)),
                         last_step_, now);
      board_->add_scalar("lr", float(e.lr), last_step_, now);
      board_->add_scalar("samples_per_s", float(e.samples_per_s), last_step_, now);
      if (e.validation.rows > 0) board_->add_scalar("validation/loss", float(e.validation.loss), last_step_, now);
      board_->flush();
    }
  }

 private:
  const TrainConfig& config_;
  std::int64_t train_rows_;
  ProgressBar bar_;
  std::unique_ptr<TensorBoardWriter> board_;
  std::int64_t last_step_ = 0;
};

// --plot: test metric and loss against wall-clock time, one curve for the run (resumed runs continue the axis).
void write_plot(const std::string& path, const TrainConfig& c, const Dataset& d, const TrainResult& r) {
  PlotCurve curve;
  curve.label = "run";
  for (const EvalPoint& p : r.evals) {
    curve.seconds.push_back(p.seconds);
    curve.metric.push_back(headline(c.task, p.test));
    curve.loss.push_back(p.test.loss);
  }
  write_svg_plot(path, "fasttab train: " + d.source + " on " + r.device, std::string("test ") + metric_name(c),
                 {curve});
}

nlohmann::json result_json(const TrainConfig& c, const Dataset& d, const TrainResult& r) {
  nlohmann::json j;
  j["device"] = r.device;
  j["backend"] = r.backend;
  j["loader"] = r.loader;
  j["date"] = cli::today();
  j["data"] = d.source;
  j["task"] = name_of(c.task);
  j["train_rows"] = r.train_rows;
  j["test_rows"] = r.test_rows;
  j["val_rows"] = r.val_rows;
  j["batch_size"] = c.batch_size;
  j["steps"] = r.steps;
  j["optimizer"] = name_of(c.optimizer.kind);
  j["lr"] = c.optimizer.lr;
  j["lr_schedule"] = name_of(c.schedule.kind);
  j["precision"] = name_of(c.precision);
  j["gemm"] = name_of(c.gemm);
  j["fused_mlp"] = c.fused_mlp;
  if (!r.gemm_plans.empty()) j["gemm_plans"] = cli::gemm_plans_json(r.gemm_plans);
  // How the step ran (the same results bit for bit either way, except pad_hidden's order of sums).
  j["cuda_graphs"] = c.cuda_graphs;
  j["pad_hidden"] = c.pad_hidden;
  j["overlap_weight_gradients"] = c.overlap_weight_gradients;
  j["shuffle"] = c.shuffle;
  j["seed"] = c.seed;
  j["epochs_requested"] = c.epochs;
  if (!c.save_path.empty()) j["checkpoint"] = c.save_path;
  if (!c.resume_path.empty()) j["resumed_from"] = c.resume_path;
  nlohmann::json epochs = nlohmann::json::array();
  for (const auto& e : r.epochs) {
    nlohmann::json je{{"epoch", e.epoch}, {"seconds", e.seconds}, {"samples_per_s", e.samples_per_s},
                      {"train_loss", e.train_loss}, {"test_loss", e.test.loss}, {"lr", e.lr}};
    je["test_auc"] = std::isfinite(e.test.auc) ? nlohmann::json(e.test.auc) : nlohmann::json(nullptr);
    je["test"] = cli::metrics_json(e.test);
    if (e.validation.rows > 0) je["validation"] = cli::metrics_json(e.validation);
    epochs.push_back(je);
  }
  j["epochs"] = epochs;
  nlohmann::json evals = nlohmann::json::array();
  for (const auto& p : r.evals)
    evals.push_back({{"step", p.step}, {"seconds", p.seconds}, {"train_loss", p.train_loss}, {"test", cli::metrics_json(p.test)}});
  j["evals"] = evals;
  j["s_per_epoch"] = r.s_per_epoch;
  j["test_auc"] = std::isfinite(r.final_test.auc) ? nlohmann::json(r.final_test.auc) : nlohmann::json(nullptr);
  j["test"] = cli::metrics_json(r.final_test);
  if (d.synthetic && std::isfinite(d.bayes_auc)) j["bayes_auc"] = d.bayes_auc;
  j["stopped_early"] = r.stopped_early;
  if (r.best_epoch > 0) j["best_epoch"] = r.best_epoch;
  if (c.task == Task::regression)  // the test figures are in the scale "log y" or "y"
    j["target"] = {{"log", r.target.log}, {"mean", r.target.mean}, {"std", r.target.std},
                   {"metrics_of", r.target.log ? "log y" : "y"}};
  return j;
}

// Every flag of build/train.
struct TrainFlags {
  cli::DataFlags data;
  cli::RunFlags run;
  TrainConfig config;
  std::string log_dir, plot_path;
  bool overwrite = false;
};

void add_train_flags(CLI::App& app, TrainFlags& f) {
  cli::add_data_flags(app, f.data);
  cli::add_setting_flags(app, f.config);
  cli::add_run_flags(app, f.run);
  app.add_option("--save", f.config.save_path, "write a checkpoint to this file at the end of every epoch (atomically)");
  app.add_option("--resume", f.config.resume_path,
                 "continue the run saved in this checkpoint up to --epochs (same flags and data as when it was saved)")
      ->check(CLI::ExistingFile);
  app.add_flag("--cuda-graphs", f.config.cuda_graphs,
               "capture the training step once (per batch size) and replay it: a CUDA Graph on the GPU, one launch a "
               "step; the same results bit for bit (one process)");
  app.add_flag("--overlap-weight-gradients", f.config.overlap_weight_gradients,
               "compute each layer's weight gradient on a second CUDA stream, beside the rest of the backward pass; "
               "the same results bit for bit");
  app.add_flag("--overwrite", f.overwrite, "let --save replace an existing checkpoint that is not the --resume one");
  app.add_option("--log-dir", f.log_dir, "write TensorBoard scalars (loss, test metric, lr, samples/s) into this directory");
  app.add_option("--plot", f.plot_path, "write an SVG of the test metric and loss against wall-clock time");
}

// Outputs: never an input file; writable before the run rather than after it; an existing checkpoint is
// replaced only when continuing it (--resume the same file) or with --overwrite.
void check_outputs(const TrainFlags& f) {
  const TrainConfig& config = f.config;
  const std::vector<std::pair<std::string, std::string>> inputs{{"--data", f.data.data},
      {"--test-data", f.data.test_data}, {"--resume", config.resume_path}};
  const std::vector<std::pair<std::string, std::string>> outputs{{"--save", config.save_path},
      {"--export-npy", f.data.export_npy}, {"--plot", f.plot_path}, {"--json", f.run.json}};
  for (const auto& [flag, path] : outputs) {
    if (path.empty()) continue;
    for (const auto& [in_flag, in] : inputs)
      if (!(flag == "--save" && in_flag == "--resume")) cli::refuse_output_onto_input(flag, path, {{in_flag, in}});
    cli::check_writable(flag, path);
  }
  if (!f.log_dir.empty()) {  // made when training starts; its parent must exist (only the last component is made)
    std::filesystem::path dir = std::filesystem::absolute(f.log_dir).lexically_normal();
    if (!dir.has_filename()) dir = dir.parent_path();
    FASTTAB_REQUIRE(std::filesystem::is_directory(dir) || std::filesystem::exists(dir.parent_path()),
                    "--log-dir ", f.log_dir, ": the directory ", dir.parent_path().string(),
                    " does not exist; create it first (only the last component of --log-dir is created)");
  }
  if (!config.save_path.empty() && std::filesystem::exists(config.save_path) &&
      !cli::same_file(config.save_path, config.resume_path))
    FASTTAB_REQUIRE(f.overwrite, "--save ", config.save_path, " already exists",
                    config.resume_path.empty() ? "" : " and is not the --resume checkpoint",
                    ": training would replace it after the first epoch. Continue it with --resume ",
                    config.save_path, ", choose another name, or pass --overwrite to replace it");
}

// The columns the model reads, recorded in the checkpoint so that predict selects the same ones.
void record_data_layout(const cli::DataFlags& data_flags, const Dataset& dataset, TrainConfig& config) {
  if (!data_flags.data.empty()) {
    ColumnLayout& l = config.data_layout = describe_file_columns(data_flags.load);
    l.vocabularies = dataset.train.vocabularies;
    for (const Vocabulary& v : l.vocabularies) l.categorical_cols.push_back(l.feature_cols[std::size_t(v.feature)]);
    l.label_classes = dataset.train.label_classes;
    l.imputations = dataset.train.imputations;
    return;
  }
  ColumnLayout& l = config.data_layout;  // the built-in data, as --export-npy writes it: label, then features
  l.known = l.synthetic = true;
  l.format = "synthetic";
  l.source_cols = dataset.train.cols + 1;
  l.label_col = 0;
  for (int c = 1; c <= dataset.train.cols; ++c) l.feature_cols.push_back(c);
}

void print_summary(const TrainConfig& config, const Dataset& dataset, const TrainResult& result) {
  std::printf("summary: %.3f s/epoch over %zu epochs on %s; test loss %.5f, test %s %.5f", result.s_per_epoch,
              result.epochs.size(), result.device.c_str(), result.final_test.loss, metric_name(config),
              headline(config.task, result.final_test));
  if (dataset.synthetic && std::isfinite(dataset.bayes_auc))
    std::printf(" (Bayes-optimal test AUC %.5f)", dataset.bayes_auc);
  if (result.stopped_early) std::printf("; stopped early, kept epoch %d", result.best_epoch);
  std::printf("\n");
  cli::print_gemm_plans(result.gemm_plans, stdout);  // --gemm cublaslt, cublaslt-timed on the GPU
}

// The checkpoint's name, then --plot and --json.
void write_outputs(const TrainFlags& f, const Dataset& dataset, const TrainResult& result) {
  if (!f.config.save_path.empty()) std::printf("checkpoint: %s\n", f.config.save_path.c_str());
  if (!f.plot_path.empty()) {
    write_plot(f.plot_path, f.config, dataset, result);
    std::printf("plot: %s\n", f.plot_path.c_str());
  }
  if (!f.run.json.empty()) {
    std::ofstream out(f.run.json);
    FASTTAB_REQUIRE(out, "--json: cannot write ", f.run.json);
    out << result_json(f.config, dataset, result).dump(1) << "\n";
    FASTTAB_REQUIRE(out.good(), "--json: writing ", f.run.json, " failed");
  }
}

// The automatic --shard before loading (docs/scaling.md): under mpirun without --shard, when the table's rows and
// columns are known before reading it (a .npy file, a cached table) and a shard load is allowed
// (cli::shard_load_allowed), every rank decides now whether the replicas would not fit on the cards while the
// shards would (vote_for_shard, the rule resolve_config applies after a whole load), so that each rank then reads
// only its own rows.
void shard_before_loading(cli::DataFlags& f, TrainConfig& c, Backend& backend, Communicator& comm) {
  const int ranks = comm.size();
  TrainConfig sharded = c;
  sharded.shard = true;
  if (ranks <= 1 || c.shard || f.data.empty() || !cli::shard_load_allowed(f, sharded, ranks)) return;
  LoadOptions load = f.load;
  load.path = f.data;
  const std::int64_t rows = known_table_rows(load);
  std::int64_t test_rows = f.test_rows;
  if (!f.test_data.empty()) {
    LoadOptions test_load = f.load;
    test_load.path = f.test_data;
    test_rows = known_table_rows(test_load);
  }
  const std::int64_t train_rows = rows - (f.test_data.empty() ? test_rows : 0) - c.val_rows;
  if (rows <= 0 || test_rows <= 0 || train_rows < std::int64_t(c.batch_size) * ranks) return;  // left to the load
  const int cols = static_cast<int>(describe_file_columns(load).feature_cols.size());  // the header only
  TrainConfig estimate = c;
  estimate.model.inputs = cols;
  estimate.model.outputs = c.task == Task::multiclass ? c.classes : 1;
  const double replicated = run_bytes_needed(estimate, cols, train_rows, test_rows);
  const double shards = run_bytes_needed(estimate, cols, train_rows / ranks, test_rows);
  if (vote_for_shard(backend, c, replicated, shards, train_rows, ranks, &comm)) c.shard = true;
}

// Under mpirun (docs/scaling.md) rank 0 prints and writes every file; the other ranks only train.
void silence_other_ranks(const Communicator& comm, TrainFlags& f) {
  if (comm.rank() == 0) return;
  FASTTAB_REQUIRE(std::freopen("/dev/null", "w", stdout), "rank ", comm.rank(), ": cannot silence stdout");
  f.log_dir.clear(), f.plot_path.clear(), f.run.json.clear(), f.data.export_npy.clear();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fasttab train: an MLP on a tabular dataset, on the GPU"};
  TrainFlags flags;
  add_train_flags(app, flags);
  CLI11_PARSE(app, argc, argv);

  TrainConfig& config = flags.config;
  // The backend outlives the communicator and the handler below: an error ends every rank (comm->abort) before
  // the backend's destructor would wait on its stream, where an all-reduce may wait for a rank that is gone.
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Communicator> comm;  // ranks under mpirun (docs/scaling.md); one rank otherwise
  try {
    config.validate();
    check_outputs(flags);
    backend = make_backend(cli::device_choice(flags.run.device));
    comm = make_communicator(*backend);
    silence_other_ranks(*comm, flags);
    if (comm->size() > 1) std::printf("data-parallel: %d ranks (%s)\n", comm->size(), comm->kind());
    std::printf("fasttab train on %s (%s backend)\n", backend->device_name().c_str(), backend->kind());
    shard_before_loading(flags.data, config, *backend, *comm);
    Dataset dataset = cli::build_dataset(flags.data, config, *backend, stdout, comm->rank(), comm->size());
    if (comm->size() > 1)  // every rank: the rows its host table holds (tests/mpi checks a partial load's share)
      std::fprintf(stderr, "rank %d: host table %lld rows (%lld training and validation, %lld test), %lld bytes%s\n",
                   comm->rank(), static_cast<long long>(dataset.train.rows + dataset.test.rows),
                   static_cast<long long>(dataset.train.rows), static_cast<long long>(dataset.test.rows),
                   static_cast<long long>((dataset.train.rows + dataset.test.rows) * (dataset.train.cols + 1) *
                                          std::int64_t(sizeof(float))),
                   dataset.partial() ? ", its shard only" : "");
    record_data_layout(flags.data, dataset, config);
    std::printf("train %lld rows, test %lld rows, %d features; batch %d, %d epochs, loader %s%s\n",
                static_cast<long long>(dataset.all_train_rows()), static_cast<long long>(dataset.test.rows), dataset.train.cols,
                config.batch_size, config.epochs, config.loader.c_str(), config.shuffle ? ", shuffled" : "");
    std::fflush(stdout);
    if (!config.resume_path.empty()) std::printf("resuming %s\n", config.resume_path.c_str());
    ConsoleObserver observer(config, dataset.all_train_rows() - config.val_rows, flags.log_dir);
    const TrainResult result = train(*backend, config, dataset, &observer, comm.get());
    if (comm->size() > 1)  // every rank: their parameters must be the same bits (tests/mpi compares these lines)
      std::fprintf(stderr, "rank %d: parameters crc32c %08x\n", comm->rank(),
                   crc32c(result.parameters.data(), result.parameters.size() * sizeof(float)));
    print_summary(config, dataset, result);
    write_outputs(flags, dataset, result);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    if (comm && comm->size() > 1) {  // the other ranks may wait in a collective: end the whole job
      std::fprintf(stderr, "rank %d: error: %s\n", comm->rank(), e.what());
      comm->abort(1);
    }
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
