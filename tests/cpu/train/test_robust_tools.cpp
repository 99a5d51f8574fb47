// Bad inputs to build/train and build/predict (issue 8): each gets a clear message and a non-zero exit in bounded
// time, never a hang, a crash, a silent wrong result or an overwritten user file. Runs the built tools (CPU).
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fasttab/checkpoint.hpp"
#include "host/checkpoint/checkpoint_file.hpp"
#include "fasttab/backend.hpp"
#include "fasttab/io.hpp"
#include "fasttab/model.hpp"
#include "host/io/table_cache.hpp"
#include "test_support.hpp"
#include "cpu/train/tool_runner.hpp"

namespace fs = std::filesystem;

namespace {

fs::path temp_dir() { return fasttab::test::process_temp_dir("fasttab_robust_"); }

using fasttab::test::read_text;
using fasttab::test::write_text;

// Runs a built tool in temp_dir() under a time limit (a hang fails the test with exit 124).
int run(const std::string& tool, const std::string& args, std::string* output) {
  return fasttab::test::run_tool_in(temp_dir(), tool, args, output);
}

// n rows of 1 + cols columns, label first (alternating 0/1 unless sorted), small features.
std::string small_csv(int n, int cols, bool sorted_by_class = false) {
  std::ostringstream s;
  for (int r = 0; r < n; ++r) {
    const int label = sorted_by_class ? (r < n / 2 ? 0 : 1) : r % 2;
    s << label;
    for (int c = 0; c < cols; ++c) s << "," << ((r * 7 + c * 13) % 17) / 17.0 + 0.1 * label;
    s << "\n";
  }
  return s.str();
}

const std::string kWine = std::string(FASTTAB_SHARED_DATA_DIR) + "/winequality-red.csv";

}  // namespace

TEST_CASE("train and predict stop at the first non-finite model output, naming the row, without hanging") {
  // 100 ordinary rows, then one row of float32 extremes in the test set (the last 10 rows).
  std::string text = small_csv(99, 6);
  text += "1,3.4e38,-3.4e38,3.4e38,-3.4e38,3.4e38,-3.4e38\n";
  text += "0,0.1,0.2,0.3,0.4,0.5,0.6\n";
  write_text(temp_dir() / "extreme.csv", text);
  std::string out;
  int rc = run("train", "--device cpu --data extreme.csv --no-cache --test-rows 10 --batch-size 30 --epochs 1 "
                        "--hidden 64,64 --activation relu",
               &out);
  CHECK(rc == 1);
  CHECK(out.find("the model's output for test row 9 is") != std::string::npos);
  INFO(out);

  // A model trained on ordinary rows of the same shape, applied to the extreme row.
  write_text(temp_dir() / "ordinary.csv", small_csv(100, 6));
  REQUIRE(run("train", "--device cpu --data ordinary.csv --no-cache --test-rows 10 --batch-size 30 --epochs 1 "
                       "--hidden 64,64 --activation relu --save relu.ckpt",
              &out) == 0);
  rc = run("predict", "--device cpu --model relu.ckpt --data extreme.csv --no-cache --out extreme_pred.csv", &out);
  CHECK(rc == 1);
  CHECK(out.find("row 100 of extreme.csv: the model's output is") != std::string::npos);
  CHECK(!fs::exists(temp_dir() / "extreme_pred.csv"));
  INFO(out);
}

TEST_CASE("a model too large for the memory is refused before allocating, with the bytes") {
  std::string out;
  const int rc = run("train", "--device cpu --rows 3000 --epochs 1 --batch-size 256 --hidden 65536,65536", &out);
  CHECK(rc == 1);
  CHECK(out.find("the model and its buffers need ") != std::string::npos);
  CHECK(out.find("bytes of cpu memory but only ") != std::string::npos);
  CHECK(out.find("use smaller --hidden or --batch-size") != std::string::npos);
  INFO(out);
}

