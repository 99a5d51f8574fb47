// The train/test/validation splits (issue 12, item 5): the seeded random split and --val-fraction in the library,
// and build/train's --test-fraction, --test-data, the split line and the refusals.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fasttab/dataset.hpp"
#include "fasttab/error.hpp"
#include "fasttab/train_config.hpp"
#include "cpu/io/io_test_files.hpp"
#include "cpu/train/tool_runner.hpp"

using namespace fasttab;
using fasttab::test::error_of;

namespace {

// rows x 2 features; row r holds features (r, -r) and label r: every value names its row.
Table numbered(std::int64_t rows) {
  Table t;
  t.rows = rows;
  t.cols = 2;
  for (std::int64_t r = 0; r < rows; ++r) {
    t.features.push_back(float(r));
    t.features.push_back(-float(r));
    t.labels.push_back(float(r));
  }
  return t;
}

std::vector<int> labels_of(const Table& t) { return std::vector<int>(t.labels.begin(), t.labels.end()); }

bool increasing(const std::vector<int>& v) {
  for (std::size_t i = 1; i < v.size(); ++i)
    if (v[i] <= v[i - 1]) return false;
  return true;
}

bool rows_intact(const Table& t) {
  for (std::int64_t r = 0; r < t.rows; ++r)
    if (t.features[2 * r] != t.labels[r] || t.features[2 * r + 1] != -t.labels[r]) return false;
  return true;
}

}  // namespace

TEST_CASE("the random split: reproducible for a seed, another for another seed, the fraction, file order") {
  const Dataset a = split_random(numbered(1000), 0.2, 0, "t");
  const Dataset b = split_random(numbered(1000), 0.2, 0, "t");
  const Dataset c = split_random(numbered(1000), 0.2, 1, "t");
  CHECK(a.test.rows == 200);
  CHECK(a.train.rows == 800);
  CHECK(labels_of(a.test) == labels_of(b.test));
  CHECK(labels_of(a.train) == labels_of(b.train));
  CHECK(labels_of(a.test) != labels_of(c.test));
  CHECK(increasing(labels_of(a.test)));
  CHECK(increasing(labels_of(a.train)));
  CHECK(rows_intact(a.test));
  CHECK(rows_intact(a.train));
  std::set<int> all;
  for (int y : labels_of(a.test)) all.insert(y);
  for (int y : labels_of(a.train)) all.insert(y);
  CHECK(all.size() == 1000);
  // Not the last rows: the test rows are spread over the file.
  CHECK(labels_of(a.test).front() < 100);
  CHECK(labels_of(a.test).back() >= 900);
  CHECK(a.split == "random test 0.2 seed 0");
  CHECK(split_random(numbered(10), 0.333, 0, "t").test.rows == 3);
  CHECK(split_random(numbered(10), 0.01, 0, "t").test.rows == 1);   // at least one test row
  CHECK(split_random(numbered(10), 0.99, 0, "t").train.rows == 1);  // and one training row
}

TEST_CASE("--val-fraction: random training rows moved to the end, each part in order") {
  Dataset d = split_random(numbered(1000), 0.2, 7, "t");
  const std::vector<int> train_before = labels_of(d.train);
  Table train = d.train;
  const std::int64_t val = take_validation_rows(train, 0.25, 7);
  CHECK(val == 200);
  CHECK(train.rows == 800);
  CHECK(rows_intact(train));
  const std::vector<int> labels = labels_of(train);
  const std::vector<int> fit(labels.begin(), labels.end() - val), held(labels.end() - val, labels.end());
  CHECK(increasing(fit));
  CHECK(increasing(held));
  const std::set<int> train_set(train_before.begin(), train_before.end());
  for (int y : held) CHECK(train_set.count(y) == 1);  // validation rows come from the training rows
  CHECK(std::set<int>(labels.begin(), labels.end()) == train_set);
  Table again = d.train;
  take_validation_rows(again, 0.25, 7);
  CHECK(labels_of(again) == labels);
  Table other = d.train;
  take_validation_rows(other, 0.25, 8);
  CHECK(labels_of(other) != labels);
}

