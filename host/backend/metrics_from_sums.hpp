// The last step of the CUDA backend's evaluate, on the host: the metrics from the device's per-task sums over the
// rows (cuda/ops/metrics.cu). Kept in host code so that the CPU tests check it (tests/cpu/backend/test_metrics.cpp)
// against the reference: the edge cases (one row, one class) are decided here, not on the device.
#pragma once

#include "fasttab/backend.hpp"

namespace fasttab {

// Number of doubles in MetricSums::sums.
constexpr int kMetricSums = 8;

// The sums the device reduces, in double, per task (slots not listed are not read):
//   binary:     sums[0] = sum of log losses, sums[1] = correct predictions, sums[2] = positive labels;
//               auc_numerator2 = sum over score groups of pos_g * (2 * neg_below_g + neg_g) (AUC = it / (2 P N)).
//   multiclass: sums[0] = sum of log losses, sums[1] = correct predictions.
//   regression: sums[0] = SSE = sum (x - y)^2, sums[1] = sum y, sums[2] = sum |x - y|,
//               sums[4] = SST = sum (y - mean y)^2 (a second pass, after sums[1]).
struct MetricSums {
  double sums[kMetricSums] = {};
  unsigned long long auc_numerator2 = 0;
};

// `m` with the task's fields set from `s` over m.rows rows (m.rows > 0); the fields that do not apply are left as
// they are (the caller sets them to NaN). Undefined metrics are NaN, as on the CPU backend: AUC with one class
// only, R^2 when SST is 0 (one row, or all labels equal).
Metrics metrics_from_sums(Task task, const MetricSums& s, Metrics m);

}  // namespace fasttab