TEST_CASE("--save onto an existing checkpoint needs --resume of it or --overwrite") {
  std::string out;
  const std::string args = "--device cpu --rows 3000 --batch-size 256 --hidden 8 ";
  REQUIRE(run("train", args + "--epochs 1 --save keep.ckpt", &out) == 0);
  const std::string before = read_text(temp_dir() / "keep.ckpt");
  CHECK(run("train", args + "--epochs 1 --save keep.ckpt", &out) == 1);
  CHECK(out.find("--save keep.ckpt already exists") != std::string::npos);
  CHECK(out.find("--overwrite") != std::string::npos);
  CHECK(read_text(temp_dir() / "keep.ckpt") == before);
  CHECK(run("train", args + "--save keep.ckpt --resume keep.ckpt --epochs 2", &out) == 0);  // continuing in place
  CHECK(run("train", args + "--epochs 1 --save keep.ckpt --overwrite", &out) == 0);
}

TEST_CASE("no output may be the input file, under any spelling") {
  write_text(temp_dir() / "in.csv", small_csv(200, 4));
  const std::string before = read_text(temp_dir() / "in.csv");
  const std::string args = "--device cpu --data in.csv --no-cache --batch-size 64 --hidden 8 ";
  std::string out;
  for (const std::string flag : {"--json", "--plot", "--save", "--export-npy"}) {
    CHECK(run("train", args + "--epochs 1 " + flag + " ./in.csv", &out) == 1);
    CHECK(out.find(flag + " ./in.csv is the --data file in.csv") != std::string::npos);
    INFO(out);
  }
  CHECK(read_text(temp_dir() / "in.csv") == before);
  REQUIRE(run("train", args + "--epochs 1 --save m.ckpt", &out) == 0);
  CHECK(run("train", args + "--resume m.ckpt --epochs 2 --json ../" + temp_dir().filename().string() + "/m.ckpt",
            &out) == 1);
  CHECK(out.find("is the --resume file m.ckpt") != std::string::npos);
  CHECK(run("predict", "--device cpu --model m.ckpt --data in.csv --no-cache --out ./in.csv", &out) == 1);
  CHECK(out.find("--out ./in.csv is the --data file in.csv") != std::string::npos);
  CHECK(run("predict", "--device cpu --model m.ckpt --data in.csv --no-cache --out m.ckpt", &out) == 1);
  CHECK(out.find("--out m.ckpt is the --model file m.ckpt") != std::string::npos);
  CHECK(read_text(temp_dir() / "in.csv") == before);
}

TEST_CASE("--json and --plot are checked for writability before training, an existing file is not truncated") {
  std::string out;
  const std::string args = "--device cpu --rows 3000 --epochs 1 --batch-size 256 --hidden 8 ";
  CHECK(run("train", args + "--json no-such-dir/run.json", &out) == 1);
  CHECK(out.find("--json no-such-dir/run.json: the directory") != std::string::npos);
  CHECK(out.find("does not exist") != std::string::npos);
  CHECK(out.find("epoch ") == std::string::npos);  // refused before training
  CHECK(run("train", args + "--plot no-such-dir/run.svg", &out) == 1);
  CHECK(out.find("--plot no-such-dir/run.svg: the directory") != std::string::npos);
  fs::create_directories(temp_dir() / "a_directory.json");
  CHECK(run("train", args + "--json a_directory.json", &out) == 1);
  CHECK(out.find("--json a_directory.json is a directory") != std::string::npos);
  // A run that fails after the checks leaves an existing --json file as it was.
  write_text(temp_dir() / "old.json", "{\"kept\": true}\n");
  CHECK(run("train", "--device cpu --rows 3000 --batch-size 4096 --json old.json", &out) == 1);
  CHECK(read_text(temp_dir() / "old.json") == "{\"kept\": true}\n");
}

