// Regression targets: the standardised target (--standardize-target, default on) and --log-target. The model
// trains on z = (t - mean) / std (t = y, or log y); its predictions come back in the user's units and its metrics
// in the trained scale (y, or log y), the same in train, the library's predictor and build/predict.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cpu/train/tool_runner.hpp"
#include "fasttab/checkpoint.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/error.hpp"
#include "fasttab/metrics.hpp"
#include "fasttab/predictor.hpp"
#include "fasttab/trainer.hpp"
#include "test_support.hpp"

using namespace fasttab;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() { return test::process_temp_dir("fasttab_target_"); }

// rows x 4 standard normal features; y = offset + scale * (sin(x0) + x1 x2 / 2 + 0.1 noise), or exp of the
// bracket when `positive` (a target whose log is the smooth function).
Table make_table(std::int64_t rows, std::uint32_t seed, double offset, double scale, bool positive = false) {
  return test::normal_table(rows, seed, [&](const float* x, std::mt19937& rng, std::normal_distribution<float>& normal) {
    const double f = std::sin(x[0]) + 0.5 * x[1] * x[2] + 0.1 * normal(rng);
    return static_cast<float>(positive ? std::exp(f) : offset + scale * f);
  });
}

TrainConfig regression_config() {
  TrainConfig c;
  c.task = Task::regression;
  c.model.hidden = {32, 32};
  c.model.dropout = 0.0f;
  c.batch_size = 128;
  c.epochs = 4;
  c.eval_every = 0;
  c.shuffle = true;
  c.optimizer.lr = 3e-3f;
  c.seed = 5;
  return c;
}

// R^2 and the MSE of predictions in the user's units against labels, in double.
void user_metrics(const std::vector<float>& pred, const std::vector<float>& y, double* mse, double* r2) {
  double mean = 0;
  for (float v : y) mean += v;
  mean /= double(y.size());
  double sse = 0, sst = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    sse += (double(pred[i]) - y[i]) * (double(pred[i]) - y[i]);
    sst += (double(y[i]) - mean) * (double(y[i]) - mean);
  }
  *mse = sse / double(y.size());
  *r2 = 1 - sse / sst;
}

bool tools_built() {
  return fs::exists(std::string(FASTTAB_BINARY_DIR) + "/train") && fs::exists(std::string(FASTTAB_BINARY_DIR) + "/predict");
}

// Label first, then the features; %.9g round-trips float32.
void write_csv(const fs::path& path, const Table& t, std::int64_t begin, std::int64_t end) {
  std::FILE* f = std::fopen(path.string().c_str(), "w");
  REQUIRE(f);
  for (std::int64_t r = begin; r < end; ++r) {
    std::fprintf(f, "%.9g", double(t.labels[r]));
    for (int c = 0; c < t.cols; ++c) std::fprintf(f, ",%.9g", double(t.features[r * t.cols + c]));
    std::fputc('\n', f);
  }
  std::fclose(f);
}

// The number after `key` in `text` (NaN when absent).
double number_after(const std::string& text, const std::string& key) {
  const std::size_t at = text.find(key);
  if (at == std::string::npos) return std::nan("");
  return std::stod(text.substr(at + key.size()));
}

}  // namespace

TEST_CASE("target transform: the statistics of the training rows, forward and inverse, the metrics' scale") {
  Table train;
  train.rows = 4;
  train.cols = 1;
  train.features.assign(4, 0.0f);
  train.labels = {1, 2, 3, 6};  // the last row stands for a validation row: not counted
  Table test = train;
  const TargetTransform t = compute_target_transform(Task::regression, true, false, train, 3, "train", test, "test");
  CHECK(t.mean == 2.0);
  CHECK(t.std == doctest::Approx(std::sqrt(2.0 / 3.0)).epsilon(1e-15));  // population std of 1, 2, 3
  CHECK(t.inverse(t.forward(5.0)) == doctest::Approx(5.0).epsilon(1e-15));
  // A constant target: std 1, only centred.
  Table constant = train;
  constant.labels = {4, 4, 4, 4};
  const TargetTransform c = compute_target_transform(Task::regression, true, false, constant, 4, "t", test, "t");
  CHECK(c.mean == 4.0);
  CHECK(c.std == 1.0);
  // Off, and other tasks: the identity.
  CHECK(compute_target_transform(Task::regression, false, false, train, 3, "t", test, "t").identity());
  CHECK(compute_target_transform(Task::binary, true, false, train, 3, "t", test, "t").identity());
  // --log-target: the moments of log y.
  const TargetTransform l = compute_target_transform(Task::regression, true, true, train, 3, "t", test, "t");
  CHECK(l.log);
  CHECK(l.mean == doctest::Approx((std::log(2.0) + std::log(3.0)) / 3).epsilon(1e-14));
  CHECK(l.inverse(l.forward(6.0)) == doctest::Approx(6.0).epsilon(1e-14));
  // Standardised metrics back in the trained scale: rmse and mae by std, MSE by std^2, R^2 as it is.
  Metrics m;
  m.loss = 0.25, m.rmse = 0.5, m.mae = 0.4, m.r2 = 0.9;
  TargetTransform s;
  s.std = 3;
  const Metrics back = s.trained_scale(m);
  CHECK(back.loss == 2.25);
  CHECK(back.rmse == 1.5);
  CHECK(back.mae == doctest::Approx(1.2).epsilon(1e-15));
  CHECK(back.r2 == 0.9);
}

