// The "config" section of a checkpoint: the run's settings (written from the settings table, settings.hpp), the
// data shape and the column layout, and what reading them back needs.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "fasttab/io.hpp"
#include "fasttab/model.hpp"

namespace fasttab::checkpoint {

// Throws at the first field of `saved` whose value differs from `run` (arrays compared whole), naming the field,
// its flag and both values. "data.source", "epochs" and "eval_every" may differ.
void require_same(const nlohmann::json& saved, const nlohmann::json& run, const std::string& path);

MlpSpec spec_from_json(const nlohmann::json& model);
nlohmann::json layout_to_json(const ColumnLayout& layout);
ColumnLayout layout_from_json(const nlohmann::json& layout);

}  // namespace fasttab::checkpoint