TEST_CASE("--log-dir and --cache-dir create only their last component") {
  std::string out;
  const std::string args = "--device cpu --rows 3000 --epochs 1 --batch-size 256 --hidden 8 ";
  CHECK(run("train", args + "--log-dir missing_parent/runs/1", &out) == 1);
  CHECK(out.find("--log-dir missing_parent/runs/1: the directory") != std::string::npos);
  CHECK(out.find("create it first") != std::string::npos);
  CHECK(!fs::exists(temp_dir() / "missing_parent"));
  CHECK(run("train", args + "--log-dir new_log_dir", &out) == 0);
  CHECK(fs::is_directory(temp_dir() / "new_log_dir"));
  write_text(temp_dir() / "cached.csv", small_csv(200, 4));
  // A cache is optional: the run goes on without one, with a warning, and makes no directory.
  CHECK(run("train", "--device cpu --epochs 1 --batch-size 64 --hidden 8 --data cached.csv --cache-dir no_parent/cache",
            &out) == 0);
  CHECK(out.find("warning: --cache-dir no_parent/cache: the directory") != std::string::npos);
  CHECK(out.find("no table cache is written") != std::string::npos);
  CHECK(!fs::exists(temp_dir() / "no_parent"));
  CHECK(run("train", "--device cpu --epochs 1 --batch-size 64 --hidden 8 --data cached.csv --cache-dir new_cache",
            &out) == 0);
  CHECK(fs::is_directory(temp_dir() / "new_cache"));
}

TEST_CASE("the atomic writers remove stale temporaries of dead processes, not of live ones") {
  const fs::path dir = temp_dir() / "stale";
  fs::create_directories(dir);
  // A pid that cannot be live: above pid_max (at most 4194304 on Linux).
  const std::string dead = "99999999";
  // A reaped child's pid is dead too.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  const std::string live = std::to_string(::getppid());

  const fs::path ckpt = dir / "run.ckpt";
  for (const std::string& pid : {dead, std::to_string(child), live}) write_text(ckpt.string() + ".tmp." + pid, "junk");
  write_text(dir / "other.ckpt.tmp.99999999", "not ours");
  fasttab::CheckpointFile file;
  file.put_string("config", "{}");
  fasttab::write_checkpoint_file(ckpt.string(), file);
  CHECK(fs::exists(ckpt));
  CHECK(!fs::exists(ckpt.string() + ".tmp." + dead));
  CHECK(!fs::exists(ckpt.string() + ".tmp." + std::to_string(child)));
  CHECK(fs::exists(ckpt.string() + ".tmp." + live));
  CHECK(fs::exists(dir / "other.ckpt.tmp.99999999"));

  const fs::path cache = dir / "t.ftcache";
  write_text(cache.string() + ".tmp." + dead, "junk");
  write_text(cache.string() + ".tmp." + live, "junk");
  fasttab::Table t;
  t.rows = 2;
  t.cols = 1;
  t.features = {1, 2};
  t.labels = {0, 1};
  std::string why;
  REQUIRE(fasttab::write_table_cache(cache.string(), fasttab::CacheKey{"x.csv", 10, 1, "sel"}, t, &why));
  CHECK(!fs::exists(cache.string() + ".tmp." + dead));
  CHECK(fs::exists(cache.string() + ".tmp." + live));
}

