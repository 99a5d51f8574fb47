// Saving a run at an epoch end, and reading it back for --resume. The "progress" and "history" sections hold the
// RunProgress; the float sections the weights, the optimiser's two state vectors, the best weights and the
// standardisation; the "target" section the regression target's transform.
#include "host/checkpoint/training_checkpoint.hpp"

#include "fasttab/error.hpp"
#include "host/checkpoint/config_json.hpp"
#include "host/checkpoint/sections.hpp"

namespace fasttab {

using nlohmann::json;
using namespace checkpoint;

namespace {

json progress_to_json(const RunProgress& p) {
  return {{"epochs_done", p.epochs_done}, {"steps_done", p.steps_done}, {"best_epoch", p.best_epoch},
          {"best_val_loss", number(p.best_val_loss)}, {"epochs_without_improvement", p.epochs_without_improvement},
          {"stopped_early", p.stopped_early}, {"elapsed_s", p.elapsed_s}};
}

json history_to_json(const RunProgress& p) {
  json epochs = json::array(), evals = json::array();
  for (const EpochRecord& e : p.epochs)
    epochs.push_back({{"epoch", e.epoch}, {"seconds", e.seconds}, {"samples_per_s", number(e.samples_per_s)},
                      {"train_loss", number(e.train_loss)}, {"lr", e.lr}, {"test", metrics_to_json(e.test)},
                      {"validation", metrics_to_json(e.validation)}});
  for (const EvalPoint& e : p.evals)
    evals.push_back({{"step", e.step}, {"seconds", e.seconds}, {"train_loss", number(e.train_loss)},
                     {"test", metrics_to_json(e.test)}});
  return {{"epochs", epochs}, {"evals", evals}};
}

RunProgress progress_from(const json& progress, const json& history) {
  RunProgress p;
  p.epochs_done = progress.at("epochs_done").get<int>();
  p.steps_done = progress.at("steps_done").get<std::int64_t>();
  p.best_epoch = progress.at("best_epoch").get<int>();
  p.best_val_loss = number_from(progress.at("best_val_loss"), std::numeric_limits<double>::infinity());
  p.epochs_without_improvement = progress.at("epochs_without_improvement").get<int>();
  p.stopped_early = progress.at("stopped_early").get<bool>();
  p.elapsed_s = progress.at("elapsed_s").get<double>();
  for (const json& e : history.at("epochs")) {
    EpochRecord r;
    r.epoch = e.at("epoch").get<int>();
    r.seconds = e.at("seconds").get<double>();
    r.samples_per_s = number_from(e.at("samples_per_s"));
    r.train_loss = number_from(e.at("train_loss"));
    r.lr = e.at("lr").get<double>();
    r.test = metrics_from_json(e.at("test"));
    r.validation = metrics_from_json(e.at("validation"));
    p.epochs.push_back(r);
  }
  for (const json& e : history.at("evals")) {
    EvalPoint point;
    point.step = e.at("step").get<std::int64_t>();
    point.seconds = e.at("seconds").get<double>();
    point.train_loss = number_from(e.at("train_loss"));
    point.test = metrics_from_json(e.at("test"));
    p.evals.push_back(point);
  }
  return p;
}

// The float sections, each checked against the model's parameter count.
void read_tensors(const CheckpointFile& file, const TrainConfig& c, TrainingState& s) {
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
  s.target = target_transform_from(file);
}

}  // namespace

void save_training_checkpoint(const std::string& path, const TrainConfig& c, const DataShape& data,
                              const TrainingState& s) {
  CheckpointFile file;
  file.put_string("config", checkpoint_config_json(c, data));
  file.put_vector("parameters", s.parameters);
  file.put_vector("optimizer_state1", s.optimizer_state1);
  file.put_vector("optimizer_state2", s.optimizer_state2);
  file.put_string("progress", progress_to_json(s.progress).dump(1));
  if (!s.best_parameters.empty()) file.put_vector("best_parameters", s.best_parameters);
  std::vector<float> both = s.standardization.mean;
  both.insert(both.end(), s.standardization.inv_std.begin(), s.standardization.inv_std.end());
  file.put_vector("standardization", both);
  put_target_transform(file, s.target);
  file.put_string("history", history_to_json(s.progress).dump());
  write_checkpoint_file(path, file);
}

TrainingState load_training_checkpoint(const std::string& path, const TrainConfig& c, const DataShape& data) {
  const CheckpointFile file = read_checkpoint_file(path);
  const json saved = parse_section(file, "config");
  require_same(saved, json::parse(checkpoint_config_json(c, data)), path);

  TrainingState s;
  try {
    s.progress = progress_from(parse_section(file, "progress"), parse_section(file, "history"));
  } catch (const json::exception& e) {
    FASTTAB_FAIL("checkpoint ", path, ": its progress or history section lacks a field (", e.what(), ")");
  }
  const RunProgress& p = s.progress;
  FASTTAB_REQUIRE(p.epochs_done <= c.epochs, "checkpoint ", path, " has done ", p.epochs_done,
                  " epochs, more than --epochs ", c.epochs, "; resume with --epochs ", p.epochs_done, " or more");
  FASTTAB_REQUIRE(c.schedule.kind != LrSchedule::cosine || saved.at("epochs").get<int>() == c.epochs,
                  "checkpoint ", path, " does not match this run: epochs (--epochs) is ", saved.at("epochs").dump(),
                  " in the checkpoint but ", c.epochs, " in this run, and the cosine schedule's length depends on it");
  FASTTAB_REQUIRE(int(p.epochs.size()) == p.epochs_done, "checkpoint ", path, ": its history holds ", p.epochs.size(),
                  " epochs but its progress says ", p.epochs_done);
  read_tensors(file, c, s);
  return s;
}

}  // namespace fasttab
