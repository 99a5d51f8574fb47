// build/compare_loaders: the seed article's comparison, on fasttab's engine. The same model, from the same
// initial weights, on the same data, trained once per loader; for each loader the s/epoch of training, the
// s/epoch of the loader alone (iterated with no training), the speed-up over per-sample, the final train loss
// and test AUC. Then the seed's two lines ("Standard dataloader: X s/epoch." for per-sample, "Custom
// dataloader: Y s/epoch." for gather).
//
// It also checks that every loader yielded the same batches: a checksum of each batch's bytes (features,
// padding included, and labels), read back batch by batch, and the training losses, compared exactly (the
// kernels are deterministic, so identical batches give identical losses). Any difference: exit status 1.
//
// --time-budget: a loader slower than the budget is timed over a prefix of its first epoch and scaled to a whole
// epoch (marked "*"), or stopped after the last whole epoch that ended past the budget.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include "tools/report/plot.hpp"
#include "tools/cli_common.hpp"

namespace {

using namespace fasttab;
using Clock = std::chrono::steady_clock;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Timing {
  double s_per_epoch = kNaN;
  bool extrapolated = false;    // timed over a prefix of one epoch and scaled up
  std::int64_t batches = 0;     // batches timed
  int epochs = 0;               // whole epochs timed
};

struct LoaderRun {
  std::string name;
  Timing loader_only, training;
  std::vector<std::uint64_t> checksums;  // one per batch, in order, over the epochs checked
  std::vector<EpochRecord> epochs;
  std::vector<EvalPoint> evals;
  std::vector<float> parameters;          // final weights, when every epoch ran
  double speedup = kNaN;
};

// 64-bit FNV-1a over 32-bit words: order-sensitive, bit-exact.
std::uint64_t checksum(const std::vector<float>& values, std::uint64_t h = 1469598103934665603ull) {
  for (const float v : values) {
    std::uint32_t w;
    std::memcpy(&w, &v, sizeof w);
    h = (h ^ w) * 1099511628211ull;
  }
  return h;
}

// The training rows the trainer iterates (early stopping's validation rows come off the end).
Table training_rows(const Dataset& d, const TrainConfig& c) {
  return c.val_rows > 0 ? slice_rows(d.train, 0, d.train.rows - c.val_rows) : d.train;
}

// Runs fn(loader) with a loader named `name` over `train`, built as the trainer builds it.
template <typename Fn>
void with_loader(Backend& backend, const std::string& name, const Table& train, const TrainConfig& c, Fn fn) {
  DeviceTable resident;
  if (loader_needs_device_table(name)) {
    try {
      resident = upload_table(backend, train, "training table");
    } catch (const Error& e) {
      FASTTAB_FAIL(e.what(), "; the ", name, " loader cannot run here: leave it out of --loaders "
                   "(e.g. --loaders per-sample,slice)");
    }
  }
  LoaderSource source;
  source.backend = &backend;
  source.host_table = &train;
  source.device_table = resident.rows > 0 ? &resident : nullptr;
  source.batch_size = c.batch_size;
  source.shuffle = c.shuffle;
  source.seed = c.seed;
  std::unique_ptr<Loader> loader = make_loader(name, source);
  fn(*loader);
}

// The loader alone: every batch of `epochs` epochs, nothing done with it, one wait for the device at the end.
// Past the budget: within the first epoch, the prefix is scaled to an epoch; later, stops at an epoch's end.
Timing time_loader(Backend& backend, Loader& loader, int epochs, double budget_s) {
  // Warm-up: the first permutation sizes the sort workspace; the first batch touches the buffers.
  loader.start_epoch(0);
  loader.next_batch();
  backend.synchronize();
  const std::int64_t batches = loader.batches_per_epoch();
  Timing t;
  const auto t0 = Clock::now();
  for (int e = 0; e < epochs && !(budget_s > 0 && t.epochs > 0 && seconds_since(t0) > budget_s); ++e) {
    loader.start_epoch(static_cast<std::uint32_t>(e));
    std::int64_t b = 0;
    for (; b < batches; ++b) {
      loader.next_batch();
      if (budget_s > 0 && e == 0 && b + 1 < batches && seconds_since(t0) > budget_s) {
        ++b;
        t.extrapolated = true;
        break;
      }
    }
    t.batches += b;
    if (!t.extrapolated) ++t.epochs;
  }
  backend.synchronize();
  const double seconds = seconds_since(t0);
  t.s_per_epoch = t.extrapolated ? seconds / double(t.batches) * double(batches) : seconds / t.epochs;
  return t;
}

// Checksums of every batch of `epochs` epochs, read back to the host (at least one batch within the budget).
std::vector<std::uint64_t> batch_checksums(Backend& backend, Loader& loader, int epochs, int ld, double budget_s) {
  std::vector<std::uint64_t> sums;
  std::vector<float> features, labels;
  const auto t0 = Clock::now();
  for (int e = 0; e < epochs; ++e) {
    loader.start_epoch(static_cast<std::uint32_t>(e));
    for (std::int64_t b = 0; b < loader.batches_per_epoch(); ++b) {
      const Batch batch = loader.next_batch();
      FASTTAB_REQUIRE(batch.ld == ld && batch.rows == loader.rows_in_batch(b), loader.name(), " loader: batch ", b,
                      " has ", batch.rows, " rows of leading dimension ", batch.ld, "; expected ",
                      loader.rows_in_batch(b), " rows of ", ld);
      features.resize(std::size_t(batch.rows) * batch.ld);
      labels.resize(std::size_t(batch.rows));
      backend.copy_to_host(features.data(), batch.features, features.size() * sizeof(float));
      backend.copy_to_host(labels.data(), batch.labels, labels.size() * sizeof(float));
      sums.push_back(checksum(labels, checksum(features)));
      if (budget_s > 0 && seconds_since(t0) > budget_s) return sums;
    }
  }
  return sums;
}

// Records what train() reports, and ends a run that overruns the budget (by throwing BudgetReached).
struct BudgetReached {};

class BudgetObserver final : public TrainObserver {
 public:
  BudgetObserver(Backend& backend, LoaderRun& run, int epochs, double budget_s)
      : backend_(backend), run_(run), epochs_(epochs), budget_s_(budget_s) {}
  void on_batch(int epoch, std::int64_t batch, std::int64_t batches, double epoch_seconds, double) override {
    if (budget_s_ <= 0 || epoch != 1 || batch >= batches || epoch_seconds <= budget_s_) return;
    // The first epoch overran the budget: time the prefix to the end of its work and scale it to an epoch.
    const auto t0 = Clock::now();
    backend_.synchronize();
    run_.training.s_per_epoch = (epoch_seconds + seconds_since(t0)) / double(batch) * double(batches);
    run_.training.extrapolated = true;
    run_.training.batches = batch;
    throw BudgetReached{};
  }
  void on_eval(const EvalPoint& p) override { run_.evals.push_back(p); }
  void on_epoch(const EpochRecord& e) override {
    run_.epochs.push_back(e);
    seconds_ += e.seconds;
    if (budget_s_ > 0 && seconds_ > budget_s_ && e.epoch < epochs_) throw BudgetReached{};
  }

