// build/predict: apply a model saved by `train --save` to a table and write one prediction per row:
//   binary      the probability of class 1 (with a text label: of the second class name, printed)
//   multiclass  the class (argmax; its name for a text label in a .csv), and with --probabilities the K class
//               probabilities after it
//   regression  the value
// to a .csv (header line, then one row per input row) or a .npy (float32; shape [rows] or [rows, 1 + K]).
// The features get the training split's standardisation (stored in the checkpoint). The label column is read
// The columns are the training file's (the layout stored in the checkpoint), the label column optional; when
// the label column holds valid labels for the task, the metrics are printed.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "fasttab/backend.hpp"
#include "fasttab/checkpoint.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/error.hpp"
#include "fasttab/io.hpp"
#include "fasttab/metrics.hpp"
#include "fasttab/predictor.hpp"
#include "fasttab/names.hpp"
#include "tools/cli_common.hpp"
#include "tools/io_flags.hpp"

namespace {

using namespace fasttab;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string delimiter_name(char d) { return d == '\t' ? "tab" : std::string(1, d); }

// The column of --label-col (not "none", not empty).
int parse_label_col(const std::string& label_flag) {
  int label_col = 0;
  std::size_t used = 0;
  try {
    label_col = std::stoi(label_flag, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  FASTTAB_REQUIRE(used == label_flag.size() && used > 0 && label_col >= 0, "--label-col ", label_flag,
                  ": give a 0-based column index or 'none'");
  return label_col;
}

// What the model was trained on, for messages.
std::string describe_training_columns(const ColumnLayout& l) {
  return l.synthetic ? std::string("the built-in synthetic data (label in column 0, as --export-npy writes it)")
                     : "a file of " + std::to_string(l.source_cols) + " columns, label in column " +
                           std::to_string(l.label_col) + ", --features " + l.features;
}

// Refuses column flags that contradict the model's layout `l`; takes its delimiter and (when it had none) the
// absence of a header.
void apply_layout_to_flags(const CLI::App& app, const ColumnLayout& l, const std::string& model_path,
                           const std::string& trained, bool label_given, bool no_label, int label_col,
                           LoadOptions& load) {
  if (label_given && !no_label)
    FASTTAB_REQUIRE(label_col == l.label_col, "--label-col ", label_col, " contradicts the model ", model_path,
                    ": it was trained on ", trained, ". Leave out --label-col (the model's layout is used), give "
                    "--label-col none for a file without the label, or --columns-from-flags when this file's columns "
                    "are arranged differently");
  if (app.count("--features") > 0)
    FASTTAB_REQUIRE(load.features == l.features, "--features ", load.features, " contradicts the model ", model_path,
                    ": it was trained on ", trained, ". Leave out --features (the model's layout is used), or give "
                    "--columns-from-flags when this file's columns are arranged differently");
  const bool csv = l.format == "csv" || l.format == "csv.gz";
  if (app.count("--delimiter") > 0 && csv)
    FASTTAB_REQUIRE(load.delimiter == l.delimiter, "--delimiter ", delimiter_name(load.delimiter),
                    " contradicts the model ", model_path, ": its training file was delimited by '",
                    delimiter_name(l.delimiter), "'. Leave out --delimiter");
  if (csv && !l.header && load.header == HeaderMode::present)
    FASTTAB_FAIL("--header contradicts the model ", model_path, ": its training file had no header. Leave it out");
  if (app.count("--delimiter") == 0 && csv) load.delimiter = l.delimiter;
  // A header is detected (a file of predictions may come without one); none is expected when training had none.
  if (csv && !l.header && load.header == HeaderMode::detect) load.header = HeaderMode::absent;
}

// Picks the model's columns in the file by its column count: the training file's (with the label) or one fewer
// (without it). Returns whether the file has the label column.
bool select_layout_columns(const ColumnLayout& l, const std::string& model_path, const std::string& trained,
                           bool label_given, bool no_label, int label_col, LoadOptions& load) {
  LoadOptions probe = load;
  probe.label_col = -1;
  probe.features = "all";
  const ColumnLayout file = describe_file_columns(probe);
  const bool with_label = file.source_cols == l.source_cols;
  const bool without_label = file.source_cols == l.source_cols - 1;
  const std::string expected = std::to_string(l.source_cols) + " columns (with the label) or " +
                               std::to_string(l.source_cols - 1) + " (without it)";
  if (no_label)
    FASTTAB_REQUIRE(without_label, load.path, " has ", file.source_cols, " columns; without the label the model ",
                    model_path, " needs ", l.source_cols - 1, " (it was trained on ", trained, ")");
  else if (label_given)
    FASTTAB_REQUIRE(with_label, load.path, " has ", file.source_cols, " columns; with the label in column ", label_col,
                    " the model ", model_path, " needs ", l.source_cols, " (it was trained on ", trained, ")");
  FASTTAB_REQUIRE(with_label || without_label, load.path, " has ", file.source_cols, " columns but the model ",
                  model_path, " was trained on ", trained, ": give a file of ", expected);
  // The model's columns by index (names may differ in a file without a header): its categorical columns read as
  // categories, the others as numbers, so that text in a numeric column is an error with its line.
  const bool labelled = with_label && !no_label;
  auto column = [&](int c) { return std::to_string(labelled || c < l.label_col ? c : c - 1); };
  auto list = [&](const std::vector<int>& columns) {
    std::string spec;
    for (int c : columns) spec += (spec.empty() ? "" : ",") + column(c);
    return spec;
  };
  std::vector<int> numeric;
  for (int c : l.feature_cols)
    if (std::find(l.categorical_cols.begin(), l.categorical_cols.end(), c) == l.categorical_cols.end()) numeric.push_back(c);
  load.label_name.clear();
  load.drop.clear();
  load.features = list(l.feature_cols);
  load.categorical = list(l.categorical_cols);
  load.numeric = list(numeric);
  load.label_col = labelled ? l.label_col : -1;
  if (labelled && !l.label_classes.empty()) load.categorical += (load.categorical.empty() ? "" : ",") + column(l.label_col);
  return labelled;
}

// The columns to read: the model's layout (the training file's label and feature columns) unless the checkpoint
// predates layouts; flags that contradict the layout are refused. Returns false when the file has no label column
// (given by --label-col none, or found from its column count: one fewer than the training file's).
bool choose_columns(const CLI::App& app, const SavedModel& model, const std::string& model_path,
                    const std::string& label_flag, bool columns_from_flags, LoadOptions& load) {
  const bool label_given = !label_flag.empty();
  const bool no_label = label_flag == "none";
  const int label_col = label_given && !no_label ? parse_label_col(label_flag) : 0;
  const ColumnLayout& l = model.layout;
  if (!l.known || columns_from_flags) {
    if (!l.known)
      std::printf("note: %s records no column layout (it was saved by an older version): the column flags apply as "
                  "given (--label-col %s, --features %s)\n", model_path.c_str(),
                  no_label ? "none" : std::to_string(label_col).c_str(), load.features.c_str());
    load.label_col = no_label ? -1 : label_col;
    return !no_label;
  }
  const std::string trained = describe_training_columns(l);
  apply_layout_to_flags(app, l, model_path, trained, label_given, no_label, label_col, load);
  return select_layout_columns(l, model_path, trained, label_given, no_label, label_col, load);
}

// A header must name the model's features, column by column.
void check_feature_names(const SavedModel& model, const Table& table, const std::string& file) {
  const std::vector<std::string>& want = model.layout.feature_names;
  if (want.empty() || table.feature_names.size() != want.size()) return;
  for (std::size_t i = 0; i < want.size(); ++i)
    FASTTAB_REQUIRE(table.feature_names[i] == want[i], file, ": feature ", i + 1, " is the column named '",
                    table.feature_names[i], "' but the model's feature ", i + 1, " is '", want[i],
                    "': the file's columns are not the training file's (same names in the same order, the label "
                    "column optional)");
}

// --held-out: the rows the training run held back as its test set, chosen again from the checkpoint's record of
// the split ("random test F seed S ..." or "last rows") on the same file. The file must have the training run's
// row count.
Table held_out_rows(const SavedModel& model, Table&& table, const std::string& path) {
  const nlohmann::json config = nlohmann::json::parse(model.config_json);
  const nlohmann::json& data = config.at("data");
  FASTTAB_REQUIRE(data.contains("split"), "--held-out: the model ", path, " records no split (it was saved by an "
                  "older version); predict the test rows as a file of their own");
  const std::string split = data.at("split").get<std::string>();
  const std::int64_t rows = data.at("train_rows").get<std::int64_t>() + data.at("val_rows").get<std::int64_t>() +
                            data.at("test_rows").get<std::int64_t>();
  FASTTAB_REQUIRE(table.rows == rows, "--held-out: the file has ", table.rows, " rows but the training run split ",
                  rows, " (", split, "); give the training file, with the same --nan-policy");
  std::istringstream words(split);
  std::string first, second;
  words >> first >> second;
  if (first == "last" && second == "rows")
    return split_train_test(std::move(table), data.at("test_rows").get<std::int64_t>(), path).test;
  double fraction = 0;
  std::string seed_word;
  std::uint64_t seed = 0;
  FASTTAB_REQUIRE(first == "random" && second == "test" && (words >> fraction >> seed_word >> seed) && seed_word == "seed",
                  "--held-out: the training run's test rows were '", split, "', not rows of this file; predict its "
                  "test file itself");
  return split_random(std::move(table), fraction, seed, path).test;
}

// Every flag of build/predict.
struct PredictFlags {
  std::string model_path, out_path, device = "auto";
  std::string precision;  // "": the model's (the precision it was trained in)
  std::string gemm;       // "": the model's (the GEMM library it was trained with)
  bool probabilities = false;
  bool held_out = false;
  LoadOptions load;
  std::string label_flag;
  bool columns_from_flags = false;
};

void add_predict_flags(CLI::App& app, PredictFlags& f) {
  app.add_option("--model", f.model_path, "checkpoint written by train --save")->required()->check(CLI::ExistingFile);
  app.add_option("--data", f.load.path, "table to predict: .csv, .csv.gz or .npy")->required();
  app.add_option("--out", f.out_path, "predictions: .csv or .npy (by extension)")->required();
  app.add_flag("--probabilities", f.probabilities, "multiclass: also write the K class probabilities");
  app.add_flag("--held-out", f.held_out,
               "predict only the rows the training run held back as its test set (--data: the training file), "
               "so that the metrics are its test figures");
  app.add_option("--device", f.device, name_list<DeviceChoice>())
      ->check(CLI::IsMember(name_map<DeviceChoice>()))->capture_default_str();
  app.add_option("--precision", f.precision, "the forward pass's arithmetic (default: the precision the model was "
                 "trained in): " + name_list<Precision>())
      ->check(CLI::IsMember(name_map<Precision>()));
  app.add_option("--gemm", f.gemm, "the GPU's GEMM library (default: the one the model was trained with): " +
                 name_list<GemmLibrary>())
      ->check(CLI::IsMember(name_map<GemmLibrary>()));
  add_io_flags(app, f.load);
  // predict's --label-col also takes "none" (a file without a label column).
  app.remove_option(app.get_option("--label-col"));
  app.add_option("--label-col", f.label_flag,
                 "0-based column of the label, or 'none' (default: the model's layout; with an older model, 0)");
  app.add_flag("--columns-from-flags", f.columns_from_flags,
               "the file's columns are arranged unlike the training file's: take --label-col (default 0) and "
               "--features as given instead of the model's layout (the feature count is still checked)");
}

// One line per input row: the prediction, then (with_probs) the K class probabilities.
// A CSV field: quoted (quotes doubled) when it holds a delimiter, a quote or a line end.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n;\t") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// A text label's class names (the model's label_classes) name the classes; otherwise their indices.
void write_predictions_csv(const std::string& out_path, Task task, const std::vector<float>& outputs,
                           std::int64_t rows, int width, bool with_probs, const std::vector<std::string>& names) {
  std::FILE* f = std::fopen(out_path.c_str(), "w");
  FASTTAB_REQUIRE(f, "--out: cannot write ", out_path);
  std::fputs(task == Task::binary ? "probability" : task == Task::multiclass ? "class" : "value", f);
  if (with_probs)
    for (int k = 0; k < width; ++k) std::fprintf(f, ",p%d", k);
  std::fputc('\n', f);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* o = outputs.data() + r * width;
    if (task == Task::binary) std::fprintf(f, "%.17g\n", probability_from_logit(o[0]));
    else if (task == Task::regression) std::fprintf(f, "%.9g\n", double(o[0]));
    else {
      const int k = argmax_row(o, width);
      if (std::size_t(k) < names.size()) std::fprintf(f, "%s", csv_field(names[std::size_t(k)]).c_str());
      else std::fprintf(f, "%d", k);
      if (with_probs)
        for (double p : softmax_row(o, width)) std::fprintf(f, ",%.9g", p);
      std::fputc('\n', f);
    }
  }
  const bool ok = std::ferror(f) == 0;
  FASTTAB_REQUIRE(std::fclose(f) == 0 && ok, "--out: writing ", out_path, " failed");
}

// float32 of shape [rows] or, with the probabilities, [rows, 1 + K].
void write_predictions_npy(const std::string& out_path, Task task, const std::vector<float>& outputs,
                           std::int64_t rows, int width, bool with_probs) {
  const int out_width = with_probs ? 1 + width : 1;
  std::vector<float> values(std::size_t(rows) * out_width);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* o = outputs.data() + r * width;
    float* v = values.data() + r * out_width;
    if (task == Task::binary) v[0] = float(probability_from_logit(o[0]));
    else if (task == Task::regression) v[0] = o[0];
    else {
      v[0] = float(argmax_row(o, width));
      if (with_probs) {
        const std::vector<double> p = softmax_row(o, width);
        for (int k = 0; k < width; ++k) v[1 + k] = float(p[k]);
      }
    }
  }
  write_npy_matrix(out_path, values.data(), rows, out_width, /*vector=*/out_width == 1);
}

// Metrics when the label column holds valid labels for the task, from the raw outputs, as train reports them
// (regression: in the scale the model was trained on, log y under --log-target).
void print_metrics(const SavedModel& model, const Table& table, const std::vector<float>& raw, int width,
                   bool labelled_file, const std::string& data_path) {
  if (!labelled_file) {
    std::printf("%s has no label column: predictions only, no metrics\n", data_path.c_str());
    return;
  }
  bool labelled = true;
  try {
    validate_labels(model.task, model.task == Task::multiclass ? width : 0, table, data_path);
  } catch (const Error&) {
    labelled = false;
  }
  if (labelled && model.target.log) {
    for (float y : table.labels) labelled = labelled && y > 0.0f;
    if (!labelled) {
      std::printf("the label column holds values <= 0, which have no log (the model was trained with --log-target): "
                  "no metrics\n");
      return;
    }
  }
  if (!labelled || table.rows == 0) {
    std::printf("the label column holds no valid %s labels: no metrics\n", name_of(model.task));
    return;
  }
  const Metrics m = evaluate_raw_outputs(model, raw, table);
  if (model.task == Task::binary)
    std::printf("metrics on all %lld rows: loss %.6f  AUC %.6f  accuracy %.6f\n", static_cast<long long>(m.rows),
                m.loss, m.auc, m.accuracy);
  else if (model.task == Task::multiclass)
    std::printf("metrics on all %lld rows: loss %.6f  accuracy %.6f\n", static_cast<long long>(m.rows), m.loss, m.accuracy);
  else
    std::printf("metrics on all %lld rows%s: MSE %.6f  RMSE %.6f  MAE %.6f  R^2 %.6f\n", static_cast<long long>(m.rows),
                model.target.log ? " (of log y)" : "", m.loss, m.rmse, m.mae, m.r2);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fasttab predict: apply a model saved by `train --save` to a table"};
  PredictFlags flags;
  add_predict_flags(app, flags);
  CLI11_PARSE(app, argc, argv);

  const std::string& model_path = flags.model_path;
  const std::string& out_path = flags.out_path;
  LoadOptions& load = flags.load;
  try {
    cli::refuse_output_onto_input("--out", out_path, {{"--data", load.path}, {"--model", model_path}});
    cli::check_writable("--out", out_path);
    FASTTAB_REQUIRE(ends_with(out_path, ".csv") || ends_with(out_path, ".npy"), "--out ", out_path,
                    ": the name must end in .csv or .npy (it picks the format)");
    SavedModel model = load_saved_model(model_path);
    if (!flags.precision.empty()) model.precision = parse_name<Precision>(flags.precision, "--precision");
    if (!flags.gemm.empty()) model.gemm = parse_name<GemmLibrary>(flags.gemm, "--gemm");
    if (model.precision != Precision::bf16) model.fused_mlp = false;  // the fused passes are bf16's
    const int width = model.spec.outputs;
    std::unique_ptr<Backend> backend = make_backend(parse_name<DeviceChoice>(flags.device, "--device"));
    std::printf("fasttab predict on %s (%s backend): %s model, %d inputs, %d epochs trained%s%s\n",
                backend->device_name().c_str(), backend->kind(), name_of(model.task), model.spec.inputs,
                model.epochs_done, model.precision == Precision::fp32 ? "" : ", precision ",
                model.precision == Precision::fp32 ? "" : name_of(model.precision));
    const bool labelled_file =
        choose_columns(app, model, model_path, flags.label_flag, flags.columns_from_flags, load);
    if (!model.layout.imputations.empty()) load.nan_policy = NanPolicy::indicator;  // the training run's imputation
    LoadReport report;
    Table table = load_table(load, &report);
    check_feature_names(model, table, load.path);
    encode_for_model(model, table, load.path);
    if (flags.held_out) {
      table = held_out_rows(model, std::move(table), model_path);
      std::printf("held-out rows: %lld test rows of the training run's split\n", static_cast<long long>(table.rows));
    }
    std::printf("data: %s: %lld rows x %d features\n", load.path.c_str(), static_cast<long long>(table.rows), table.cols);
    const std::vector<float> raw = predict_raw_outputs(*backend, model, table, 16384, load.path);
    std::vector<float> outputs = raw;
    to_user_units(model, outputs);  // regression: the value in the target's units

    const bool with_probs = model.task == Task::multiclass && flags.probabilities;
    if (model.task == Task::binary && model.layout.label_classes.size() == 2)
      std::printf("the probability is of class 1, '%s' (class 0: '%s')\n", model.layout.label_classes[1].c_str(),
                  model.layout.label_classes[0].c_str());
    if (ends_with(out_path, ".csv"))
      write_predictions_csv(out_path, model.task, outputs, table.rows, width, with_probs, model.layout.label_classes);
    else write_predictions_npy(out_path, model.task, outputs, table.rows, width, with_probs);
    std::printf("wrote %lld predictions to %s\n", static_cast<long long>(table.rows), out_path.c_str());
    print_metrics(model, table, raw, width, labelled_file, load.path);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
