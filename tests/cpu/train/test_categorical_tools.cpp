// build/train and build/predict on tables with text columns: an R-style CSV with categorical features, a yes/no
// label and missing values; the model learns from the categories (AUC far above what the numbers alone give);
// reruns are bit-identical; predict --held-out reproduces the test figures; a test file with new categories in
// another order; --nan-policy indicator; bad input refused with its name. Runs the built tools (CPU backend).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "cpu/train/tool_runner.hpp"

namespace fs = std::filesystem;

namespace {

fs::path temp_dir() { return fasttab::test::process_temp_dir("fasttab_categorical_"); }
int run_tool(const std::string& tool, const std::string& args, std::string* output) {
  return fasttab::test::run_tool_in(temp_dir(), tool, args, output);
}
bool tools_built() {
  return fs::exists(std::string(FASTTAB_BINARY_DIR) + "/train") && fs::exists(std::string(FASTTAB_BINARY_DIR) + "/predict");
}

// y depends mostly on the category `city` (24 of them, a random effect each) and a little on x; `noise` is an
// unrelated category; some x are NA. R's write.csv quoting: a row number, quoted text.
void write_city_table(const fs::path& path, int rows, unsigned seed, bool new_cities) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal(0, 1);
  std::vector<double> effect(24);
  std::mt19937 effects(7);  // the same effects in every file
  for (double& e : effect) e = 1.5 * std::normal_distribution<double>(0, 1)(effects);
  std::FILE* f = std::fopen(path.string().c_str(), "w");
  REQUIRE(f);
  std::fprintf(f, "\"\",\"x\",\"city\",\"noise\",\"bought\"\n");
  for (int r = 0; r < rows; ++r) {
    int city = static_cast<int>(gen() % (new_cities ? 26 : 24));  // 24, 25: cities never seen in training
    const double x = normal(gen);
    const double score = (city < 24 ? effect[std::size_t(city)] : 0.0) + 0.5 * x + 0.5 * normal(gen);
    const std::string name = "city" + std::to_string(city);
    const char* noise = (gen() % 2) ? "\"a\"" : "\"b\"";
    if (gen() % 10 == 0) std::fprintf(f, "\"%d\",NA,\"%s\",%s,\"%s\"\n", r + 1, name.c_str(), noise, score > 0 ? "yes" : "no");
    else std::fprintf(f, "\"%d\",%.6f,\"%s\",%s,\"%s\"\n", r + 1, x, name.c_str(), noise, score > 0 ? "yes" : "no");
  }
  std::fclose(f);
}

const char* kFlags = "--device cpu --label-col bought --drop 0 --nan-policy indicator --epochs 6 --batch-size 64 "
                     "--hidden 32,16 --dropout 0.1 --standardize --no-cache";

double json_auc(const fs::path& path) {
  return nlohmann::json::parse(fasttab::test::read_text(path)).at("test").at("auc").get<double>();
}

// The AUC of predict's "metrics on all N rows: loss L  AUC A ..." line.
double printed_auc(const std::string& out) {
  const auto at = out.find("  AUC ", out.find("metrics on all"));
  return at == std::string::npos ? -1.0 : std::stod(out.substr(at + 6));
}

}  // namespace

TEST_CASE("train on categorical columns: learns them, reruns bit for bit, predict --held-out gives the test figures") {
  if (!tools_built()) return;
  const fs::path dir = temp_dir();
  write_city_table(dir / "cities.csv", 4000, 1, false);
  std::string out;
  INFO(out);
  const std::string base = std::string(kFlags) + " --data cities.csv";
  REQUIRE(run_tool("train", base + " --save a.ckpt --json a.json", &out) == 0);
  CHECK(out.find("label classes: 0 = no, 1 = yes") != std::string::npos);
  CHECK(out.find("categorical: city (24 + 2), noise (2 + 2)") != std::string::npos);
  CHECK(out.find("1 'was missing' indicator column") != std::string::npos);
  const double auc = json_auc(dir / "a.json");
  CHECK(auc > 0.85);  // x alone gives about 0.6: the embeddings carry the cities' effects
  REQUIRE(run_tool("train", base + " --json b.json", &out) == 0);
  CHECK(fasttab::test::read_text(dir / "a.json").find("\"auc\"") != std::string::npos);
  CHECK(json_auc(dir / "b.json") == auc);  // the same code on the same shapes: the same bits

  REQUIRE(run_tool("predict", "--model a.ckpt --data cities.csv --out held.csv --held-out --no-cache", &out) == 0);
  REQUIRE(out.find("metrics on all 800 rows") != std::string::npos);
  // Predict runs the forward pass in chunks of other sizes than the trainer's evaluation (OpenBLAS may round
  // otherwise): the same figures within 1e-5.
  CHECK(std::fabs(printed_auc(out) - auc) < 1e-5);
}

TEST_CASE("a test file with categories in another order and unseen ones, predict maps them by text") {
  if (!tools_built()) return;
  const fs::path dir = temp_dir();
  write_city_table(dir / "train.csv", 3000, 2, false);
  write_city_table(dir / "other.csv", 1000, 3, true);  // another order of first appearance; two new cities
  std::string out;
  INFO(out);
  REQUIRE(run_tool("train", std::string(kFlags) + " --data train.csv --test-data other.csv --save m.ckpt --json m.json",
                   &out) == 0);
  const double auc = json_auc(dir / "m.json");
  CHECK(auc > 0.8);
  REQUIRE(run_tool("predict", "--model m.ckpt --data other.csv --out p.csv --no-cache", &out) == 0);
  CHECK(std::fabs(printed_auc(out) - auc) < 1e-5);
}

TEST_CASE("categorical input errors name the column or the line") {
  if (!tools_built()) return;
  const fs::path dir = temp_dir();
  write_city_table(dir / "c.csv", 300, 4, false);
  std::string out;
  INFO(out);
  CHECK(run_tool("train", std::string(kFlags) + " --data c.csv --categorical town", &out) != 0);
  CHECK(out.find("--categorical 'town': 'town' is neither a column name nor a 0-based index") != std::string::npos);
  CHECK(out.find("its header names are '', 'x', 'city', 'noise', 'bought'") != std::string::npos);
  CHECK(run_tool("train", std::string(kFlags) + " --data c.csv --numeric city", &out) != 0);
  CHECK(out.find("c.csv line 2, column 2: '\"city") != std::string::npos);
  CHECK(run_tool("train", std::string(kFlags) + " --data c.csv --max-categories 10", &out) != 0);
  CHECK(out.find(", column 2: more than 10 distinct values in a categorical column") != std::string::npos);
  CHECK(run_tool("train", std::string(kFlags) + " --data c.csv --task regression", &out) != 0);
  CHECK(out.find("the label column holds text ('no', 'yes'); regression needs numbers") != std::string::npos);
}