TEST_CASE("standardised target vs not: predictions in the user's units, the metrics those of y") {
  // y around 1000 with a spread of 50: far from the unit scale of the network's initial outputs.
  Dataset d = split_train_test(make_table(6'000, 31, 1000.0, 50.0), 1'000, "offset regression");
  const Table test = d.test;
  auto backend = make_cpu_backend();
  for (const bool standardize_target : {true, false}) {
    CAPTURE(standardize_target);
    TrainConfig c = regression_config();
    c.standardize_target = standardize_target;
    c.save_path = (temp_dir() / (standardize_target ? "std.ckpt" : "raw.ckpt")).string();
    const TrainResult r = train(*backend, c, d);
    CHECK(r.target.identity() == !standardize_target);
    if (standardize_target) {
      CHECK(r.target.mean == doctest::Approx(1000).epsilon(0.01));
      CHECK(r.target.std == doctest::Approx(50 * 0.85).epsilon(0.2));  // sd of sin(x0) + x1 x2 / 2 is about 0.85
    }
    // The invariants of the reported figures, in the units of y.
    const Metrics& m = r.final_test;
    CHECK(m.loss == doctest::Approx(m.rmse * m.rmse).epsilon(1e-9));
    CHECK(m.mae <= m.rmse);
    CHECK(m.mae > 0);
    // The saved model predicts y in the user's units; their metrics are the trainer's (float rounding aside).
    const SavedModel model = load_saved_model(c.save_path);
    CHECK(model.target == r.target);
    const std::vector<float> pred = predict_outputs(*backend, model, test, c.batch_size);
    double mse = 0, r2 = 0;
    user_metrics(pred, test.labels, &mse, &r2);
    CHECK(mse == doctest::Approx(m.loss).epsilon(1e-4));
    CHECK(r2 == doctest::Approx(m.r2).epsilon(1e-4));
    // The raw outputs through evaluate_raw_outputs: the trainer's path, bit for bit at the trainer's chunking.
    const std::vector<float> raw = predict_raw_outputs(*backend, model, test, c.batch_size);
    const Metrics again = evaluate_raw_outputs(model, raw, test);
    CHECK(again.loss == m.loss);
    CHECK(again.rmse == m.rmse);
    CHECK(again.mae == m.mae);
    CHECK(again.r2 == m.r2);
    if (standardize_target) {
      MESSAGE("standardised target: test R^2 " << m.r2 << ", RMSE " << m.rmse << ", MAE " << m.mae);
      CHECK(m.r2 > 0.8);
      double mean_pred = 0;
      for (float v : pred) mean_pred += v;
      CHECK(mean_pred / double(pred.size()) == doctest::Approx(1000).epsilon(0.02));  // user units, not z
    } else {
      MESSAGE("raw target: test R^2 " << m.r2 << ", RMSE " << m.rmse);
    }
  }
}

TEST_CASE("--log-target: a label <= 0 or not finite is refused with its table and row") {
  auto backend = make_cpu_backend();
  TrainConfig c = regression_config();
  c.log_target = true;
  c.epochs = 1;
  {
    Dataset d = split_train_test(make_table(2'000, 3, 0, 1, /*positive=*/true), 500, "logs.csv");
    d.train.labels[6] = 0.0f;
    CHECK_THROWS_WITH_AS(train(*backend, c, d), doctest::Contains("logs.csv (training rows) row 7: label 0 is not a "
                                                                  "finite number > 0, so --log-target"), Error);
  }
  {
    Dataset d = split_train_test(make_table(2'000, 3, 0, 1, /*positive=*/true), 500, "logs.csv");
    d.test.labels[41] = -2.5f;
    CHECK_THROWS_WITH_AS(train(*backend, c, d), doctest::Contains("logs.csv (test rows) row 42: label -2.5"), Error);
  }
  {  // not for classification
    Dataset d = split_train_test(make_table(2'000, 3, 0, 1, true), 500, "logs.csv");
    for (float& y : d.train.labels) y = y > 1 ? 1.0f : 0.0f;
    for (float& y : d.test.labels) y = y > 1 ? 1.0f : 0.0f;
    c.task = Task::binary;
    CHECK_THROWS_WITH_AS(train(*backend, c, d), doctest::Contains("--log-target is for --task regression"), Error);
  }
}

TEST_CASE("--log-target with a resume: bit for bit, and a resume without it is refused") {
  Dataset d = split_train_test(make_table(3'000, 8, 0, 1, /*positive=*/true), 500, "positive regression");
  auto backend = make_cpu_backend();
  TrainConfig c = regression_config();
  c.log_target = true;
  c.model.dropout = 0.1f;
  c.epochs = 3;
  const TrainResult whole = train(*backend, c, d);
  TrainConfig first = c;
  first.epochs = 2;
  first.save_path = (temp_dir() / "log2.ckpt").string();
  train(*backend, first, d);
  TrainConfig rest = c;
  rest.resume_path = first.save_path;
  const TrainResult resumed = train(*backend, rest, d);
  CHECK(resumed.parameters == whole.parameters);
  CHECK(resumed.final_test.loss == whole.final_test.loss);
  CHECK(resumed.final_test.mae == whole.final_test.mae);
  CHECK(resumed.target == whole.target);
  TrainConfig other = rest;
  other.log_target = false;
  CHECK_THROWS_WITH_AS(train(*backend, other, d), doctest::Contains("log_target (--log-target)"), Error);
}

TEST_CASE("build/train --log-target, then build/predict: values in y's units, the test figures of log y again") {
  if (!tools_built()) FASTTAB_SKIP_TEST("build/train and build/predict are not built");
  const fs::path dir = temp_dir();
  const Table table = make_table(5'000, 12, 0, 1, /*positive=*/true);
  write_csv(dir / "pos.csv", table, 0, table.rows);
  write_csv(dir / "pos_test.csv", table, 4'000, table.rows);  // the rows --test-rows 1000 holds back
  const std::string columns = " --no-header --no-cache --label-col 0 ";
  std::string out;
  REQUIRE_MESSAGE(test::run_tool_in(dir, "train", "--device cpu --data " + (dir / "pos.csv").string() + columns +
                                    "--task regression --log-target --test-rows 1000 --epochs 3 --batch-size 128 "
                                    "--hidden 32,32 --standardize --save " + (dir / "log.ckpt").string() +
                                    " --json " + (dir / "log.json").string(), &out) == 0, out);
  CHECK(out.find("test R^2 (log y)") != std::string::npos);
  const nlohmann::json report = nlohmann::json::parse(test::read_text(dir / "log.json"));
  const nlohmann::json& t = report.at("test");
  CHECK(report.at("target").at("log").get<bool>());
  CHECK(report.at("target").at("metrics_of").get<std::string>() == "log y");
  CHECK(t.at("r2").get<double>() > 0.5);

  REQUIRE_MESSAGE(test::run_tool_in(dir, "predict", "--device cpu --model " + (dir / "log.ckpt").string() +
                                    " --data " + (dir / "pos_test.csv").string() + columns + "--out " +
                                    (dir / "p.csv").string(), &out) == 0, out);
  INFO(out);
  REQUIRE(out.find("metrics on all 1000 rows (of log y): MSE") != std::string::npos);
  // predict prints 6 decimals: the figures agree to that print.
  CHECK(number_after(out, "MSE ") == doctest::Approx(t.at("loss").get<double>()).epsilon(1e-5));
  CHECK(number_after(out, "RMSE ") == doctest::Approx(t.at("rmse").get<double>()).epsilon(1e-5));
  CHECK(number_after(out, "MAE ") == doctest::Approx(t.at("mae").get<double>()).epsilon(1e-5));
  CHECK(number_after(out, "R^2 ") == doctest::Approx(t.at("r2").get<double>()).epsilon(1e-5));
  // The values are y (positive, of y's size), and their logs give the reported R^2 of log y.
  std::istringstream lines(test::read_text(dir / "p.csv"));
  std::string line;
  std::getline(lines, line);
  CHECK(line == "value");
  std::vector<float> log_pred, log_y;
  for (std::int64_t r = 4'000; std::getline(lines, line); ++r) {
    const double v = std::stod(line);
    REQUIRE(v > 0);
    log_pred.push_back(float(std::log(v)));
    log_y.push_back(float(std::log(double(table.labels[r]))));
  }
  REQUIRE(log_pred.size() == 1000);
  double mse = 0, r2 = 0;
  user_metrics(log_pred, log_y, &mse, &r2);
  CHECK(r2 == doctest::Approx(t.at("r2").get<double>()).epsilon(1e-4));
}
