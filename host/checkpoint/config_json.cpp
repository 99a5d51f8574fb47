#include "host/checkpoint/config_json.hpp"

#include <map>
#include <type_traits>

#include "fasttab/error.hpp"
#include "fasttab/names.hpp"
#include "fasttab/settings.hpp"
#include "host/checkpoint/training_checkpoint.hpp"

namespace fasttab {

using nlohmann::json;

namespace {

// A setting's value as JSON: enums by their name (names.hpp), everything else as it is.
template <typename T>
json setting_json(const T& value) {
  if constexpr (std::is_enum_v<T>) return name_of(value);
  else return json(value);
}

// The flag behind a field of the config, for the mismatch message: the settings table's, or the data's.
std::string flag_of(const std::string& field) {
  static const std::map<std::string, std::string> data_fields{
      {"model.inputs", "--features / --data"}, {"model.outputs", "--task / --classes"},
      {"data.train_rows", "--data / --rows / --test-rows"}, {"data.test_rows", "--data / --rows / --test-rows"},
      {"data.cols", "--data / --features"},
      {"data.split", "--test-rows / --test-fraction / --test-data / --val-fraction / --split-seed"}};
  const auto it = data_fields.find(field);
  const std::string flag = it != data_fields.end() ? it->second : flag_of_setting(field);
  return flag.empty() ? "" : " (" + flag + ")";
}

void require_same_under(const json& saved, const json& run, const std::string& prefix, const std::string& path) {
  for (auto it = saved.begin(); it != saved.end(); ++it) {
    const std::string field = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (field == "data.source" || field == "epochs" || field == "eval_every") continue;  // free to differ
    FASTTAB_REQUIRE(run.contains(it.key()), "checkpoint ", path, " does not match this run: it has field \"", field,
                    "\", this run does not");
    const json& mine = run.at(it.key());
    if (it->is_object() && mine.is_object()) {
      require_same_under(*it, mine, field, path);
    } else {
      FASTTAB_REQUIRE(*it == mine, "checkpoint ", path, " does not match this run: ", field, flag_of(field), " is ",
                      it->dump(), " in the checkpoint but ", mine.dump(),
                      " in this run; resume with the settings and data the checkpoint was saved with");
    }
  }
}

}  // namespace

std::string checkpoint_config_json(const TrainConfig& c, const DataShape& data) {
  json j;
  for_each_setting(c, [&](const Setting& s, const auto& value) {
    std::string pointer = std::string("/") + s.key;
    for (char& ch : pointer)
      if (ch == '.') ch = '/';
    j[json::json_pointer(pointer)] = setting_json(value);
  });
  j["model"]["inputs"] = c.model.inputs;
  j["model"]["outputs"] = c.model.outputs;
  if (!c.model.embeddings.empty()) {  // older checkpoints have none: a model without categorical columns
    json embeddings = json::array();
    for (const EmbeddingSpec& e : c.model.embeddings)
      embeddings.push_back({{"column", e.column}, {"cardinality", e.cardinality}, {"dim", e.dim}});
    j["model"]["embeddings"] = embeddings;
  }
  j["classes"] = c.task == Task::multiclass ? c.model.outputs : 0;
  j["data"] = {{"source", data.source}, {"train_rows", data.train_rows}, {"test_rows", data.test_rows},
               {"val_rows", data.val_rows}, {"cols", data.cols}};
  if (!data.split.empty()) j["data"]["split"] = data.split;  // older checkpoints have none: not compared
  if (c.data_layout.known) j["layout"] = checkpoint::layout_to_json(c.data_layout);
  return j.dump(1);
}

namespace checkpoint {

void require_same(const json& saved, const json& run, const std::string& path) {
  require_same_under(saved, run, "", path);
}

MlpSpec spec_from_json(const json& m) {
  MlpSpec spec;
  spec.inputs = m.at("inputs").get<int>();
  spec.hidden = m.at("hidden").get<std::vector<int>>();
  spec.outputs = m.at("outputs").get<int>();
  spec.activation = parse_name<Activation>(m.at("activation").get<std::string>(), "the checkpoint's activation");
  spec.dropout = m.at("dropout").get<float>();
  if (m.contains("embeddings")) {
    for (const json& e : m.at("embeddings"))
      spec.embeddings.push_back(EmbeddingSpec{e.at("column").get<int>(), e.at("cardinality").get<int>(),
                                              e.at("dim").get<int>()});
  }
  spec.validate();
  return spec;
}

json layout_to_json(const ColumnLayout& l) {
  const std::string delimiter = l.delimiter == 0 ? "" : std::string(1, l.delimiter);
  json j = {{"format", l.format},           {"synthetic", l.synthetic},         {"source_cols", l.source_cols},
            {"label_col", l.label_col},     {"features", l.features},           {"feature_cols", l.feature_cols},
            {"feature_names", l.feature_names}, {"delimiter", delimiter},       {"header", l.header}};
  // Written only when there are some, so that older readers see the layout they know.
  if (!l.categorical_cols.empty()) {
    j["categorical_cols"] = l.categorical_cols;
    json vocabularies = json::array();
    for (const Vocabulary& v : l.vocabularies)
      vocabularies.push_back({{"feature", v.feature}, {"name", v.name}, {"categories", v.categories}});
    j["vocabularies"] = vocabularies;
  }
  if (!l.label_classes.empty()) j["label_classes"] = l.label_classes;
  if (!l.imputations.empty()) {
    json imputations = json::array();
    for (const Imputation& m : l.imputations)
      imputations.push_back({{"feature", m.feature}, {"mean", m.mean}, {"indicator", m.indicator}});
    j["imputations"] = imputations;
  }
  return j;
}

ColumnLayout layout_from_json(const json& j) {
  ColumnLayout l;
  l.known = true;
  l.format = j.at("format").get<std::string>();
  l.synthetic = j.at("synthetic").get<bool>();
  l.source_cols = j.at("source_cols").get<int>();
  l.label_col = j.at("label_col").get<int>();
  l.features = j.at("features").get<std::string>();
  l.feature_cols = j.at("feature_cols").get<std::vector<int>>();
  l.feature_names = j.at("feature_names").get<std::vector<std::string>>();
  const std::string delimiter = j.at("delimiter").get<std::string>();
  l.delimiter = delimiter.empty() ? 0 : delimiter[0];
  l.header = j.at("header").get<bool>();
  if (j.contains("categorical_cols")) {
    l.categorical_cols = j.at("categorical_cols").get<std::vector<int>>();
    for (const json& v : j.at("vocabularies"))
      l.vocabularies.push_back(Vocabulary{v.at("feature").get<int>(), v.at("name").get<std::string>(),
                                          v.at("categories").get<std::vector<std::string>>()});
  }
  if (j.contains("label_classes")) l.label_classes = j.at("label_classes").get<std::vector<std::string>>();
  if (j.contains("imputations")) {
    for (const json& m : j.at("imputations"))
      l.imputations.push_back(Imputation{m.at("feature").get<int>(), m.at("mean").get<float>(), m.at("indicator").get<bool>()});
  }
  return l;
}

}  // namespace checkpoint
}  // namespace fasttab
