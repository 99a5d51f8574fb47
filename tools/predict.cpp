// build/predict: apply a model saved by `train --save` to a table and write one prediction per row:
//   binary      the probability of class 1
//   multiclass  the class (argmax), and with --probabilities the K class probabilities after it
//   regression  the value
// to a .csv (header line, then one row per input row) or a .npy (float32; shape [rows] or [rows, 1 + K]).
// The features get the training split's standardisation (stored in the checkpoint). The label column is read
// as in training (same column flags); when its values are valid labels for the task, the metrics are printed.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "fasttab/backend.hpp"
#include "fasttab/checkpoint.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/error.hpp"
#include "fasttab/io.hpp"
#include "fasttab/metrics.hpp"
#include "fasttab/predictor.hpp"
#include "tools/io_flags.hpp"

namespace {

using namespace fasttab;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A 2-D float32 C-order .npy (1-D when width is 1), NumPy format version 1.0.
void write_npy_matrix(const std::string& path, const std::vector<float>& values, std::int64_t rows, int width) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) +
                       (width == 1 ? std::string(",") : ", " + std::to_string(width)) + "), }";
  const std::size_t unpadded = 10 + header.size() + 1;  // magic, version, length, header, newline
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  FASTTAB_REQUIRE(out, "--out: cannot write ", path);
  out.write("\x93NUMPY\x01\x00", 8);
  const std::uint16_t length = static_cast<std::uint16_t>(header.size());
  out.put(char(length & 0xFF));
  out.put(char(length >> 8));
  out << header;
  out.write(reinterpret_cast<const char*>(values.data()), std::streamsize(values.size() * sizeof(float)));
  FASTTAB_REQUIRE(out.good(), "--out: writing ", path, " failed");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fasttab predict: apply a model saved by `train --save` to a table"};
  std::string model_path, out_path, device = "auto";
  bool probabilities = false;
  LoadOptions load;
  app.add_option("--model", model_path, "checkpoint written by train --save")->required()->check(CLI::ExistingFile);
  app.add_option("--data", load.path, "table to predict: .csv, .csv.gz or .npy")->required();
  app.add_option("--out", out_path, "predictions: .csv or .npy (by extension)")->required();
  app.add_flag("--probabilities", probabilities, "multiclass: also write the K class probabilities");
  app.add_option("--device", device, "auto, cuda or cpu")->check(CLI::IsMember({"auto", "cuda", "cpu"}))->capture_default_str();
  add_io_flags(app, load);
  CLI11_PARSE(app, argc, argv);

  try {
    FASTTAB_REQUIRE(ends_with(out_path, ".csv") || ends_with(out_path, ".npy"), "--out ", out_path,
                    ": the name must end in .csv or .npy (it picks the format)");
    const SavedModel model = load_saved_model(model_path);
    const int width = model.spec.outputs;
    std::unique_ptr<Backend> backend = make_backend(device == "cuda" ? DeviceChoice::cuda
                                                    : device == "cpu" ? DeviceChoice::cpu : DeviceChoice::automatic);
    std::printf("fasttab predict on %s (%s backend): %s model, %d inputs, %d epochs trained\n",
                backend->device_name().c_str(), backend->kind(), to_string(model.task), model.spec.inputs,
                model.epochs_done);
    LoadReport report;
    const Table table = load_table(load, &report);
    std::printf("data: %s: %lld rows x %d features\n", load.path.c_str(), static_cast<long long>(table.rows), table.cols);
    const std::vector<float> outputs = predict_outputs(*backend, model, table);

    // One output row per input row: the prediction, then (multiclass with --probabilities) K probabilities.
    const bool with_probs = model.task == Task::multiclass && probabilities;
    const int out_width = with_probs ? 1 + width : 1;
    if (ends_with(out_path, ".csv")) {
      std::FILE* f = std::fopen(out_path.c_str(), "w");
      FASTTAB_REQUIRE(f, "--out: cannot write ", out_path);
      std::fputs(model.task == Task::binary ? "probability" : model.task == Task::multiclass ? "class" : "value", f);
      if (with_probs)
        for (int k = 0; k < width; ++k) std::fprintf(f, ",p%d", k);
      std::fputc('\n', f);
      for (std::int64_t r = 0; r < table.rows; ++r) {
        const float* o = outputs.data() + r * width;
        if (model.task == Task::binary) std::fprintf(f, "%.17g\n", probability_from_logit(o[0]));
        else if (model.task == Task::regression) std::fprintf(f, "%.9g\n", double(o[0]));
        else {
          std::fprintf(f, "%d", argmax_row(o, width));
          if (with_probs)
            for (double p : softmax_row(o, width)) std::fprintf(f, ",%.9g", p);
          std::fputc('\n', f);
        }
      }
      const bool ok = std::ferror(f) == 0;
      FASTTAB_REQUIRE(std::fclose(f) == 0 && ok, "--out: writing ", out_path, " failed");
    } else {
      std::vector<float> values(std::size_t(table.rows) * out_width);
      for (std::int64_t r = 0; r < table.rows; ++r) {
        const float* o = outputs.data() + r * width;
        float* v = values.data() + r * out_width;
        if (model.task == Task::binary) v[0] = float(probability_from_logit(o[0]));
        else if (model.task == Task::regression) v[0] = o[0];
        else {
          v[0] = float(argmax_row(o, width));
          if (with_probs) {
            const std::vector<double> p = softmax_row(o, width);
            for (int k = 0; k < width; ++k) v[1 + k] = float(p[k]);
          }
        }
      }
      write_npy_matrix(out_path, values, table.rows, out_width);
    }
    std::printf("wrote %lld predictions to %s\n", static_cast<long long>(table.rows), out_path.c_str());

    // Metrics when the label column holds valid labels for the task.
    bool labelled = true;
    try {
      validate_labels(model.task, model.task == Task::multiclass ? width : 0, table, load.path);
    } catch (const Error&) {
      labelled = false;
    }
    if (labelled && table.rows > 0) {
      const Metrics m = evaluate_on_host(model.task, outputs.data(), table.rows, width, width, table.labels.data());
      if (model.task == Task::binary)
        std::printf("metrics on all %lld rows: loss %.6f  AUC %.6f  accuracy %.6f\n", static_cast<long long>(m.rows),
                    m.loss, m.auc, m.accuracy);
      else if (model.task == Task::multiclass)
        std::printf("metrics on all %lld rows: loss %.6f  accuracy %.6f\n", static_cast<long long>(m.rows), m.loss, m.accuracy);
      else
        std::printf("metrics on all %lld rows: MSE %.6f  RMSE %.6f  R^2 %.6f\n", static_cast<long long>(m.rows), m.loss,
                    m.rmse, m.r2);
    } else {
      std::printf("the label column holds no valid %s labels: no metrics\n", to_string(model.task));
    }
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
