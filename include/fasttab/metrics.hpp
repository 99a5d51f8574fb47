// Host-side metrics (the device computes the same ones in Backend::evaluate).
#pragma once

#include <cstdint>

#include "fasttab/backend.hpp"

namespace fasttab {

// Exact ROC AUC of scores against 0/1 labels, ties counted one half; NaN unless both classes occur.
double roc_auc(const float* scores, const float* labels, std::int64_t rows);

// Metrics of host outputs (rows x width, leading dim ld) against host labels, as Backend::evaluate.
Metrics evaluate_on_host(Task task, const float* outputs, std::int64_t rows, int width, int ld, const float* labels);

}  // namespace fasttab