 private:
  Backend& backend_;
  LoaderRun& run_;
  int epochs_;
  double budget_s_;
  double seconds_ = 0;
};

void train_with(Backend& backend, const TrainConfig& config, const Dataset& dataset, double budget_s, LoaderRun& run) {
  TrainConfig c = config;
  c.loader = run.name;
  BudgetObserver observer(backend, run, c.epochs, budget_s);
  try {
    const TrainResult r = train(backend, c, dataset, &observer);
    run.parameters = r.parameters;
  } catch (const BudgetReached&) {
  }
  if (!run.training.extrapolated) {
    double total = 0;
    for (const auto& e : run.epochs) total += e.seconds;
    run.training.epochs = static_cast<int>(run.epochs.size());
    run.training.s_per_epoch = total / double(run.epochs.size());
  }
}

bool same(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

// Compares every loader's training with the first one's, over the epochs and evaluations both ran. Prints the
// first difference.
bool identical_losses(const std::vector<LoaderRun>& runs) {
  const LoaderRun& ref = runs.front();
  bool ok = true;
  for (std::size_t i = 1; i < runs.size(); ++i) {
    const LoaderRun& r = runs[i];
    for (std::size_t k = 0; k < std::min(ref.evals.size(), r.evals.size()) && ok; ++k)
      if (!same(ref.evals[k].train_loss, r.evals[k].train_loss) || !same(ref.evals[k].test.loss, r.evals[k].test.loss)) {
        std::printf("DIFFERENT: at step %lld, %s: train loss %.9g, test loss %.9g; %s: %.9g, %.9g\n",
                    static_cast<long long>(ref.evals[k].step), ref.name.c_str(), ref.evals[k].train_loss,
                    ref.evals[k].test.loss, r.name.c_str(), r.evals[k].train_loss, r.evals[k].test.loss);
        ok = false;
      }
    for (std::size_t k = 0; k < std::min(ref.epochs.size(), r.epochs.size()) && ok; ++k)
      if (!same(ref.epochs[k].train_loss, r.epochs[k].train_loss) || !same(ref.epochs[k].test.auc, r.epochs[k].test.auc)) {
        std::printf("DIFFERENT: epoch %d, %s: train loss %.9g, test AUC %.9g; %s: %.9g, %.9g\n", ref.epochs[k].epoch,
                    ref.name.c_str(), ref.epochs[k].train_loss, ref.epochs[k].test.auc, r.name.c_str(),
                    r.epochs[k].train_loss, r.epochs[k].test.auc);
        ok = false;
      }
    if (ok && !ref.parameters.empty() && !r.parameters.empty() && ref.parameters != r.parameters) {
      std::printf("DIFFERENT: the final weights of %s and %s\n", ref.name.c_str(), r.name.c_str());
      ok = false;
    }
  }
  return ok;
}

// Every loader's batch checksums against the first one's, over the batches both checked; returns that count.
bool identical_checksums(const std::vector<LoaderRun>& runs, std::size_t& compared) {
  compared = runs.front().checksums.size();
  for (const auto& r : runs) compared = std::min(compared, r.checksums.size());
  for (const auto& r : runs)
    for (std::size_t k = 0; k < compared; ++k)
      if (r.checksums[k] != runs.front().checksums[k]) {
        std::printf("DIFFERENT: batch %zu (counted over the epochs) of %s and %s\n", k + 1, runs.front().name.c_str(),
                    r.name.c_str());
        return false;
      }
  return compared > 0;
}

std::string format_value(double v, const char* fmt) {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

double final_train_loss(const LoaderRun& r) { return r.epochs.empty() ? kNaN : r.epochs.back().train_loss; }
double final_test_auc(const LoaderRun& r) { return r.epochs.empty() ? kNaN : r.epochs.back().test.auc; }

// Every flag of build/compare_loaders.
struct CompareFlags {
  cli::DataFlags data;
  cli::RunFlags run;
  TrainConfig config;
  std::vector<std::string> names = loader_names();
  std::string plot_path;
  double budget_s = 60;
};

void add_compare_flags(CLI::App& app, CompareFlags& f) {
  cli::add_data_flags(app, f.data);
  cli::add_setting_flags(app, f.config, {"loader"});
  cli::add_run_flags(app, f.run);
  app.add_option("--loaders", f.names, "loaders to compare, comma-separated (default: all four)")->delimiter(',');
  app.add_option("--plot", f.plot_path, "write an SVG: test AUC and loss against wall-clock time, one curve per loader");
  app.add_option("--time-budget", f.budget_s, "seconds per loader and phase; a slower loader is timed over a prefix "
                                              "of the epoch and scaled up (0: no limit)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
}

void check_loader_names(const std::vector<std::string>& names) {
  std::set<std::string> seen;
  for (const auto& n : names) {
    FASTTAB_REQUIRE(seen.insert(n).second, "--loaders names ", n, " twice");
    require_loader_name(n);
  }
  FASTTAB_REQUIRE(!names.empty(), "--loaders: name at least one loader");
}

// One loader's three phases, with progress on one line: the loader alone, its batch checksums, the training.
LoaderRun run_loader(Backend& backend, const std::string& name, const Table& train_rows, const Dataset& dataset,
                     const TrainConfig& config, double budget_s) {
  const int checked_epochs = std::min(config.epochs, 2);  // two epochs: the permutation changes between them
  const int ld = padded_width(train_rows.cols);
  LoaderRun run;
  run.name = name;
  std::printf("%s: loader alone...", name.c_str());
  std::fflush(stdout);
  with_loader(backend, name, train_rows, config, [&](Loader& loader) {
    run.loader_only = time_loader(backend, loader, config.epochs, budget_s);
    std::printf(" %.4f s/epoch; batch checksums...", run.loader_only.s_per_epoch);
    std::fflush(stdout);
    run.checksums = batch_checksums(backend, loader, checked_epochs, ld, budget_s);
  });
  std::printf(" %zu batches; training...", run.checksums.size());
  std::fflush(stdout);
  train_with(backend, config, dataset, budget_s, run);
  std::printf(" %.3f s/epoch%s\n", run.training.s_per_epoch, run.training.extrapolated ? " (extrapolated)" : "");
  std::fflush(stdout);
  return run;
}

const LoaderRun* find_run(const std::vector<LoaderRun>& runs, const std::string& name) {
  const LoaderRun* found = nullptr;
  for (const auto& r : runs)
    if (r.name == name) found = &r;
  return found;
}

// Whether the loaders agreed, and over how much.
struct Verdict {
  std::size_t checked_batches = 0;
  std::size_t checked_evals = 0;
  bool same_checksums = false;
  bool same_losses = false;
  bool identical = false;
};

Verdict compare_runs(const std::vector<LoaderRun>& runs) {
  Verdict v;
  v.same_checksums = identical_checksums(runs, v.checked_batches);
  v.same_losses = identical_losses(runs);
  v.identical = v.same_checksums && v.same_losses;
  v.checked_evals = runs.front().evals.size();
  for (const auto& r : runs) v.checked_evals = std::min(v.checked_evals, r.evals.size());
  return v;
}

// The table of loaders, the seed's two lines and the verdict.
void print_comparison(const std::vector<LoaderRun>& runs, std::int64_t rows, int epochs_requested,
                      std::int64_t batches, double budget_s, const Verdict& v) {
  std::printf("\n%-18s %11s %13s %15s %9s %7s %11s %9s\n", "loader", "s/epoch", "samples/s", "loader s/epoch",
              "speedup", "epochs", "train loss", "test AUC");
  bool any_extrapolated = false;
  for (const auto& r : runs) {
    const std::string mark = r.training.extrapolated ? "*" : " ";
    const std::string loader_mark = r.loader_only.extrapolated ? "*" : " ";
    any_extrapolated = any_extrapolated || r.training.extrapolated || r.loader_only.extrapolated;
    const std::string epochs = std::to_string(r.epochs.size()) + "/" + std::to_string(epochs_requested);
    std::printf("%-18s %10s%s %13s %14s%s %9s %7s %11s %9s\n", r.name.c_str(),
                format_value(r.training.s_per_epoch, "%.4f").c_str(), mark.c_str(),
                format_value(double(rows) / r.training.s_per_epoch, "%.0f").c_str(),
                format_value(r.loader_only.s_per_epoch, "%.5f").c_str(), loader_mark.c_str(),
                format_value(r.speedup, "%.1fx").c_str(), epochs.c_str(),
                format_value(final_train_loss(r), "%.5f").c_str(), format_value(final_test_auc(r), "%.5f").c_str());
  }
  if (any_extrapolated)
    std::printf("* timed over a prefix of the first epoch (of %lld batches) and scaled to a whole epoch "
                "(--time-budget %g s)\n", static_cast<long long>(batches), budget_s);
  if (const LoaderRun* per_sample = find_run(runs, "per-sample"))
    std::printf("Standard dataloader: %.2f s/epoch.\n", per_sample->training.s_per_epoch);
  if (const LoaderRun* gather = find_run(runs, "gather"))
    std::printf("Custom dataloader: %.2f s/epoch.\n", gather->training.s_per_epoch);
  std::printf("identical batches: %s (checksums of %zu batches %s; training losses at %zu evaluations %s)\n",
              v.identical ? "yes" : "NO", v.checked_batches, v.same_checksums ? "equal" : "DIFFER", v.checked_evals,
              v.same_losses ? "equal" : "DIFFER");
}

// --plot: test AUC and loss against wall-clock time, one curve per loader.
void write_loader_plot(const std::string& path, const std::vector<LoaderRun>& runs, const std::string& title) {
  std::vector<PlotCurve> curves;
  for (const auto& r : runs) {
    PlotCurve c;
    c.label = r.name;
    for (const auto& p : r.evals) {
      c.seconds.push_back(p.seconds);
      c.metric.push_back(p.test.auc);
      c.loss.push_back(p.test.loss);
    }
    curves.push_back(std::move(c));
  }
  write_svg_plot(path, title, "test AUC", curves);
}

nlohmann::json loader_json(const LoaderRun& r, std::int64_t rows, std::int64_t batches) {
  nlohmann::json l;
  l["name"] = r.name;
  l["s_per_epoch"] = number_or_null(r.training.s_per_epoch);
  l["loader_s_per_epoch"] = number_or_null(r.loader_only.s_per_epoch);
  l["samples_per_s"] = number_or_null(double(rows) / r.training.s_per_epoch);
  l["speedup"] = number_or_null(r.speedup);
  l["train_loss"] = number_or_null(final_train_loss(r));
  l["test_auc"] = number_or_null(final_test_auc(r));
  l["extrapolated"] = r.training.extrapolated;
  l["loader_extrapolated"] = r.loader_only.extrapolated;
  l["epochs_run"] = r.epochs.size();
  l["batches_timed"] = r.training.extrapolated ? r.training.batches : std::int64_t(r.epochs.size()) * batches;
  l["loader_batches_timed"] = r.loader_only.batches;
  l["checked_batches"] = r.checksums.size();
  nlohmann::json evals = nlohmann::json::array();
  for (const auto& p : r.evals)
    evals.push_back({{"step", p.step}, {"seconds", p.seconds}, {"train_loss", number_or_null(p.train_loss)},
                     {"test", cli::metrics_json(p.test)}});
  l["evals"] = evals;
  return l;
}

void write_compare_json(const CompareFlags& f, const Backend& backend, const Dataset& dataset,
                        const Table& train_rows, std::int64_t batches, const std::vector<LoaderRun>& runs,
                        const Verdict& v) {
  const TrainConfig& config = f.config;
  nlohmann::json j;
  j["device"] = backend.device_name();
  j["backend"] = backend.kind();
  j["date"] = cli::today();
  j["data"] = dataset.source;
  j["train_rows"] = train_rows.rows;
  j["test_rows"] = dataset.test.rows;
  j["batch_size"] = config.batch_size;
  j["batches_per_epoch"] = batches;
  j["epochs"] = config.epochs;
  j["shuffle"] = config.shuffle;
  j["seed"] = config.seed;
  j["time_budget_s"] = f.budget_s;
  j["identical_batches"] = v.identical;
  j["identical_checksums"] = v.same_checksums;
  j["identical_losses"] = v.same_losses;
  j["checked_batches"] = v.checked_batches;
  j["checked_evals"] = v.checked_evals;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : runs) list.push_back(loader_json(r, train_rows.rows, batches));
  j["loaders"] = list;
  std::ofstream out(f.run.json);
  FASTTAB_REQUIRE(out, "--json: cannot write ", f.run.json);
  out << j.dump(1) << "\n";
  FASTTAB_REQUIRE(out.good(), "--json: writing ", f.run.json, " failed");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fasttab compare_loaders: the same training with each loader, timed, and checked for identical batches"};
  CompareFlags flags;
  add_compare_flags(app, flags);
  CLI11_PARSE(app, argc, argv);

  TrainConfig& config = flags.config;
  const double budget_s = flags.budget_s;
  try {
    check_loader_names(flags.names);
    config.validate();
    std::unique_ptr<Backend> backend = make_backend(cli::device_choice(flags.run.device));
    std::printf("fasttab compare_loaders on %s (%s backend)\n", backend->device_name().c_str(), backend->kind());
    const Dataset dataset = cli::build_dataset(flags.data, config, *backend, stdout);
    const Table train_rows = training_rows(dataset, config);
    std::printf("train %lld rows, test %lld rows, %d features; batch %d, %d epochs%s; time budget %s\n",
                static_cast<long long>(train_rows.rows), static_cast<long long>(dataset.test.rows), train_rows.cols,
                config.batch_size, config.epochs, config.shuffle ? ", shuffled" : "",
                budget_s > 0 ? (format_value(budget_s, "%g") + " s per loader and phase").c_str() : "none");
    std::fflush(stdout);

    std::vector<LoaderRun> runs;
    for (const auto& name : flags.names) runs.push_back(run_loader(*backend, name, train_rows, dataset, config, budget_s));
    if (const LoaderRun* per_sample = find_run(runs, "per-sample"))
      for (auto& r : runs) r.speedup = per_sample->training.s_per_epoch / r.training.s_per_epoch;

    const Verdict verdict = compare_runs(runs);
    const std::int64_t batches = (train_rows.rows + config.batch_size - 1) / config.batch_size;
    print_comparison(runs, train_rows.rows, config.epochs, batches, budget_s, verdict);
    if (!flags.plot_path.empty())
      write_loader_plot(flags.plot_path, runs, "fasttab loaders: " + dataset.source + " on " + backend->device_name());
    if (!flags.run.json.empty()) write_compare_json(flags, *backend, dataset, train_rows, batches, runs, verdict);
    if (!verdict.identical) {
      std::fprintf(stderr, "error: the loaders did not yield identical batches\n");
      return 1;
    }
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
