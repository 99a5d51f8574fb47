// What train, compare_loaders and predict share: the data, model and training flags, building the dataset
// (synthetic or a file), and the JSON of metrics. Flags are parsed by CLI11; out-of-range values are refused
// there with the flag's name, and by TrainConfig::validate with its range.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
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
#include "fasttab/names.hpp"
#include "fasttab/settings.hpp"
#include "host/checkpoint/sections.hpp"
#include "host/loaders/loader.hpp"
#include "tools/io_flags.hpp"

namespace fasttab::cli {

struct DataFlags {
  std::string data;              // empty: the built-in synthetic data
  std::int64_t rows = -1;        // synthetic rows (-1: 11M on a GPU, a reduced default on the CPU)
  std::int64_t test_rows = -1;   // -1: a file's default random split; the synthetic data's last rows (the seed's default)
  double test_fraction = 0;      // 0: not given (a file's default is 0.2)
  std::uint64_t split_seed = 0;
  std::string test_data;         // a separate test file
  std::string export_npy;
  LoadOptions load;
};

struct RunFlags {
  std::string device = "auto";
  std::string json;
};

// Rows of the built-in data when the CPU backend runs it without --rows: small enough for a minute on 2 cores.
constexpr std::int64_t kCpuDefaultRows = 80'000;

// A setting's check (settings.hpp): a finite number in its range, with a short message ("--lr inf: must be a
// finite number > 0") instead of CLI11's range of 300 digits.
inline CLI::Validator setting_check(const Setting& setting) {
  return CLI::Validator(
      [setting](std::string& text) -> std::string {
        double v = 0;
        std::size_t used = 0;
        try {
          v = std::stod(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        const std::string why = used > 0 && used == text.size() ? out_of_range(setting, v)
                                                               : out_of_range(setting, std::nan(""));
        return why.empty() ? std::string() : text + ": " + why;
      },
      "NUMBER");
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
  app.add_option("--test-rows", f.test_rows, "the last N rows are the test set (default for a file: a random 20% "
                 "(--test-fraction); for the synthetic data: 500,000 above 5M rows, else 10%)")
      ->check(CLI::Range(std::int64_t(1), std::int64_t(2'000'000'000)));
  app.add_option("--test-fraction", f.test_fraction, "a seeded random fraction in (0, 1) of the file's rows is the "
                 "test set (default 0.2 when neither --test-rows nor --test-data is given)");
  app.add_option("--split-seed", f.split_seed, "seed of the random test and validation rows (--test-fraction, "
                 "--val-fraction)")->capture_default_str();
  app.add_option("--test-data", f.test_data, "a separate test file, read with the training file's column flags");
  app.add_option("--export-npy", f.export_npy, "also write the selected table (label first) as a float32 .npy");
  add_io_flags(app, f.load);
}

// Every setting of the table in settings.hpp as a flag, with its help, its range and its names; the settings
// whose keys are in `leave_out` are not offered (compare_loaders runs every loader, so it has no --loader).
inline void add_setting_flags(CLI::App& app, TrainConfig& c, const std::vector<std::string>& leave_out = {}) {
  app.add_option("--val-fraction", c.val_fraction, "early stopping's validation rows: a seeded random fraction in "
                 "(0, 1) of the training rows (--split-seed; instead of --val-rows)");
  for_each_setting(c, [&](const Setting& s, auto& value) {
    using T = std::decay_t<decltype(value)>;
    if (std::find(leave_out.begin(), leave_out.end(), s.key) != leave_out.end()) return;
    if constexpr (std::is_same_v<T, bool>) {
      app.add_flag(std::string(s.flag) + ",!--no-" + std::string(s.flag + 2), value, s.help);
    } else if constexpr (std::is_enum_v<T>) {
      app.add_option(s.flag, value, std::string(s.help) + ": " + name_list<T>())
          ->transform(CLI::CheckedTransformer(name_map<T>()));
    } else if constexpr (std::is_same_v<T, std::string>) {  // the loader, checked by the registry's message
      std::string names;
      for (const std::string& n : loader_names()) names += (names.empty() ? "" : ", ") + n;
      app.add_option(s.flag, value, std::string(s.help) + ": " + names)->capture_default_str();
    } else if constexpr (std::is_same_v<T, std::vector<int>>) {
      app.add_option(s.flag, value, s.help)->delimiter(',')->check(setting_check(s))->capture_default_str();
    } else {
      app.add_option(s.flag, value, s.help)->check(setting_check(s))->capture_default_str();
    }
  });
}

inline void add_run_flags(CLI::App& app, RunFlags& r) {
  app.add_option("--device", r.device, name_list<DeviceChoice>())
      ->check(CLI::IsMember(name_map<DeviceChoice>()))->capture_default_str();
  app.add_option("--json", r.json, "write the run's figures as one JSON object to this file");
}

inline DeviceChoice device_choice(const std::string& name) { return parse_name<DeviceChoice>(name, "--device"); }

// A number as %g prints it: 80 for 0.8 * 100.
inline std::string g_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A text label's classes, one line: "label classes: 0 = no, 1 = yes".
inline void print_label_classes(const Table& t, std::FILE* log) {
  if (t.label_classes.empty()) return;
  std::string text;
  for (std::size_t i = 0; i < t.label_classes.size() && i < 20; ++i)
    text += (i ? ", " : "") + std::to_string(i) + " = " + t.label_classes[i];
  if (t.label_classes.size() > 20) text += ", ... (" + std::to_string(t.label_classes.size()) + " classes)";
  std::fprintf(log, "label classes: %s\n", text.c_str());
}

// The categorical columns, one line: "categorical: cut (5 + 2), color (7 + 2)": categories of the training rows
// plus the missing and unseen buckets.
inline void print_vocabularies(const Table& t, std::FILE* log) {
  if (t.vocabularies.empty()) return;
  std::string text;
  for (const Vocabulary& v : t.vocabularies) {
    if (!text.empty()) text += ", ";
    text += (v.name.empty() ? "feature " + std::to_string(v.feature) : v.name) + " (" +
            std::to_string(v.categories.size()) + " + 2)";
  }
  std::fprintf(log, "categorical: %s (categories of the training rows + missing and unseen)\n", text.c_str());
}

// Sharded loading under mpirun (docs/scaling.md): rank `rank` of `ranks` keeps only its shard of the training
// rows, the validation rows and the test rows when nothing needs every training row: --shard with --test-rows or
// --test-data (not a random split or --val-fraction, which choose among all rows), and no statistic of the
// training rows (--standardize, a regression target's transform, categorical vocabularies, --nan-policy
// indicator's means, multiclass classes counted from the labels), and no --export-npy of the whole table.
inline bool shard_load_allowed(const DataFlags& f, const TrainConfig& c, int ranks) {
  if (ranks <= 1 || !c.shard || f.data.empty() || (f.test_rows <= 0 && f.test_data.empty())) return false;
  return !(c.val_fraction > 0 || c.standardize || !f.export_npy.empty() || !f.load.categorical.empty() ||
           f.load.nan_policy == NanPolicy::indicator || (c.task == Task::multiclass && c.classes == 0) ||
           (c.task == Task::regression && (c.standardize_target || c.log_target)));
}

// The rows rank `rank` keeps of a table of n rows: its shard [r*m, (r+1)*m) of the training rows (m as in
// TrainingRun), then the validation and test rows at the end; sets *train_total (the table's training rows,
// validation included) and *shard_begin. Empty when the split leaves nothing to cut (the whole load reports why).
inline std::vector<RowRange> shard_row_ranges(const DataFlags& f, const TrainConfig& c, int rank, int ranks,
                                              std::int64_t n, std::int64_t* train_total, std::int64_t* shard_begin) {
  const std::int64_t test_rows = f.test_data.empty() ? f.test_rows : 0;
  const std::int64_t n_train = n - test_rows;
  if (n <= 0 || n_train <= c.val_rows) return {};
  const std::int64_t m = (n_train - c.val_rows) / ranks;
  if (m <= 0) return {};
  *train_total = n_train;
  *shard_begin = rank * m;
  return {RowRange{rank * m, rank * m + m}, RowRange{n_train - c.val_rows, n}};
}

// A table cut to row ranges (the rows of a table that had to be loaded whole), the rest freed.
inline Table keep_row_ranges(Table&& table, const std::vector<RowRange>& ranges) {
  Table out = table_like(table);
  const auto cols = static_cast<std::int64_t>(table.cols);
  for (const RowRange& r : ranges) {
    out.labels.insert(out.labels.end(), table.labels.begin() + r.begin, table.labels.begin() + r.end);
    out.features.insert(out.features.end(), table.features.begin() + r.begin * cols,
                        table.features.begin() + r.end * cols);
  }
  out.rows = static_cast<std::int64_t>(out.labels.size());
  return out;
}

// The dataset: the file given by --data, or synthetic rows (a reduced default on the CPU backend). A file's test
// set is --test-data, the last --test-rows rows or a seeded random --test-fraction (default 0.2); the synthetic
// data's is its last rows. --val-fraction becomes c.val_rows: random training rows moved to the end. The split in
// use is printed, one line. `rank` of `ranks`: under mpirun, where --shard may read only the rank's rows
// (shard_load_allowed).
inline Dataset build_dataset(DataFlags& f, TrainConfig& c, const Backend& backend, std::FILE* log, int rank = 0,
                             int ranks = 1) {
  Table table;
  Dataset dataset;
  std::vector<float> probabilities;
  std::int64_t train_total = -1, shard_begin = 0;  // a partial load (shard_row_ranges)
  FASTTAB_REQUIRE(f.test_fraction == 0 || (std::isfinite(f.test_fraction) && f.test_fraction > 0 && f.test_fraction < 1),
                  "--test-fraction ", f.test_fraction, ": must be a fraction in (0, 1), ends excluded");
  FASTTAB_REQUIRE(f.test_rows < 0 || f.test_fraction == 0, "--test-rows ", f.test_rows, " and --test-fraction ",
                  f.test_fraction, " both choose the test rows: give one of them");
  FASTTAB_REQUIRE(f.test_data.empty() || (f.test_rows < 0 && f.test_fraction == 0),
                  "--test-data ", f.test_data, " is the test set: it takes neither --test-rows nor --test-fraction");
  LoadOptions test_load = f.load;
  if (!f.data.empty()) {
    FASTTAB_REQUIRE(f.rows < 0, "--rows sets the size of the synthetic data; with --data the file decides");
    f.load.path = f.data;
    LoadReport report;
    // A .npy or a cached table: read only this rank's rows (their count is known before reading).
    if (shard_load_allowed(f, c, ranks))
      f.load.rows = shard_row_ranges(f, c, rank, ranks, known_table_rows(f.load), &train_total, &shard_begin);
    table = load_table(f.load, &report);
    if (!f.load.rows.empty() && !table.categorical.empty()) {  // a cached table's categories need every row
      f.load.rows.clear();
      train_total = -1, shard_begin = 0;
      table = load_table(f.load, &report);
    } else if (f.load.rows.empty() && shard_load_allowed(f, c, ranks) && table.categorical.empty()) {
      // CSV text, parsed whole: keep this rank's rows only, which frees the others.
      const std::vector<RowRange> keep = shard_row_ranges(f, c, rank, ranks, table.rows, &train_total, &shard_begin);
      if (!keep.empty()) table = keep_row_ranges(std::move(table), keep);
    }
    f.load.rows.clear();
    for (const std::string& w : report.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    std::fprintf(log, "data: %s (%s%s): %lld rows x %d features in %.2f s%s\n", f.data.c_str(), report.format.c_str(),
                 report.from_cache ? ", from the cache" : "", static_cast<long long>(table.rows), table.cols,
                 report.seconds, train_total >= 0 ? " (this rank's shard, the validation and the test rows)" : "");
  } else {
    FASTTAB_REQUIRE(f.test_fraction == 0 && f.test_data.empty(), "--test-fraction and --test-data split a file "
                    "(--data); the built-in synthetic data's test set is its last rows (--test-rows)");
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
  if (!f.test_data.empty()) {
    test_load.path = f.test_data;
    LoadReport report;
    Table test = load_table(test_load, &report);
    for (const std::string& w : report.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    dataset = with_test_table(std::move(table), std::move(test), f.data, f.test_data);
    std::fprintf(log, "split: test rows from %s\n", f.test_data.c_str());
  } else if (f.data.empty() || f.test_rows > 0) {
    const std::int64_t test_rows = f.test_rows > 0 ? f.test_rows : default_test_rows(rows);
    dataset = split_train_test(std::move(table), test_rows, f.data.empty() ? "synthetic data" : f.data);
    std::fprintf(log, "split: the last %lld rows are the test set\n", static_cast<long long>(test_rows));
    if (!probabilities.empty()) {
      dataset.synthetic = true;
      if (c.task == Task::binary)
        dataset.bayes_auc = roc_auc(probabilities.data() + (rows - test_rows), dataset.test.labels.data(), test_rows);
    }
  } else {
    const double fraction = f.test_fraction > 0 ? f.test_fraction : 0.2;
    dataset = split_random(std::move(table), fraction, f.split_seed, f.data);
    std::fprintf(log, "split: random %s/%s (split seed %llu): %lld train, %lld test rows\n",
                 g_text(100 * (1 - fraction)).c_str(), g_text(100 * fraction).c_str(),
                 static_cast<unsigned long long>(f.split_seed), static_cast<long long>(dataset.train.rows),
                 static_cast<long long>(dataset.test.rows));
  }
  dataset.train_rows_total = train_total;
  dataset.shard_begin = shard_begin;
  if (c.val_fraction > 0) {
    c.val_rows = take_validation_rows(dataset.train, c.val_fraction, f.split_seed);
    dataset.split += " val " + g_text(c.val_fraction) + " seed " + std::to_string(f.split_seed);
    std::fprintf(log, "validation: %lld random training rows (--val-fraction %g, split seed %llu)\n",
                 static_cast<long long>(c.val_rows), c.val_fraction, static_cast<unsigned long long>(f.split_seed));
    c.val_fraction = 0;  // now val_rows
  }
  print_label_classes(dataset.train, log);
  FASTTAB_REQUIRE(c.val_rows < dataset.train.rows, "--val-rows ", c.val_rows, " leaves no training rows of ",
                  dataset.train.rows);
  encode_categories(dataset, c.min_category_count, dataset.train.rows - c.val_rows);
  print_vocabularies(dataset.train, log);
  if (const int indicators = impute_missing_values(dataset, dataset.train.rows - c.val_rows))
    std::fprintf(log, "missing values: the training mean, and %d 'was missing' indicator column%s\n", indicators,
                 indicators == 1 ? "" : "s");
  return dataset;
}

// Metrics as the tools' JSON writes them: the checkpoint's form (NaN as null, and the row count).
inline nlohmann::json metrics_json(const Metrics& m) { return checkpoint::metrics_to_json(m); }

// --gemm cublaslt, cublaslt-timed: what each GEMM shape's plan chose (Backend::gemm_plans), as JSON and as lines.
inline nlohmann::json gemm_plans_json(const std::vector<GemmPlan>& plans) {
  nlohmann::json out = nlohmann::json::array();
  for (const GemmPlan& p : plans) {
    nlohmann::json j{{"gemm", p.gemm}, {"algorithm", p.algorithm}, {"timed", p.timed}, {"candidates", p.candidates},
                     {"chosen", p.chosen}};
    if (p.timed) j["ms"] = p.ms, j["heuristic_first_ms"] = p.heuristic_first_ms;
    out.push_back(j);
  }
  return out;
}
inline void print_gemm_plans(const std::vector<GemmPlan>& plans, std::FILE* log) {
  for (const GemmPlan& p : plans) {
    std::fprintf(log, "gemm plan: %s: %s", p.gemm.c_str(), p.algorithm.c_str());
    if (p.timed)
      std::fprintf(log, " (#%d of %d timed: %.4f ms, the heuristic's first %.4f ms)", p.chosen, p.candidates, p.ms,
                   p.heuristic_first_ms);
    std::fprintf(log, "\n");
  }
}

inline std::string today() {
  char buf[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&now));
  return buf;
}

}  // namespace fasttab::cli
