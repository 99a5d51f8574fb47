// build/predict against build/train: the predictions of a saved model reproduce the test metrics the trainer
// reported; the output formats; the TensorBoard file of train --log-dir. Runs the built tools (CPU backend).
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fasttab/checkpoint.hpp"
#include "host/io/crc32c.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/metrics.hpp"
#include "fasttab/predictor.hpp"
#include "fasttab/synthetic.hpp"
#include "fasttab/trainer.hpp"
#include "test_support.hpp"
#include "cpu/train/tool_runner.hpp"

using namespace fasttab;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() { return test::process_temp_dir("fasttab_predict_"); }

// Runs a built tool with arguments; returns its exit status, its output (stdout and stderr) in *output.
int run_tool(const std::string& tool, const std::string& args, std::string* output) {
  return test::run_tool_in(temp_dir(), tool, args, output);
}

using test::read_text;

bool tools_built() {
  return fs::exists(std::string(FASTTAB_BINARY_DIR) + "/train") && fs::exists(std::string(FASTTAB_BINARY_DIR) + "/predict");
}

// Label first, then the features; %.9g round-trips float32.
void write_csv(const fs::path& path, const Table& t) {
  std::FILE* f = std::fopen(path.string().c_str(), "w");
  REQUIRE(f);
  for (std::int64_t r = 0; r < t.rows; ++r) {
    std::fprintf(f, "%.9g", double(t.labels[r]));
    for (int c = 0; c < t.cols; ++c) std::fprintf(f, ",%.9g", double(t.features[r * t.cols + c]));
    std::fputc('\n', f);
  }
  std::fclose(f);
}