TEST_CASE("predict uses the model's column layout: the wine data with its label in the last column") {
  if (!fs::exists(kWine)) FASTTAB_SKIP_TEST("the shared wine data is not present");
  std::string out;
  REQUIRE(run("train", "--device cpu --data " + kWine + " --no-cache --label-col 11 --task regression --epochs 1 "
                        "--batch-size 128 --hidden 8 --standardize --save wine.ckpt",
              &out) == 0);
  INFO(out);
  const fasttab::SavedModel model = fasttab::load_saved_model((temp_dir() / "wine.ckpt").string());
  REQUIRE(model.layout.known);
  CHECK(model.layout.label_col == 11);
  CHECK(model.layout.source_cols == 12);
  CHECK(model.layout.delimiter == ';');
  CHECK(model.layout.header);
  CHECK(model.layout.feature_cols == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  CHECK(model.layout.feature_names.front() == "fixed acidity");

  // No column flags: the model's layout. Metrics against quality.
  REQUIRE(run("predict", "--device cpu --model wine.ckpt --data " + kWine + " --no-cache --out wine.csv", &out) == 0);
  CHECK(out.find("metrics on all 1599 rows") != std::string::npos);
  const std::string with_label = read_text(temp_dir() / "wine.csv");

  // A flag that contradicts the model.
  CHECK(run("predict", "--device cpu --model wine.ckpt --data " + kWine + " --no-cache --label-col 0 --out x.csv",
            &out) == 1);
  CHECK(out.find("--label-col 0 contradicts the model") != std::string::npos);
  CHECK(run("predict", "--device cpu --model wine.ckpt --data " + kWine + " --no-cache --features 1-11 --out x.csv",
            &out) == 1);
  CHECK(out.find("--features 1-11 contradicts the model") != std::string::npos);

  // The same rows without the label column: the same predictions, no metrics (detected, and --label-col none).
  std::ifstream in(kWine);
  std::ofstream unlabelled(temp_dir() / "wine_nolabel.csv"), renamed(temp_dir() / "wine_renamed.csv"),
      wide(temp_dir() / "wine_wide.csv");
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    const std::string cut = line.substr(0, line.rfind(';'));
    unlabelled << cut << "\n";
    renamed << (first ? "\"fixed acid\"" + line.substr(line.find(';')) : line) << "\n";
    wide << line << ";0\n";
    first = false;
  }
  unlabelled.close();
  renamed.close();
  wide.close();
  REQUIRE(run("predict", "--device cpu --model wine.ckpt --data wine_nolabel.csv --no-cache --out nolabel.csv",
              &out) == 0);
  CHECK(out.find("no label column") != std::string::npos);
  CHECK(out.find("metrics on") == std::string::npos);
  CHECK(read_text(temp_dir() / "nolabel.csv") == with_label);
  REQUIRE(run("predict", "--device cpu --model wine.ckpt --data wine_nolabel.csv --no-cache --label-col none "
                         "--out nolabel2.csv",
              &out) == 0);
  CHECK(read_text(temp_dir() / "nolabel2.csv") == with_label);
  CHECK(run("predict", "--device cpu --model wine.ckpt --data " + kWine + " --no-cache --label-col none --out x.csv",
            &out) == 1);
  CHECK(out.find("has 12 columns; without the label the model") != std::string::npos);

  // A header that names other columns, and a file of the wrong width.
  CHECK(run("predict", "--device cpu --model wine.ckpt --data wine_renamed.csv --no-cache --out x.csv", &out) == 1);
  CHECK(out.find("feature 1 is the column named 'fixed acid' but the model's feature 1 is 'fixed acidity'") !=
        std::string::npos);
  CHECK(run("predict", "--device cpu --model wine.ckpt --data wine_wide.csv --no-cache --out x.csv", &out) == 1);
  CHECK(out.find("has 13 columns but the model") != std::string::npos);
  CHECK(out.find("give a file of 12 columns (with the label) or 11 (without it)") != std::string::npos);
  CHECK(!fs::exists(temp_dir() / "x.csv"));

  // A checkpoint without a layout (saved before layouts were): the flags apply as given, with a note.
  fasttab::CheckpointFile file = fasttab::read_checkpoint_file((temp_dir() / "wine.ckpt").string());
  nlohmann::json config = nlohmann::json::parse(file.get_string("config"));
  config.erase("layout");
  file.put_string("config", config.dump(1));
  fasttab::write_checkpoint_file((temp_dir() / "old.ckpt").string(), file);
  REQUIRE(run("predict", "--device cpu --model old.ckpt --data " + kWine + " --no-cache --label-col 11 --out old.csv",
              &out) == 0);
  CHECK(out.find("records no column layout") != std::string::npos);
  CHECK(read_text(temp_dir() / "old.csv") == with_label);
}

