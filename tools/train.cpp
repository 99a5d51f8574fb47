// build/train: train the MLP on a table (or the built-in synthetic data) and report s/epoch and test metrics.
// With no arguments on a GPU it runs the seed's reference workload: 10.5M training rows, 500k test rows,
// 21-300-300-300-300-1 tanh MLP, dropout 0.5, Adam 1e-3, batch 16384, 10 epochs, evaluation every 100 steps.
#include <cstdio>
#include <fstream>

#include "fasttab/progress.hpp"
#include "tools/cli_common.hpp"

namespace {

using namespace fasttab;

const char* metric_name(Task task) { return task == Task::binary ? "AUC" : task == Task::multiclass ? "accuracy" : "R^2"; }
double headline(Task task, const Metrics& m) {
  return task == Task::binary ? m.auc : task == Task::multiclass ? m.accuracy : m.r2;
}

class ConsoleObserver final : public TrainObserver {
 public:
  ConsoleObserver(const TrainConfig& c, std::int64_t train_rows) : config_(c), train_rows_(train_rows), bar_(stdout) {}
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
                  e.epoch, e.seconds, e.samples_per_s, e.train_loss, e.test.loss, metric_name(config_.task),
                  headline(config_.task, e.test));
    std::string text = line;
    if (e.validation.rows > 0) {
      std::snprintf(line, sizeof line, "  val loss %.5f", e.validation.loss);
      text += line;
    }
    bar_.finish_epoch(text);
    std::fflush(stdout);
  }

 private:
  const TrainConfig& config_;
  std::int64_t train_rows_;
  ProgressBar bar_;
};

nlohmann::json result_json(const TrainConfig& c, const Dataset& d, const TrainResult& r) {
  nlohmann::json j;
  j["device"] = r.device;
  j["backend"] = r.backend;
  j["loader"] = r.loader;
  j["date"] = cli::today();
  j["data"] = d.source;
  j["task"] = c.task == Task::binary ? "binary" : c.task == Task::multiclass ? "multiclass" : "regression";
  j["train_rows"] = r.train_rows;
  j["test_rows"] = r.test_rows;
  j["val_rows"] = r.val_rows;
  j["batch_size"] = c.batch_size;
  j["steps"] = r.steps;
  j["optimizer"] = to_string(c.optimizer.kind);
  j["lr"] = c.optimizer.lr;
  j["lr_schedule"] = to_string(c.schedule.kind);
  j["precision"] = c.precision == Precision::tf32 ? "tf32" : "fp32";
  j["shuffle"] = c.shuffle;
  j["seed"] = c.seed;
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
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fasttab train: an MLP on a tabular dataset, on the GPU"};
  cli::DataFlags data_flags;
  cli::RunFlags run_flags;
  TrainConfig config;
  cli::add_data_flags(app, data_flags);
  cli::add_model_flags(app, config, run_flags);
  CLI11_PARSE(app, argc, argv);

  try {
    config.model.hidden = run_flags.hidden;
    config.validate();
    std::unique_ptr<Backend> backend = make_backend(cli::device_choice(run_flags.device));
    std::printf("fasttab train on %s (%s backend)\n", backend->device_name().c_str(), backend->kind());
    Dataset dataset = cli::build_dataset(data_flags, config, *backend, stdout);
    std::printf("train %lld rows, test %lld rows, %d features; batch %d, %d epochs, loader %s%s\n",
                static_cast<long long>(dataset.train.rows), static_cast<long long>(dataset.test.rows), dataset.train.cols,
                config.batch_size, config.epochs, config.loader.c_str(), config.shuffle ? ", shuffled" : "");
    std::fflush(stdout);
    ConsoleObserver observer(config, dataset.train.rows - config.val_rows);
    const TrainResult result = train(*backend, config, dataset, &observer);

    std::printf("summary: %.3f s/epoch over %zu epochs on %s; test loss %.5f, test %s %.5f", result.s_per_epoch,
                result.epochs.size(), result.device.c_str(), result.final_test.loss, metric_name(config.task),
                headline(config.task, result.final_test));
    if (dataset.synthetic && std::isfinite(dataset.bayes_auc))
      std::printf(" (Bayes-optimal test AUC %.5f)", dataset.bayes_auc);
    if (result.stopped_early) std::printf("; stopped early, kept epoch %d", result.best_epoch);
    std::printf("\n");
    if (!run_flags.json.empty()) {
      std::ofstream out(run_flags.json);
      FASTTAB_REQUIRE(out, "--json: cannot write ", run_flags.json);
      out << result_json(config, dataset, result).dump(1) << "\n";
      FASTTAB_REQUIRE(out.good(), "--json: writing ", run_flags.json, " failed");
    }
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