// Exact ROC AUC in double: the fraction of (positive, negative) pairs ordered right, ties one half.
double auc_double(const std::vector<double>& scores, const std::vector<float>& labels) {
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  double negatives_below = 0, pairs_right = 0, positives = 0;
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    double pos = 0, neg = 0;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) (labels[order[j++]] == 1.0f ? pos : neg) += 1;
    pairs_right += pos * (negatives_below + 0.5 * neg);
    negatives_below += neg;
    positives += pos;
    i = j;
  }
  return pairs_right / (positives * negatives_below);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("predict on the training file reproduces the test AUC that train reported") {
  if (!tools_built()) FASTTAB_SKIP_TEST("build/train and build/predict are not built");
  const fs::path dir = temp_dir();
  SyntheticSpec spec;
  spec.rows = 12'000;
  spec.seed = 7;
  const Table table = make_synthetic(spec).table;
  write_csv(dir / "higgs_like.csv", table);
  const std::string data = "--data " + (dir / "higgs_like.csv").string() + " --no-header --no-cache --label-col 0 ";
  std::string out;
  REQUIRE_MESSAGE(run_tool("train", "--device cpu " + data + "--test-rows 2000 --epochs 2 --batch-size 512 "
                                    "--hidden 32,32 --standardize --shuffle --save " + (dir / "m.ckpt").string() +
                                    " --json " + (dir / "m.json").string(), &out) == 0, out);
  const nlohmann::json report = nlohmann::json::parse(read_text(dir / "m.json"));
  const double train_auc = report.at("test_auc").get<double>();

  REQUIRE_MESSAGE(run_tool("predict", "--device cpu --model " + (dir / "m.ckpt").string() + " " + data + "--out " +
                                      (dir / "p.csv").string(), &out) == 0, out);
  CHECK(out.find("metrics on all 12000 rows") != std::string::npos);
  const std::vector<std::string> lines = lines_of(read_text(dir / "p.csv"));
  REQUIRE(lines.size() == 12'001);
  CHECK(lines[0] == "probability");
  std::vector<double> test_scores;
  std::vector<float> test_labels;
  for (std::int64_t r = 10'000; r < 12'000; ++r) {
    const double p = std::stod(lines[1 + r]);
    REQUIRE(p >= 0.0);
    REQUIRE(p <= 1.0);
    test_scores.push_back(p);
    test_labels.push_back(table.labels[r]);
  }
  const double predict_auc = auc_double(test_scores, test_labels);
  MESSAGE("train reported test AUC " << train_auc << ", predict gives " << predict_auc);
  CHECK(train_auc > 0.7);
  CHECK(std::fabs(predict_auc - train_auc) < 1e-6);

  // .npy output: a 1-D float32 array of the same probabilities.
  REQUIRE_MESSAGE(run_tool("predict", "--device cpu --model " + (dir / "m.ckpt").string() + " " + data + "--out " +
                                      (dir / "p.npy").string(), &out) == 0, out);
  const std::string npy = read_text(dir / "p.npy");
  REQUIRE(npy.size() > 10);
  CHECK(npy.compare(0, 6, "\x93NUMPY") == 0);
  const std::size_t header = 10 + std::size_t(std::uint8_t(npy[8])) + 256 * std::size_t(std::uint8_t(npy[9]));
  CHECK(header % 64 == 0);
  CHECK(npy.find("'shape': (12000,)") != std::string::npos);
  REQUIRE(npy.size() == header + 12'000 * sizeof(float));
  float first;
  std::memcpy(&first, npy.data() + header, sizeof first);
  CHECK(first == float(std::stod(lines[1])));

  // Other feature columns contradict the model's layout; taken as given (--columns-from-flags) they are refused
  // with the counts.
  CHECK(run_tool("predict", "--device cpu --model " + (dir / "m.ckpt").string() + " " + data + "--features 1-10 --out " +
                                (dir / "q.csv").string(), &out) != 0);
  CHECK(out.find("--features 1-10 contradicts the model") != std::string::npos);
  CHECK(run_tool("predict", "--device cpu --model " + (dir / "m.ckpt").string() + " " + data +
                                "--columns-from-flags --features 1-10 --out " + (dir / "q.csv").string(), &out) != 0);
  CHECK(out.find("10 feature columns; the model was trained on 21") != std::string::npos);
}

TEST_CASE("multiclass predictions: classes and --probabilities from the saved model match the trainer") {
  if (!tools_built()) FASTTAB_SKIP_TEST("build/train and build/predict are not built");
  const fs::path dir = temp_dir();
  // 3 classes from the sign pattern of two features.
  SyntheticSpec spec;
  spec.rows = 6'000;
  spec.seed = 9;
  Table table = make_synthetic(spec).table;
  for (std::int64_t r = 0; r < table.rows; ++r) {
    const float* x = table.features.data() + r * table.cols;
    table.labels[r] = x[0] > 0.5f ? 2.0f : x[1] > 0 ? 1.0f : 0.0f;
  }
  write_csv(dir / "three.csv", table);
  const std::string data = "--data " + (dir / "three.csv").string() + " --no-header --no-cache ";
  std::string out;
  REQUIRE_MESSAGE(run_tool("train", "--device cpu " + data + "--task multiclass --test-rows 1000 --epochs 3 "
                                    "--batch-size 256 --hidden 32 --dropout 0 --lr 0.01 --save " +
                                    (dir / "mc.ckpt").string() + " --json " + (dir / "mc.json").string(), &out) == 0, out);
  const double accuracy = nlohmann::json::parse(read_text(dir / "mc.json")).at("test").at("accuracy").get<double>();
  CHECK(accuracy > 0.8);
  REQUIRE_MESSAGE(run_tool("predict", "--device cpu --probabilities --model " + (dir / "mc.ckpt").string() + " " + data +
                                      "--out " + (dir / "mc.csv").string(), &out) == 0, out);
  const std::vector<std::string> lines = lines_of(read_text(dir / "mc.csv"));
  REQUIRE(lines.size() == 6'001);
  CHECK(lines[0] == "class,p0,p1,p2");
  std::int64_t right = 0;
  for (std::int64_t r = 0; r < 6'000; ++r) {
    std::istringstream row(lines[1 + r]);
    std::string field;
    std::vector<double> v;
    while (std::getline(row, field, ',')) v.push_back(std::stod(field));
    REQUIRE(v.size() == 4);
    CHECK(v[1] + v[2] + v[3] == doctest::Approx(1.0).epsilon(1e-6));
    CHECK(v[1 + int(v[0])] == *std::max_element(v.begin() + 1, v.end()));
    if (r >= 5'000 && v[0] == table.labels[r]) ++right;
  }
  // predict evaluates in chunks of 16384 rows, the trainer in batches of 256: OpenBLAS may round the two
  // differently (it picks kernels by CPU and shape), so a prediction at the edge of a class boundary may flip.
  // Bound: at most 2 of the 1000 test rows.
  CHECK(std::abs(double(right) / 1000.0 - accuracy) <= 2e-3 + 1e-12);
}

TEST_CASE("the library path: load_saved_model and predict_outputs give the trainer's test outputs") {
  SyntheticSpec spec;
  spec.rows = 4'000;
  spec.seed = 2;
  Dataset d = split_train_test(make_synthetic(spec).table, 1'000, "synthetic");
  const Table test = d.test;
  TrainConfig c;
  c.model.hidden = {16};
  c.batch_size = 256;
  c.epochs = 2;
  c.standardize = true;
  c.save_path = (temp_dir() / "lib.ckpt").string();
  auto backend = make_cpu_backend();
  const TrainResult r = train(*backend, c, d);
  const SavedModel model = load_saved_model(c.save_path);
  CHECK(model.spec.inputs == 21);
  CHECK(model.spec.hidden == std::vector<int>{16});
  CHECK(model.task == Task::binary);
  CHECK(model.standardization.enabled());
  CHECK(model.parameters == r.parameters);
  // Chunks of 300 rows here, of 256 (the batch size) in the trainer. OpenBLAS picks its kernels by CPU model and
  // matrix shape, so the two chunkings may round differently: the outputs agree to float32 rounding, not bit
  // for bit. Bounds: loss to 1e-5 relative; AUC to 1e-4 (a flipped pair among 500 x 500 moves it by 4e-6).
  const std::vector<float> outputs = predict_outputs(*backend, model, test, 300);
  const Metrics m = evaluate_on_host(Task::binary, outputs.data(), test.rows, 1, 1, test.labels.data());
  CHECK(m.loss == doctest::Approx(r.final_test.loss).epsilon(1e-5));
  CHECK(std::abs(m.auc - r.final_test.auc) <= 1e-4);
  // The same chunking as the trainer's is the same code on the same shapes: bit for bit.
  const std::vector<float> same_chunks = predict_outputs(*backend, model, test, c.batch_size);
  const Metrics same = evaluate_on_host(Task::binary, same_chunks.data(), test.rows, 1, 1, test.labels.data());
  CHECK(same.loss == r.final_test.loss);
  CHECK(same.auc == r.final_test.auc);
}

TEST_CASE("train --log-dir writes TensorBoard records with valid checksums and the expected tags") {
  if (!tools_built()) FASTTAB_SKIP_TEST("build/train is not built");
  const fs::path dir = temp_dir() / "logs";
  fs::remove_all(dir);
  std::string out;
  REQUIRE_MESSAGE(run_tool("train", "--device cpu --rows 3000 --epochs 2 --batch-size 256 --hidden 8 --eval-every 4 "
                                    "--log-dir " + dir.string() + " --plot " + (temp_dir() / "run.svg").string(),
                           &out) == 0, out);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  REQUIRE(files.size() == 1);
  CHECK(files[0].filename().string().rfind("events.out.tfevents.", 0) == 0);
  const std::string bytes = read_text(files[0]);
  auto masked = [](std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; };
  std::size_t at = 0;
  int records = 0;
  std::string all_data;
  while (at < bytes.size()) {
    REQUIRE(at + 12 <= bytes.size());
    std::uint64_t length;
    std::uint32_t length_crc, data_crc;
    std::memcpy(&length, bytes.data() + at, 8);
    std::memcpy(&length_crc, bytes.data() + at + 8, 4);
    CHECK(length_crc == masked(crc32c(bytes.data() + at, 8)));
    REQUIRE(at + 12 + length + 4 <= bytes.size());
    std::memcpy(&data_crc, bytes.data() + at + 12 + length, 4);
    CHECK(data_crc == masked(crc32c(bytes.data() + at + 12, length)));
    all_data += bytes.substr(at + 12, length);
    at += 12 + length + 4;
    ++records;
  }
  CHECK(at == bytes.size());
  // 11 steps per epoch (2700 rows / 256): 7 evaluations (steps 4, 8, 11, 12, 16, 20, 22) of 3 scalars, 2 epoch
  // ends of 5, and the file-version record.
  CHECK(records == 7 * 3 + 2 * 5 + 1);
  for (const char* tag : {"brain.Event:2", "train/loss", "test/loss", "test/auc", "epoch/test_auc", "lr", "samples_per_s"}) {
    CAPTURE(tag);
    CHECK(all_data.find(tag) != std::string::npos);
  }
  const std::string svg = read_text(temp_dir() / "run.svg");
  CHECK(svg.find("<svg") != std::string::npos);
  CHECK(svg.find("test AUC") != std::string::npos);
}
