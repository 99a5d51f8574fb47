// load_saved_model: what predict needs from a training checkpoint.
#include "fasttab/checkpoint.hpp"

#include "fasttab/error.hpp"
#include "fasttab/names.hpp"
#include "host/checkpoint/config_json.hpp"
#include "host/checkpoint/sections.hpp"

namespace fasttab {

using nlohmann::json;
using namespace checkpoint;

SavedModel load_saved_model(const std::string& path) {
  const CheckpointFile file = read_checkpoint_file(path);
  SavedModel m;
  const json config = parse_section(file, "config");
  try {
    m.spec = spec_from_json(config.at("model"));
    m.task = parse_name<Task>(config.at("task").get<std::string>(), "the checkpoint's task");
    m.classes = config.at("classes").get<int>();
    if (config.contains("precision"))
      m.precision = parse_name<Precision>(config.at("precision").get<std::string>(), "the checkpoint's precision");
    if (config.contains("gemm"))
      m.gemm = parse_name<GemmLibrary>(config.at("gemm").get<std::string>(), "the checkpoint's gemm");
    if (config.contains("fused_mlp")) m.fused_mlp = config.at("fused_mlp").get<bool>();
    if (config.contains("pad_hidden")) {
      m.pad_hidden = config.at("pad_hidden").get<int>();
      FASTTAB_REQUIRE(m.pad_hidden >= 1 && m.pad_hidden <= 256, "checkpoint ", file.display_path(), ": pad_hidden ",
                      m.pad_hidden, " is not in [1, 256]");
    }
  } catch (const json::exception& e) {
    FASTTAB_FAIL("checkpoint ", file.display_path(), ": section \"config\" lacks a field (", e.what(), ")");
  }
  if (config.contains("layout")) {
    try {
      m.layout = layout_from_json(config.at("layout"));
    } catch (const json::exception& e) {
      FASTTAB_FAIL("checkpoint ", file.display_path(), ": section \"config\" has a malformed \"layout\" (", e.what(),
                   ")");
    }
    FASTTAB_REQUIRE(int(m.layout.feature_cols.size()) + m.layout.indicator_count() == m.spec.inputs, "checkpoint ",
                    file.display_path(), ": its layout lists ", m.layout.feature_cols.size(), " feature columns and ",
                    m.layout.indicator_count(), " missing-value indicators but the model has ", m.spec.inputs, " inputs");
  }
  m.config_json = file.get_string("config");
  const json progress = parse_section(file, "progress");
  m.epochs_done = progress.at("epochs_done").get<int>();
  const bool best = file.find("best_parameters") && progress.at("best_epoch").get<int>() > 0;
  m.parameters = file.get_vector<float>(best ? "best_parameters" : "parameters");
  require_size(file, best ? "best_parameters" : "parameters", m.parameters.size(), m.spec.parameter_count());
  m.standardization = standardization_from(file, m.spec.inputs);
  m.target = target_transform_from(file);
  return m;
}

namespace {
CheckpointFile parse_in_memory(const std::string& checkpoint) {
  return parse_checkpoint_bytes(std::vector<std::uint8_t>(checkpoint.begin(), checkpoint.end()), "");
}
}  // namespace

std::optional<std::string> checkpoint_section(const std::string& checkpoint, const std::string& name) {
  const CheckpointFile file = parse_in_memory(checkpoint);
  if (!file.find(name)) return std::nullopt;
  return file.get_string(name);
}

std::string checkpoint_with_section(const std::string& checkpoint, const std::string& name, const std::string& text) {
  CheckpointFile file = parse_in_memory(checkpoint);
  file.put_string(name, text);
  const std::vector<std::uint8_t> bytes = checkpoint_bytes(file);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace fasttab
