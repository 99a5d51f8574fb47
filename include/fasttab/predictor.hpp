// Predictions of a saved model (a training checkpoint) on a table: the features standardised with the
// training split's statistics, as during training, then the MLP's forward pass in chunks on a backend, in
// model.precision (the precision it was trained in, unless the caller changes it: predict --precision).
#pragma once

#include <string>
#include <vector>

#include "fasttab/backend.hpp"
#include "fasttab/checkpoint.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/io.hpp"
#include "fasttab/table.hpp"

namespace fasttab {

// The model's outputs, rows x width (width = classes for multiclass, else 1), row-major: binary the logit,
// multiclass the class scores, regression the value in the user's units (model.target.inverse of the network's
// output). Throws Error when the table's feature count is not the model's, when the model and its buffers do not
// fit in the backend's free memory, and when an output is NaN or infinite (naming the row of `source`).
std::vector<float> predict_outputs(Backend& backend, const SavedModel& model, const Table& table,
                                   int chunk_rows = 16384, const std::string& source = "the table");
// The same before a regression target's transform is undone: the network's outputs as it computed them.
std::vector<float> predict_raw_outputs(Backend& backend, const SavedModel& model, const Table& table,
                                       int chunk_rows = 16384, const std::string& source = "the table");
// The same on features the caller holds (FeatureView: a host array, or a CUDA array on the backend's device), read in
// place where the backend can read them and the model does not standardise (else copied once into backend memory).
// For models without categorical columns or imputations. Throws Error as above, and for a NaN or infinite feature.
std::vector<float> predict_outputs(Backend& backend, const SavedModel& model, const FeatureView& features,
                                   int chunk_rows = 16384, const std::string& source = "the table");
std::vector<float> predict_raw_outputs(Backend& backend, const SavedModel& model, const FeatureView& features,
                                       int chunk_rows = 16384, const std::string& source = "the table");
// Regression: raw outputs -> the user's units, in place (model.target.inverse); other tasks: unchanged.
void to_user_units(const SavedModel& model, std::vector<float>& outputs);

// The metrics of raw outputs against the table's labels as train reports them: the labels transformed as in
// training (model.target.forward), the backend's metrics of evaluate_on_host, then target.trained_scale (y, or
// log y under --log-target). The labels must be valid for the task (validate_labels; > 0 under --log-target).
Metrics evaluate_raw_outputs(const SavedModel& model, const std::vector<float>& raw, const Table& table);

// Prepares a loaded table for the model: its categorical columns encoded with the model's vocabularies (a category
// the training rows did not have is the unseen code) and a text label renumbered as the model's classes (a label
// that is not one of them makes every label NaN, so that no metrics are computed). Throws Error naming `source`
// when a column holds text that was numeric in training.
void encode_for_model(const SavedModel& model, Table& table, const std::string& source);

// The columns of a data file as the loader would see them with `options` (delimiter and header detected when not
// given): format, column count, header names, and the features and label that options' --label-col and
// --features select (label_col -1: none). Reads only the start of the file. Throws Error naming the file.
ColumnLayout describe_file_columns(const LoadOptions& options);

// Binary: the probability 1 / (1 + exp(-logit)), in double so that large logits stay distinct.
double probability_from_logit(float logit);

// Multiclass: softmax of one row of class scores (double), and the index of the largest score (first on ties).
std::vector<double> softmax_row(const float* scores, int classes);
int argmax_row(const float* scores, int classes);

}  // namespace fasttab