TEST_CASE("a synthetic model's layout is the --export-npy one") {
  std::string out;
  REQUIRE(run("train", "--device cpu --rows 3000 --epochs 1 --batch-size 256 --hidden 8 --save syn.ckpt "
                       "--export-npy syn.npy",
              &out) == 0);
  const fasttab::SavedModel model = fasttab::load_saved_model((temp_dir() / "syn.ckpt").string());
  CHECK(model.layout.synthetic);
  CHECK(model.layout.label_col == 0);
  CHECK(model.layout.source_cols == model.spec.inputs + 1);
  REQUIRE(run("predict", "--device cpu --model syn.ckpt --data syn.npy --out syn_pred.csv", &out) == 0);
  CHECK(out.find("metrics on all 3000 rows") != std::string::npos);
}

TEST_CASE("a test or validation split of a single class is warned about before training") {
  write_text(temp_dir() / "sorted.csv", small_csv(400, 4, true));
  std::string out;
  REQUIRE(run("train", "--device cpu --data sorted.csv --no-cache --test-rows 40 --val-rows 40 --epochs 1 "
                       "--batch-size 64 --hidden 8",
              &out) == 0);
  CHECK(out.find("warning: the test set (the file's last 40 rows) holds only class 1: its AUC is undefined (nan); shuffle the file") !=
        std::string::npos);
  CHECK(out.find("warning: the validation set (the last 40 training rows) holds only class 1") != std::string::npos);
  CHECK(out.find("warning") < out.find("epoch "));
}

TEST_CASE("non-finite and out-of-range float flags get a short message") {
  std::string out;
  for (const std::string flag : {"--lr", "--dropout", "--weight-decay", "--momentum", "--beta1", "--beta2",
                                 "--lr-gamma", "--min-lr"}) {
    for (const std::string value : {"inf", "nan", "1e40"}) {
      CHECK(run("train", "--device cpu --rows 3000 " + flag + " " + value, &out) != 0);
      CHECK(out.find(value + ": must be a finite number") != std::string::npos);
      CHECK(out.size() < 400);
      INFO(flag, " ", value, ": ", out);
    }
  }
  CHECK(run("train", "--device cpu --rows 3000 --lr 0", &out) != 0);
  CHECK(out.find("0: must be a finite number > 0") != std::string::npos);
  CHECK(run("train", "--device cpu --rows 3000 --lr 1e39", &out) != 0);  // beyond float
  CHECK(out.find("must be a finite number") != std::string::npos);
}

TEST_CASE("too few training rows: the advice fits --data or the synthetic data") {
  write_text(temp_dir() / "few.csv", small_csv(100, 4));
  std::string out;
  CHECK(run("train", "--device cpu --data few.csv --no-cache --batch-size 200", &out) == 1);
  CHECK(out.find("use a larger table or a smaller --test-rows") != std::string::npos);
  CHECK(out.find("--rows") == std::string::npos);
  CHECK(run("train", "--device cpu --rows 1000 --batch-size 4096", &out) == 1);
  CHECK(out.find("use more --rows") != std::string::npos);
}

TEST_CASE("Mlp refuses a model larger than the backend's free memory before allocating any of it") {
  std::unique_ptr<fasttab::Backend> backend = fasttab::make_backend(fasttab::DeviceChoice::cpu);
  fasttab::MlpSpec spec;
  spec.inputs = 28;
  spec.hidden = {65536, 65536, 65536};  // 3 x 17 GB of parameters, gradients twice that
  spec.outputs = 1;
  CHECK_THROWS_WITH_AS(fasttab::Mlp(*backend, spec, 256),
                       doctest::Contains("bytes of cpu memory but only"), fasttab::Error);
}
