// Helpers the checkpoint's JSON sections share: numbers that may be NaN, metrics, a section parsed with the file
// named in errors, and the size check of a float section.
#pragma once

#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "fasttab/backend.hpp"
#include "fasttab/dataset.hpp"
#include "host/checkpoint/checkpoint_file.hpp"

namespace fasttab::checkpoint {

using nlohmann::json;

// JSON has no NaN or infinity: they are stored as null and read back as NaN, or as `missing` where given.
inline json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
inline double number_from(const json& j, double missing = std::nan("")) { return j.is_null() ? missing : j.get<double>(); }

json metrics_to_json(const Metrics& m);
Metrics metrics_from_json(const json& j);

// The section `name` parsed as JSON; throws Error naming the file and the section.
json parse_section(const CheckpointFile& file, const std::string& name);
// Throws unless a float section holds `want` values.
void require_size(const CheckpointFile& file, const std::string& name, std::size_t got, std::size_t want);
// The "standardization" section: cols means then cols inverse deviations (empty when off).
Standardization standardization_from(const CheckpointFile& file, int cols);
// The "target" section: a regression model's target transform as JSON {"log": bool, "mean": number, "std": number}
// (doubles, written to round-trip exactly). Checkpoints without one (older ones): the identity.
void put_target_transform(CheckpointFile& file, const TargetTransform& t);
TargetTransform target_transform_from(const CheckpointFile& file);

}  // namespace fasttab::checkpoint
