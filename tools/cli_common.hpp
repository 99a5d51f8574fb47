// What train, compare_loaders and predict share: the data, model and training flags, building the dataset
// (synthetic or a file), and the JSON of metrics. Flags are parsed by CLI11; out-of-range values are refused
// there with the flag's name, and by TrainConfig::validate with its range.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "fasttab/fasttab.hpp"
#include "tools/io_flags.hpp"

namespace fasttab::cli {

struct DataFlags {
  std::string data;              // empty: the built-in synthetic data
  std::int64_t rows = -1;        // synthetic rows (-1: 11M on a GPU, a reduced default on the CPU)
  std::int64_t test_rows = -1;   // -1: the seed's default (500k above 5M rows, else 10%)
  std::string export_npy;
  LoadOptions load;
};

struct RunFlags {
  std::string device = "auto";
  std::string json;
  std::vector<int> hidden = {300, 300, 300, 300};
};

// Rows of the built-in data when the CPU backend runs it without --rows: small enough for a minute on 2 cores.
constexpr std::int64_t kCpuDefaultRows = 80'000;

// A float flag's check: finite and in [lo, hi] (lo excluded with open_low), with a short message instead of
// CLI11's range of 300 digits, e.g. "--lr inf: must be a finite number > 0".
inline CLI::Validator finite_in(double lo, double hi, bool open_low = false) {
  // hi = infinity: no upper bound.
  std::string want = std::isinf(hi) ? (open_low ? "> " : ">= ") + CLI::detail::to_string(lo)
                     : open_low     ? "in (" + CLI::detail::to_string(lo) + ", " + CLI::detail::to_string(hi) + "]"
                                    : "in [" + CLI::detail::to_string(lo) + ", " + CLI::detail::to_string(hi) + "]";
  return CLI::Validator(
      [lo, hi, open_low, want](std::string& text) -> std::string {
        double v = 0;
        std::size_t used = 0;
        try {
          v = std::stod(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        const bool number = used > 0 && used == text.size();
        const bool ok = number && std::isfinite(v) && std::isfinite(float(v)) && (open_low ? v > lo : v >= lo) &&
                        v <= hi;
        return ok ? std::string() : text + ": must be a finite number " + want;
      },
      "FLOAT " + want);
}

// True when a and b name the same file: std::filesystem::equivalent where both exist (another spelling, a link),
// else the same normalised absolute path.
inline bool same_file(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return false;
  std::error_code ec;
  if (std::filesystem::exists(a, ec) && std::filesystem::exists(b, ec)) {
    const bool same = std::filesystem::equivalent(a, b, ec);
    return !ec && same;
  }
  return std::filesystem::absolute(a).lexically_normal() == std::filesystem::absolute(b).lexically_normal();
}

// Refuses an output that is one of the inputs: {flag, path} pairs.
inline void refuse_output_onto_input(const std::string& out_flag, const std::string& out,
                                     const std::vector<std::pair<std::string, std::string>>& inputs) {
  for (const auto& [in_flag, in] : inputs)
    FASTTAB_REQUIRE(!same_file(out, in), out_flag, " ", out, " is the ", in_flag, " file ", in,
                    ": writing it would destroy the input; choose another name");
}

// Checked before a long run, without creating or truncating anything: the directory exists and is writable, and
// an existing file is a writable regular file.
inline void check_writable(const std::string& flag, const std::string& path) {
  if (path.empty()) return;
  namespace fs = std::filesystem;
  const fs::path dir = fs::absolute(path).parent_path();
  FASTTAB_REQUIRE(fs::is_directory(dir), flag, " ", path, ": the directory ", dir.string(), " does not exist");
  FASTTAB_REQUIRE(::access(dir.c_str(), W_OK) == 0, flag, " ", path, ": the directory ", dir.string(),
                  " is not writable");
  std::error_code ec;
  if (fs::exists(path, ec)) {
    FASTTAB_REQUIRE(!fs::is_directory(path, ec), flag, " ", path, " is a directory; give a file name");
    FASTTAB_REQUIRE(::access(path.c_str(), W_OK) == 0, flag, " ", path, " exists and is not writable");
  }
}

inline void add_data_flags(CLI::App& app, DataFlags& f) {
  app.add_option("--data", f.data, "table to train on: .csv, .csv.gz or .npy (default: built-in synthetic HIGGS-shaped data)");
  app.add_option("--rows", f.rows, "rows of synthetic data (default 11,000,000 on a GPU, 80,000 on the CPU)")
      ->check(CLI::Range(std::int64_t(2), std::int64_t(2'000'000'000)));
  app.add_option("--test-rows", f.test_rows, "the last N rows are the test set (default 500,000 above 5M rows, else 10%)")
      ->check(CLI::Range(std::int64_t(1), std::int64_t(2'000'000'000)));
  app.add_option("--export-npy", f.export_npy, "also write the selected table (label first) as a float32 .npy");
  add_io_flags(app, f.load);
}

inline void add_model_flags(CLI::App& app, TrainConfig& c, RunFlags& r) {
  app.add_option("--epochs", c.epochs, "epochs")->check(CLI::Range(1, 1'000'000))->capture_default_str();
  app.add_option("--batch-size", c.batch_size, "rows per batch")->check(CLI::Range(1, 1 << 24))->capture_default_str();
  app.add_option("--hidden", r.hidden, "hidden layer widths, comma-separated")
      ->delimiter(',')->check(CLI::Range(1, 65536))->capture_default_str();
  const std::map<std::string, Activation> activations{{"tanh", Activation::tanh}, {"relu", Activation::relu}};
  app.add_option("--activation", c.model.activation, "tanh or relu")->transform(CLI::CheckedTransformer(activations));
  app.add_option("--dropout", c.model.dropout, "dropout probability after the first hidden layer")
      ->check(finite_in(0.0, 0.99))->capture_default_str();
  app.add_option("--lr", c.optimizer.lr, "learning rate")->check(finite_in(0.0, INFINITY, true))->capture_default_str();
  const std::map<std::string, OptimizerKind> optimizers{
      {"adam", OptimizerKind::adam}, {"adamw", OptimizerKind::adamw}, {"sgd", OptimizerKind::sgd}};
  app.add_option("--optimizer", c.optimizer.kind, "adam, adamw or sgd")->transform(CLI::CheckedTransformer(optimizers));
  app.add_option("--momentum", c.optimizer.momentum, "SGD momentum")->check(finite_in(0.0, 0.999));
  app.add_option("--weight-decay", c.optimizer.weight_decay, "L2 (adam, sgd) or decoupled (adamw) weight decay")
      ->check(finite_in(0.0, 1.0));
  app.add_option("--beta1", c.optimizer.beta1, "Adam beta1")->check(finite_in(0.0, 0.99999));
  app.add_option("--beta2", c.optimizer.beta2, "Adam beta2")->check(finite_in(0.0, 0.99999999));
  const std::map<std::string, LrSchedule> schedules{{"constant", LrSchedule::constant}, {"warmup", LrSchedule::warmup},
      {"cosine", LrSchedule::cosine}, {"step", LrSchedule::step}, {"exponential", LrSchedule::exponential}};
  app.add_option("--lr-schedule", c.schedule.kind, "constant, warmup, cosine, step or exponential")
      ->transform(CLI::CheckedTransformer(schedules));
  app.add_option("--warmup-steps", c.schedule.warmup_steps, "linear warm-up steps (warmup, cosine)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--lr-step-size", c.schedule.step_size, "steps between decays (step schedule)")
      ->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 40));
  app.add_option("--lr-gamma", c.schedule.gamma, "decay factor: per step_size steps (step) or per step (exponential)")
      ->check(finite_in(0.0, 1.0));
  app.add_option("--min-lr", c.schedule.min_lr, "final learning rate of the cosine schedule")->check(finite_in(0.0, INFINITY));
  app.add_flag("--shuffle,!--no-shuffle", c.shuffle, "shuffle the rows every epoch (default off, as in the seed)");
  app.add_option("--eval-every", c.eval_every, "evaluate the test set every N steps (0: only at epoch ends)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--seed", c.seed, "seed of the data, the initial weights, dropout and shuffling")->capture_default_str();
  const std::map<std::string, Precision> precisions{{"fp32", Precision::fp32}, {"tf32", Precision::tf32}};
  app.add_option("--precision", c.precision, "GEMM arithmetic: fp32 or tf32 (tensor cores)")
      ->transform(CLI::CheckedTransformer(precisions));
  const std::map<std::string, Task> tasks{{"binary", Task::binary}, {"multiclass", Task::multiclass},
                                          {"regression", Task::regression}};
  app.add_option("--task", c.task, "binary, multiclass or regression")->transform(CLI::CheckedTransformer(tasks));
  app.add_option("--classes", c.classes, "multiclass: number of classes (default: max label + 1)")->check(CLI::Range(2, 1 << 20));
  app.add_flag("--standardize", c.standardize, "standardise features with the training split's mean and std");
  app.add_option("--val-rows", c.val_rows, "validation rows taken from the end of the training rows (early stopping)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--patience", c.patience, "stop after N epochs without validation improvement")->check(CLI::NonNegativeNumber);
  app.add_option("--device", r.device, "auto, cuda or cpu")->check(CLI::IsMember({"auto", "cuda", "cpu"}))->capture_default_str();
  app.add_option("--json", r.json, "write the run's figures as one JSON object to this file");
}

inline DeviceChoice device_choice(const std::string& name) {
  return name == "cuda" ? DeviceChoice::cuda : name == "cpu" ? DeviceChoice::cpu : DeviceChoice::automatic;
}

// The dataset: the file given by --data, or synthetic rows (a reduced default on the CPU backend).
inline Dataset build_dataset(DataFlags& f, const TrainConfig& c, const Backend& backend, std::FILE* log) {
  Table table;
  Dataset dataset;
  std::vector<float> probabilities;
  if (!f.data.empty()) {
    FASTTAB_REQUIRE(f.rows < 0, "--rows sets the size of the synthetic data; with --data the file decides");
    f.load.path = f.data;
    LoadReport report;
    table = load_table(f.load, &report);
    for (const std::string& w : report.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    std::fprintf(log, "data: %s (%s%s): %lld rows x %d features in %.2f s\n", f.data.c_str(), report.format.c_str(),
                 report.from_cache ? ", from the cache" : "", static_cast<long long>(table.rows), table.cols, report.seconds);
  } else {
    SyntheticSpec spec;
    spec.seed = c.seed;
    spec.rows = f.rows > 0 ? f.rows : 11'000'000;
    if (f.rows < 0 && std::string(backend.kind()) == "cpu") {
      spec.rows = kCpuDefaultRows;
      std::fprintf(log, "no CUDA device: running the CPU backend on a reduced default of %lld synthetic rows "
                        "(--rows to change)\n", static_cast<long long>(spec.rows));
    }
    SyntheticData synthetic = make_synthetic(spec);
    table = std::move(synthetic.table);
    probabilities = std::move(synthetic.probabilities);
    std::fprintf(log, "data: synthetic, %lld rows x %d features (seed %llu)\n", static_cast<long long>(table.rows),
                 table.cols, static_cast<unsigned long long>(c.seed));
  }
  if (!f.export_npy.empty()) {
    write_npy(f.export_npy, table);
    std::fprintf(log, "exported %lld rows to %s\n", static_cast<long long>(table.rows), f.export_npy.c_str());
  }
  const std::int64_t rows = table.rows;
  const std::int64_t test_rows = f.test_rows > 0 ? f.test_rows : default_test_rows(rows);
  dataset = split_train_test(std::move(table), test_rows, f.data.empty() ? "synthetic data" : f.data);
  if (!probabilities.empty()) {
    dataset.synthetic = true;
    if (c.task == Task::binary)
      dataset.bayes_auc = roc_auc(probabilities.data() + (rows - test_rows), dataset.test.labels.data(), test_rows);
  }
  return dataset;
}

inline nlohmann::json metrics_json(const Metrics& m) {
  nlohmann::json j;
  auto put = [&j](const char* key, double v) { j[key] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  put("loss", m.loss);
  put("auc", m.auc);
  put("accuracy", m.accuracy);
  put("rmse", m.rmse);
  put("r2", m.r2);
  return j;
}

inline std::string today() {
  char buf[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&now));
  return buf;
}

}  // namespace fasttab::cli
