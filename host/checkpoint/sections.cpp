#include "host/checkpoint/sections.hpp"

#include <limits>

#include "fasttab/error.hpp"

namespace fasttab::checkpoint {

json metrics_to_json(const Metrics& m) {
  return {{"loss", number(m.loss)}, {"auc", number(m.auc)}, {"accuracy", number(m.accuracy)},
          {"rmse", number(m.rmse)}, {"mae", number(m.mae)},   {"r2", number(m.r2)},
          {"rows", m.rows}};
}

Metrics metrics_from_json(const json& j) {
  Metrics m;
  m.loss = number_from(j.at("loss"));
  m.auc = number_from(j.at("auc"));
  m.accuracy = number_from(j.at("accuracy"));
  m.rmse = number_from(j.at("rmse"));
  m.mae = j.contains("mae") ? number_from(j.at("mae")) : std::numeric_limits<double>::quiet_NaN();  // older: none
  m.r2 = number_from(j.at("r2"));
  m.rows = j.at("rows").get<std::int64_t>();
  return m;
}

json parse_section(const CheckpointFile& file, const std::string& name) {
  try {
    return json::parse(file.get_string(name));
  } catch (const json::exception& e) {
    FASTTAB_FAIL("checkpoint ", file.display_path(), ": section \"", name, "\" is not valid JSON (", e.what(), ")");
  }
}

void require_size(const CheckpointFile& file, const std::string& name, std::size_t got, std::size_t want) {
  FASTTAB_REQUIRE(got == want, "checkpoint ", file.display_path(), ": section \"", name, "\" holds ", got,
                  " floats; the model in its config needs ", want);
}

Standardization standardization_from(const CheckpointFile& file, int cols) {
  const std::vector<float> both = file.get_vector<float>("standardization");
  Standardization s;
  if (both.empty()) return s;
  require_size(file, "standardization", both.size(), 2 * std::size_t(cols));
  s.mean.assign(both.begin(), both.begin() + cols);
  s.inv_std.assign(both.begin() + cols, both.end());
  return s;
}

void put_target_transform(CheckpointFile& file, const TargetTransform& t) {
  file.put_string("target", json{{"log", t.log}, {"mean", t.mean}, {"std", t.std}}.dump());
}

TargetTransform target_transform_from(const CheckpointFile& file) {
  TargetTransform t;
  if (!file.find("target")) return t;
  const json j = parse_section(file, "target");
  try {
    t.log = j.at("log").get<bool>();
    t.mean = j.at("mean").get<double>();
    t.std = j.at("std").get<double>();
  } catch (const json::exception& e) {
    FASTTAB_FAIL("checkpoint ", file.display_path(), ": section \"target\" lacks a field (", e.what(), ")");
  }
  FASTTAB_REQUIRE(std::isfinite(t.mean) && std::isfinite(t.std) && t.std > 0, "checkpoint ", file.display_path(),
                  ": section \"target\" holds mean ", t.mean, " and std ", t.std, "; the std must be finite and > 0");
  return t;
}

}  // namespace fasttab::checkpoint
