#include "fasttab/checkpoint.hpp"

#include <cmath>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include "fasttab/checkpoint_file.hpp"
#include "fasttab/error.hpp"

namespace fasttab {

using nlohmann::json;

const char* to_string(Task task) {
  switch (task) {
    case Task::binary: return "binary";
    case Task::multiclass: return "multiclass";
    case Task::regression: return "regression";
  }
  return "?";
}

namespace {

const char* to_string(Activation a) { return a == Activation::tanh ? "tanh" : a == Activation::relu ? "relu" : "identity"; }

// JSON has no NaN or infinity: they are stored as null and read back as NaN, or as `missing` where given.
json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
double number_from(const json& j, double missing = std::nan("")) { return j.is_null() ? missing : j.get<double>(); }

json metrics_to_json(const Metrics& m) {
  return {{"loss", number(m.loss)}, {"auc", number(m.auc)},   {"accuracy", number(m.accuracy)},
          {"rmse", number(m.rmse)}, {"r2", number(m.r2)},     {"rows", m.rows}};
}
Metrics metrics_from_json(const json& j) {
  Metrics m;
  m.loss = number_from(j.at("loss"));
  m.auc = number_from(j.at("auc"));
  m.accuracy = number_from(j.at("accuracy"));
  m.rmse = number_from(j.at("rmse"));
  m.r2 = number_from(j.at("r2"));
  m.rows = j.at("rows").get<std::int64_t>();
  return m;
}

// The command-line flag behind a config field, for the mismatch error.
std::string flag_of(const std::string& field) {
  static const std::map<std::string, std::string> flags{
      {"model.hidden", "--hidden"}, {"model.activation", "--activation"}, {"model.dropout", "--dropout"},
      {"model.inputs", "--features / --data"}, {"model.outputs", "--task / --classes"}, {"task", "--task"},
      {"classes", "--classes"}, {"epochs", "--epochs"}, {"batch_size", "--batch-size"}, {"shuffle", "--shuffle"},
      {"seed", "--seed"}, {"precision", "--precision"}, {"loader", "--loader"}, {"standardize", "--standardize"},
      {"val_rows", "--val-rows"}, {"patience", "--patience"}, {"optimizer.kind", "--optimizer"},
      {"optimizer.lr", "--lr"}, {"optimizer.beta1", "--beta1"}, {"optimizer.beta2", "--beta2"},
      {"optimizer.weight_decay", "--weight-decay"}, {"optimizer.momentum", "--momentum"},
      {"schedule.kind", "--lr-schedule"}, {"schedule.warmup_steps", "--warmup-steps"},
      {"schedule.step_size", "--lr-step-size"}, {"schedule.gamma", "--lr-gamma"}, {"schedule.min_lr", "--min-lr"},
      {"data.train_rows", "--data / --rows / --test-rows"}, {"data.test_rows", "--data / --rows / --test-rows"},
      {"data.cols", "--data / --features"}};
  const auto it = flags.find(field);
  return it == flags.end() ? "" : " (" + it->second + ")";
}

// Throws at the first field of `saved` whose value differs from `run` (arrays compared whole).
void require_same(const json& saved, const json& run, const std::string& prefix, const std::string& path) {
  for (auto it = saved.begin(); it != saved.end(); ++it) {
    const std::string field = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (field == "data.source" || field == "epochs" || field == "eval_every") continue;  // free to differ
    FASTTAB_REQUIRE(run.contains(it.key()), "checkpoint ", path, " does not match this run: it has field \"", field,
                    "\", this run does not");
    const json& mine = run.at(it.key());
    if (it->is_object() && mine.is_object()) {
      require_same(*it, mine, field, path);
    } else {
      FASTTAB_REQUIRE(*it == mine, "checkpoint ", path, " does not match this run: ", field, flag_of(field), " is ",
                      it->dump(), " in the checkpoint but ", mine.dump(),
                      " in this run; resume with the settings and data the checkpoint was saved with");
    }
  }
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

MlpSpec spec_from_json(const json& m) {
  MlpSpec spec;
  spec.inputs = m.at("inputs").get<int>();
  spec.hidden = m.at("hidden").get<std::vector<int>>();
  spec.outputs = m.at("outputs").get<int>();
  const std::string act = m.at("activation").get<std::string>();
  FASTTAB_REQUIRE(act == "tanh" || act == "relu", "unknown activation \"", act, "\" in a checkpoint");
  spec.activation = act == "tanh" ? Activation::tanh : Activation::relu;
  spec.dropout = m.at("dropout").get<float>();
  spec.validate();
  return spec;
}

Task task_from_string(const std::string& s) {
  if (s == "binary") return Task::binary;
  if (s == "multiclass") return Task::multiclass;
  FASTTAB_REQUIRE(s == "regression", "unknown task \"", s, "\" in a checkpoint");
  return Task::regression;
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

}  // namespace

void copy_state_to_host(Backend& backend, const Mlp& mlp, Optimizer& optimizer, const BackendBuffer<float>& best,
                        TrainingState& s) {
  s.parameters = mlp.get_parameters();
  s.optimizer_state1.resize(optimizer.state1().size());
  s.optimizer_state2.resize(optimizer.state2().size());
  backend.copy_to_host(s.optimizer_state1.data(), optimizer.state1().data(), optimizer.state1().bytes());
  backend.copy_to_host(s.optimizer_state2.data(), optimizer.state2().data(), optimizer.state2().bytes());
  s.best_parameters.resize(best.size());
  if (best.size() > 0) backend.copy_to_host(s.best_parameters.data(), best.data(), best.bytes());
}

void copy_state_to_backend(Backend& backend, const TrainingState& s, Mlp& mlp, Optimizer& optimizer,
                           BackendBuffer<float>& best) {
  mlp.set_parameters(s.parameters);
  backend.copy_to_backend(optimizer.state1().data(), s.optimizer_state1.data(), optimizer.state1().bytes());
  backend.copy_to_backend(optimizer.state2().data(), s.optimizer_state2.data(), optimizer.state2().bytes());
  optimizer.set_steps_done(s.steps_done);
  if (best.size() > 0) {
    FASTTAB_REQUIRE(s.best_parameters.size() == best.size(), "the checkpoint holds no best weights for early stopping");
    backend.copy_to_backend(best.data(), s.best_parameters.data(), best.bytes());
  }
}

std::string checkpoint_config_json(const TrainConfig& c, const DataShape& data) {
  json j;
  j["model"] = {{"inputs", c.model.inputs}, {"hidden", c.model.hidden}, {"outputs", c.model.outputs},
                {"activation", to_string(c.model.activation)}, {"dropout", c.model.dropout}};
  j["task"] = to_string(c.task);
  j["classes"] = c.task == Task::multiclass ? c.model.outputs : 0;
  j["epochs"] = c.epochs;
  j["batch_size"] = c.batch_size;
  j["shuffle"] = c.shuffle;
  j["eval_every"] = c.eval_every;
  j["seed"] = c.seed;
  j["precision"] = c.precision == Precision::tf32 ? "tf32" : "fp32";
  j["optimizer"] = {{"kind", to_string(c.optimizer.kind)}, {"lr", c.optimizer.lr},       {"beta1", c.optimizer.beta1},
                    {"beta2", c.optimizer.beta2},          {"eps", c.optimizer.eps},     {"weight_decay", c.optimizer.weight_decay},
                    {"momentum", c.optimizer.momentum}};
  j["schedule"] = {{"kind", to_string(c.schedule.kind)}, {"warmup_steps", c.schedule.warmup_steps},
                   {"step_size", c.schedule.step_size}, {"gamma", c.schedule.gamma}, {"min_lr", c.schedule.min_lr}};
  j["loader"] = c.loader;
  j["standardize"] = c.standardize;
  j["val_rows"] = c.val_rows;
  j["patience"] = c.patience;
  j["data"] = {{"source", data.source}, {"train_rows", data.train_rows}, {"test_rows", data.test_rows},
               {"val_rows", data.val_rows}, {"cols", data.cols}};
  if (c.data_layout.known) {
    const ColumnLayout& l = c.data_layout;
    const std::string delimiter = l.delimiter == 0 ? "" : std::string(1, l.delimiter);
    j["layout"] = {{"format", l.format}, {"synthetic", l.synthetic}, {"source_cols", l.source_cols},
                   {"label_col", l.label_col}, {"features", l.features}, {"feature_cols", l.feature_cols},
                   {"feature_names", l.feature_names}, {"delimiter", delimiter}, {"header", l.header}};
  }
  return j.dump(1);
}

void save_training_checkpoint(const std::string& path, const TrainConfig& c, const DataShape& data,
                              const TrainingState& s) {
  CheckpointFile file;
  file.put_string("config", checkpoint_config_json(c, data));
  file.put_vector("parameters", s.parameters);
  file.put_vector("optimizer_state1", s.optimizer_state1);
  file.put_vector("optimizer_state2", s.optimizer_state2);
  const json progress{{"epochs_done", s.epochs_done}, {"steps_done", s.steps_done}, {"best_epoch", s.best_epoch},
                      {"best_val_loss", number(s.best_val_loss)},
                      {"epochs_without_improvement", s.epochs_without_improvement},
                      {"stopped_early", s.stopped_early}, {"elapsed_s", s.elapsed_s}};
  file.put_string("progress", progress.dump(1));
  if (!s.best_parameters.empty()) file.put_vector("best_parameters", s.best_parameters);
  std::vector<float> both = s.standardization.mean;
  both.insert(both.end(), s.standardization.inv_std.begin(), s.standardization.inv_std.end());
  file.put_vector("standardization", both);
  json epochs = json::array(), evals = json::array();
  for (const EpochRecord& e : s.epochs)
    epochs.push_back({{"epoch", e.epoch}, {"seconds", e.seconds}, {"samples_per_s", number(e.samples_per_s)},
                      {"train_loss", number(e.train_loss)}, {"lr", e.lr}, {"test", metrics_to_json(e.test)},
                      {"validation", metrics_to_json(e.validation)}});
  for (const EvalPoint& p : s.evals)
    evals.push_back({{"step", p.step}, {"seconds", p.seconds}, {"train_loss", number(p.train_loss)},
                     {"test", metrics_to_json(p.test)}});
  file.put_string("history", json{{"epochs", epochs}, {"evals", evals}}.dump());
  write_checkpoint_file(path, file);
}

TrainingState load_training_checkpoint(const std::string& path, const TrainConfig& c, const DataShape& data) {
  const CheckpointFile file = read_checkpoint_file(path);
  const json saved = parse_section(file, "config");
  const json run = json::parse(checkpoint_config_json(c, data));
  require_same(saved, run, "", path);

  const json progress = parse_section(file, "progress");
  TrainingState s;
  s.epochs_done = progress.at("epochs_done").get<int>();
  s.steps_done = progress.at("steps_done").get<std::int64_t>();
  s.best_epoch = progress.at("best_epoch").get<int>();
  s.best_val_loss = number_from(progress.at("best_val_loss"), std::numeric_limits<double>::infinity());
  s.epochs_without_improvement = progress.at("epochs_without_improvement").get<int>();
  s.stopped_early = progress.at("stopped_early").get<bool>();
  s.elapsed_s = progress.at("elapsed_s").get<double>();
  FASTTAB_REQUIRE(s.epochs_done <= c.epochs, "checkpoint ", path, " has done ", s.epochs_done,
                  " epochs, more than --epochs ", c.epochs, "; resume with --epochs ", s.epochs_done, " or more");
  FASTTAB_REQUIRE(c.schedule.kind != LrSchedule::cosine || saved.at("epochs").get<int>() == c.epochs,
                  "checkpoint ", path, " does not match this run: epochs (--epochs) is ", saved.at("epochs").dump(),
                  " in the checkpoint but ", c.epochs, " in this run, and the cosine schedule's length depends on it");

  const std::size_t n = c.model.parameter_count();
  s.parameters = file.get_vector<float>("parameters");
  require_size(file, "parameters", s.parameters.size(), n);
  s.optimizer_state1 = file.get_vector<float>("optimizer_state1");
  require_size(file, "optimizer_state1", s.optimizer_state1.size(), n);
  s.optimizer_state2 = file.get_vector<float>("optimizer_state2");
  require_size(file, "optimizer_state2", s.optimizer_state2.size(), n);
  if (file.find("best_parameters")) {
    s.best_parameters = file.get_vector<float>("best_parameters");
    require_size(file, "best_parameters", s.best_parameters.size(), n);
  }
  s.standardization = standardization_from(file, c.model.inputs);

  const json history = parse_section(file, "history");
  for (const json& e : history.at("epochs")) {
    EpochRecord r;
    r.epoch = e.at("epoch").get<int>();
    r.seconds = e.at("seconds").get<double>();
    r.samples_per_s = number_from(e.at("samples_per_s"));
    r.train_loss = number_from(e.at("train_loss"));
    r.lr = e.at("lr").get<double>();
    r.test = metrics_from_json(e.at("test"));
    r.validation = metrics_from_json(e.at("validation"));
    s.epochs.push_back(r);
  }
  for (const json& e : history.at("evals")) {
    EvalPoint p;
    p.step = e.at("step").get<std::int64_t>();
    p.seconds = e.at("seconds").get<double>();
    p.train_loss = number_from(e.at("train_loss"));
    p.test = metrics_from_json(e.at("test"));
    s.evals.push_back(p);
  }
  FASTTAB_REQUIRE(int(s.epochs.size()) == s.epochs_done, "checkpoint ", path, ": its history holds ", s.epochs.size(),
                  " epochs but its progress says ", s.epochs_done);
  return s;
}

SavedModel load_saved_model(const std::string& path) {
  const CheckpointFile file = read_checkpoint_file(path);
  SavedModel m;
  const json config = parse_section(file, "config");
  try {
    m.spec = spec_from_json(config.at("model"));
    m.task = task_from_string(config.at("task").get<std::string>());
    m.classes = config.at("classes").get<int>();
  } catch (const json::exception& e) {
    FASTTAB_FAIL("checkpoint ", file.display_path(), ": section \"config\" lacks a field (", e.what(), ")");
  }
  if (config.contains("layout")) {
    try {
      const json& j = config.at("layout");
      ColumnLayout& l = m.layout;
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
    } catch (const json::exception& e) {
      FASTTAB_FAIL("checkpoint ", file.display_path(), ": section \"config\" has a malformed \"layout\" (", e.what(),
                   ")");
    }
    FASTTAB_REQUIRE(int(m.layout.feature_cols.size()) == m.spec.inputs, "checkpoint ", file.display_path(),
                    ": its layout lists ", m.layout.feature_cols.size(), " feature columns but the model has ",
                    m.spec.inputs, " inputs");
  }
  m.config_json = file.get_string("config");
  const json progress = parse_section(file, "progress");
  m.epochs_done = progress.at("epochs_done").get<int>();
  const bool best = file.find("best_parameters") && progress.at("best_epoch").get<int>() > 0;
  m.parameters = file.get_vector<float>(best ? "best_parameters" : "parameters");
  require_size(file, best ? "best_parameters" : "parameters", m.parameters.size(), m.spec.parameter_count());
  m.standardization = standardization_from(file, m.spec.inputs);
  return m;
}

}  // namespace fasttab