TEST_CASE("bad split values are refused with the flag and the range") {
  for (double f : {0.0, 1.0, -0.1, 1.5}) {
    CHECK(error_of([&] { split_random(numbered(100), f, 0, "t"); }).find("--test-fraction") != std::string::npos);
    CHECK(error_of([&] { split_random(numbered(100), f, 0, "t"); }).find("(0, 1)") != std::string::npos);
    Table t = numbered(100);
    CHECK(error_of([&] { take_validation_rows(t, f, 0); }).find("--val-fraction") != std::string::npos);
  }
  TrainConfig c;
  c.val_fraction = 1.5;
  CHECK(error_of([&] { c.validate(); }).find("--val-fraction 1.5: must be a fraction in (0, 1)") != std::string::npos);
  c.val_fraction = 0.1;
  c.val_rows = 100;
  CHECK(error_of([&] { c.validate(); }).find("--val-fraction 0.1 and --val-rows 100") != std::string::npos);
  c.val_rows = 0;
  c.patience = 3;
  CHECK(error_of([&] { c.validate(); }) == "");  // --patience with --val-fraction
  Table wider = numbered(10);
  wider.cols = 1;
  CHECK(error_of([&] { with_test_table(numbered(100), std::move(wider), "a.csv", "b.csv"); })
            .find("--test-data b.csv has 1 features but a.csv has 2") != std::string::npos);
}

namespace {

std::filesystem::path temp_dir() { return fasttab::test::process_temp_dir("fasttab_splits_"); }

int run(const std::string& args, std::string* output) {
  return fasttab::test::run_tool_in(temp_dir(), "train", args, output);
}

std::string small_csv(int n, int cols, int offset = 0) {
  std::ostringstream s;
  for (int r = offset; r < offset + n; ++r) {
    s << r % 2;
    for (int c = 0; c < cols; ++c) s << "," << ((r * 7 + c * 13) % 17) / 17.0 + 0.1 * (r % 2);
    s << "\n";
  }
  return s.str();
}

}  // namespace

TEST_CASE("build/train: the default random split, --test-data, the split line and the refusals") {
  fasttab::test::write_text(temp_dir() / "train.csv", small_csv(200, 4));
  fasttab::test::write_text(temp_dir() / "test.csv", small_csv(50, 4, 200));
  fasttab::test::write_text(temp_dir() / "wide.csv", small_csv(50, 5));
  const std::string base = "--device cpu --data train.csv --label-col 0 --no-cache --batch-size 20 --epochs 1 --hidden 8 ";
  std::string out;
  CHECK(run(base, &out) == 0);
  CHECK(out.find("split: random 80/20 (split seed 0): 160 train, 40 test rows") != std::string::npos);
  INFO(out);
  CHECK(run(base + "--test-fraction 0.25 --split-seed 3 --val-fraction 0.1 --patience 2", &out) == 0);
  CHECK(out.find("split: random 75/25 (split seed 3): 150 train, 50 test rows") != std::string::npos);
  CHECK(out.find("validation: 15 random training rows") != std::string::npos);
  CHECK(run(base + "--test-rows 30", &out) == 0);
  CHECK(out.find("split: the last 30 rows are the test set") != std::string::npos);
  CHECK(run(base + "--test-data test.csv", &out) == 0);
  CHECK(out.find("split: test rows from test.csv") != std::string::npos);
  CHECK(out.find("train 200 rows, test 50 rows") != std::string::npos);

  CHECK(run(base + "--test-fraction 1", &out) == 1);
  CHECK(out.find("--test-fraction 1: must be a fraction in (0, 1)") != std::string::npos);
  CHECK(run(base + "--test-fraction 0.2 --test-rows 10", &out) == 1);
  CHECK(out.find("both choose the test rows") != std::string::npos);
  CHECK(run(base + "--val-fraction 0.1 --val-rows 20", &out) == 1);
  CHECK(out.find("--val-fraction 0.1 and --val-rows 20") != std::string::npos);
  CHECK(run(base + "--test-data wide.csv", &out) == 1);
  CHECK(out.find("--test-data wide.csv has 5 features but train.csv has 4") != std::string::npos);
  CHECK(run("--device cpu --rows 1000 --test-fraction 0.2 --epochs 1", &out) == 1);
  CHECK(out.find("built-in synthetic data's test set is its last rows") != std::string::npos);
}
