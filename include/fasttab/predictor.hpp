// Predictions of a saved model (a training checkpoint) on a table: the features standardised with the
// training split's statistics, as during training, then the MLP's forward pass in chunks on a backend.
#pragma once

#include <vector>

#include "fasttab/backend.hpp"
#include "fasttab/checkpoint.hpp"
#include "fasttab/table.hpp"

namespace fasttab {

// The model's raw outputs, rows x width (width = classes for multiclass, else 1), row-major:
// binary the logit, multiclass the class scores, regression the value. Throws Error when the table's
// feature count is not the model's.
std::vector<float> predict_outputs(Backend& backend, const SavedModel& model, const Table& table,
                                   int chunk_rows = 16384);

// Binary: the probability 1 / (1 + exp(-logit)), in double so that large logits stay distinct.
double probability_from_logit(float logit);

// Multiclass: softmax of one row of class scores (double), and the index of the largest score (first on ties).
std::vector<double> softmax_row(const float* scores, int classes);
int argmax_row(const float* scores, int classes);

}  // namespace fasttab
