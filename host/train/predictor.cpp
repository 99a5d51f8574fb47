#include "fasttab/predictor.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string_view>

#include "fasttab/dataset.hpp"
#include "fasttab/error.hpp"
#include "fasttab/metrics.hpp"
#include "fasttab/model.hpp"
#include "host/io/column_spec.hpp"
#include "host/io/csv_dialect.hpp"
#include "host/io/csv_loader.hpp"
#include "host/io/mapped_file.hpp"
#include "host/io/npy_format.hpp"

namespace fasttab {

std::vector<float> predict_outputs(Backend& backend, const SavedModel& model, const Table& table, int chunk_rows,
                                   const std::string& source) {
  std::vector<float> outputs = predict_raw_outputs(backend, model, table, chunk_rows, source);
  to_user_units(model, outputs);
  return outputs;
}

void to_user_units(const SavedModel& model, std::vector<float>& outputs) {
  if (model.task != Task::regression || model.target.identity()) return;
  for (float& v : outputs) v = static_cast<float>(model.target.inverse(v));
}

Metrics evaluate_raw_outputs(const SavedModel& model, const std::vector<float>& raw, const Table& table) {
  const int width = model.spec.outputs;
  FASTTAB_REQUIRE(raw.size() == std::size_t(table.rows) * width, "evaluate_raw_outputs: ", raw.size(),
                  " outputs for ", table.rows, " rows of width ", width);
  Table labels;  // only the labels, transformed as in training
  labels.rows = table.rows;
  labels.labels = table.labels;
  if (model.task == Task::regression) apply_target_transform(model.target, labels);
  return model.target.trained_scale(
      evaluate_on_host(model.task, raw.data(), table.rows, width, width, labels.labels.data()));
}

namespace {

// The whole allocation of a prediction of `rows` rows, checked before any of it: the table's floats the backend
// must hold (table_floats: none for features read in place), the model for one chunk, the outputs.
void require_prediction_room(Backend& backend, const SavedModel& model, std::int64_t rows, int chunk_rows,
                             double table_floats) {
  const int chunk = static_cast<int>(std::min<std::int64_t>(chunk_rows, rows));
  const double outputs = double(rows) * model.spec.outputs;
  const double needed =
      4.0 * (table_floats + outputs) + Mlp::bytes_needed(model.spec, chunk, model.precision, model.pad_hidden,
                                                         model.fused_mlp);
  const double free = double(backend.free_bytes());
  FASTTAB_REQUIRE(needed <= free, "the model and its buffers need ", std::int64_t(needed), " bytes of ",
                  backend.kind(), " memory but only ", std::int64_t(free), " are available; predict a smaller "
                  "table at a time");
}

// The network's outputs on a table in backend memory (standardised here with the model's statistics: a borrowed
// table is copied first, see make_features_writable), in chunks of chunk_rows rows.
std::vector<float> forward_table(Backend& backend, const SavedModel& model, DeviceTable& device, int chunk_rows,
                                 const std::string& source) {
  const int width = model.spec.outputs;
  std::vector<float> host(std::size_t(device.rows) * width);
  if (model.standardization.enabled()) {
    make_features_writable(backend, device, "standardised prediction rows");
    apply_standardization(backend, model.standardization, device);
  }
  const int chunk = static_cast<int>(std::min<std::int64_t>(chunk_rows, device.rows));
  Mlp mlp(backend, model.spec, chunk, model.precision, model.pad_hidden, model.fused_mlp);
  mlp.set_parameters(model.parameters);
  BackendBuffer<float> outputs(backend, host.size(), "prediction outputs");
  mlp.forward_rows(device.features.data(), device.ld, device.rows, outputs.data());
  const std::int64_t bad = backend.find_nonfinite(outputs.data(), std::int64_t(host.size()));
  backend.copy_to_host(host.data(), outputs.data(), outputs.bytes());
  FASTTAB_REQUIRE(bad < 0, "row ", bad / width + 1, " of ", source, ": the model's output is ",
                  bad < 0 ? 0.0f : host[std::size_t(bad)], "; no predictions were written. Its features are too large "
                  "for the model (check the row for extreme values; a model trained with --standardize is more robust)");
  return host;
}

void require_model_columns(const SavedModel& model, int cols) {
  FASTTAB_REQUIRE(cols == model.spec.inputs, "the data has ", cols, " feature columns; the model was trained on ",
                  model.spec.inputs, ". Select the same columns as in training (--label-col, --features)");
}

}  // namespace

std::vector<float> predict_raw_outputs(Backend& backend, const SavedModel& model, const Table& table, int chunk_rows,
                                       const std::string& source) {
  require_model_columns(model, table.cols);
  FASTTAB_REQUIRE(table.categorical.empty(), source, ": its categorical columns are not encoded (encode_for_model)");
  FASTTAB_REQUIRE(chunk_rows >= 1, "chunk of ", chunk_rows, " rows is not >= 1");
  if (table.rows == 0) return {};
  require_prediction_room(backend, model, table.rows, chunk_rows, double(table.rows) * (table.cols + 1));
  backend.set_precision(model.precision);
  backend.set_gemm_library(model.gemm);
  DeviceTable device = upload_table(backend, table, "prediction table");
  return forward_table(backend, model, device, chunk_rows, source);
}

std::vector<float> predict_raw_outputs(Backend& backend, const SavedModel& model, const FeatureView& features,
                                       int chunk_rows, const std::string& source) {
  require_model_columns(model, features.cols);
  FASTTAB_REQUIRE(model.layout.vocabularies.empty() && model.layout.imputations.empty(), source, ": the model "
                  "encodes categorical columns or imputes missing values, which a table passed in place cannot "
                  "have; pass it as a host table");
  FASTTAB_REQUIRE(chunk_rows >= 1, "chunk of ", chunk_rows, " rows is not >= 1");
  if (features.rows == 0) return {};
  const bool in_place = reads_in_place(backend, features) && !model.standardization.enabled();
  const double table_floats = double(features.rows) * (in_place ? 1 : features.cols + 1);
  require_prediction_room(backend, model, features.rows, chunk_rows, table_floats);
  backend.set_precision(model.precision);
  backend.set_gemm_library(model.gemm);
  DeviceTable device = view_rows(backend, features, {}, 0, features.rows, "prediction rows");
  return forward_table(backend, model, device, chunk_rows, source);
}

std::vector<float> predict_outputs(Backend& backend, const SavedModel& model, const FeatureView& features,
                                   int chunk_rows, const std::string& source) {
  std::vector<float> outputs = predict_raw_outputs(backend, model, features, chunk_rows, source);
  to_user_units(model, outputs);
  return outputs;
}

void encode_for_model(const SavedModel& model, Table& table, const std::string& source) {
  encode_with_vocabularies(table, model.layout.vocabularies, source);
  apply_imputations(table, model.layout.imputations, source);
  if (table.label_classes.empty() && model.layout.label_classes.empty()) return;
  try {
    map_label_classes(table, model.layout.label_classes, source);
  } catch (const Error&) {  // labels the model does not know: predictions only
    std::fill(table.labels.begin(), table.labels.end(), std::nanf(""));
    table.label_classes = model.layout.label_classes;
  }
}

ColumnLayout describe_file_columns(const LoadOptions& options) {
  const MappedFile file(options.path);
  const std::string& name = options.path;
  FASTTAB_REQUIRE(file.size() > 0, name, ": the file is empty");
  const char* d = file.data();
  const std::size_t size = static_cast<std::size_t>(file.size());
  ColumnLayout l;
  l.known = true;
  std::vector<std::string> names;
  if (size >= 2 && static_cast<unsigned char>(d[0]) == 0x1f && static_cast<unsigned char>(d[1]) == 0x8b) {
    l.format = "csv.gz";
  } else if (size >= 6 && std::memcmp(d, "\x93NUMPY", 6) == 0) {
    l.format = "npy";
  } else {
    FASTTAB_REQUIRE(!(size >= 8 && std::memcmp(d, "FTCACHE", 8) == 0), name,
                    ": this is a fasttab table cache; give the .csv or .csv.gz it was made from");
    l.format = "csv";
  }
  if (l.format == "npy") {
    const NpyHeader header = parse_npy_header(name, std::string_view(d, size));
    l.source_cols = static_cast<int>(header.cols);
  } else {
    constexpr std::size_t kHeadBytes = std::size_t{4} << 20;
    std::unique_ptr<TextChunkSource> source;
    if (l.format == "csv.gz") source = std::make_unique<GzipTextSource>(name, d, size, kHeadBytes);
    else source = std::make_unique<MemoryTextSource>(std::string_view(d, size), kHeadBytes);
    TextChunk head;
    FASTTAB_REQUIRE(source->next(head), name, ": the file is empty");
    const CsvDialect dialect = detect_csv_dialect(name, head.text, options.delimiter, options.header);
    l.source_cols = dialect.columns;
    l.delimiter = dialect.delimiter;
    l.header = dialect.has_header;
    names = dialect.names;
  }
  const ColumnSelection selection = select_columns(name, l.source_cols, names, options);
  l.label_col = selection.label_col;
  l.features = options.features;
  l.feature_cols = selection.features;
  if (l.header)
    for (int c : l.feature_cols) l.feature_names.push_back(names[std::size_t(c)]);
  return l;
}

double probability_from_logit(float logit) { return 1.0 / (1.0 + std::exp(-double(logit))); }

std::vector<double> softmax_row(const float* scores, int classes) {
  const double top = *std::max_element(scores, scores + classes);
  std::vector<double> p(classes);
  double sum = 0;
  for (int k = 0; k < classes; ++k) sum += p[k] = std::exp(double(scores[k]) - top);
  for (double& v : p) v /= sum;
  return p;
}

int argmax_row(const float* scores, int classes) {
  return static_cast<int>(std::max_element(scores, scores + classes) - scores);
}

}  // namespace fasttab
