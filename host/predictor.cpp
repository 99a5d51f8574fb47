#include "fasttab/predictor.hpp"

#include <algorithm>
#include <cmath>

#include "fasttab/dataset.hpp"
#include "fasttab/error.hpp"
#include "fasttab/model.hpp"

namespace fasttab {

std::vector<float> predict_outputs(Backend& backend, const SavedModel& model, const Table& table, int chunk_rows) {
  FASTTAB_REQUIRE(table.cols == model.spec.inputs, "the data has ", table.cols, " feature columns; the model was trained on ",
                  model.spec.inputs, ". Select the same columns as in training (--label-col, --features)");
  FASTTAB_REQUIRE(chunk_rows >= 1, "chunk of ", chunk_rows, " rows is not >= 1");
  const int width = model.spec.outputs;
  std::vector<float> host(std::size_t(table.rows) * width);
  if (table.rows == 0) return host;
  DeviceTable device = upload_table(backend, table, "prediction table");
  if (model.standardization.enabled()) apply_standardization(backend, model.standardization, device);
  const int chunk = static_cast<int>(std::min<std::int64_t>(chunk_rows, table.rows));
  Mlp mlp(backend, model.spec, chunk);
  mlp.set_parameters(model.parameters);
  BackendBuffer<float> outputs(backend, host.size(), "prediction outputs");
  mlp.forward_rows(device.features.data(), device.ld, table.rows, outputs.data());
  backend.copy_to_host(host.data(), outputs.data(), outputs.bytes());
  return host;
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
