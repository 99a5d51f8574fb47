// Categorical columns from files: R-style CSVs (quoted header with an empty first name, quoted numbers and text),
// columns named by header, text detected anywhere in a column, text labels, the table cache, .npy --categorical,
// the vocabularies built on training rows and the encoding of other tables with them, and bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

#include "fasttab/dataset.hpp"
#include "fasttab/io.hpp"
#include "io_test_files.hpp"

using namespace fasttab;
using fasttab::test::error_of;
using fasttab::test::TempDir;
using fasttab::test::write_text;

namespace {

// An R write.csv table: row number, a number, a text column, a quoted number, a yes/no label.
const char* kRStyle =
    "\"\",\"carat\",\"cut\",\"depth\",\"whi\"\n"
    "\"1\",0.23,\"Ideal\",\"61.5\",\"no\"\n"
    "\"2\",0.21,\"Premium\",59.8,\"yes\"\n"
    "\"3\",0.23,\"Good\",56.9,\"yes\"\n"
    "\"4\",0.29,\"Premium\",NA,\"no\"\n"
    "\"5\",0.31,NA,63.3,\"yes\"\n"
    "\"6\",0.24,\"Ideal\",62.8,\"no\"\n";

LoadOptions r_style_options(const std::string& path) {
  LoadOptions o;
  o.path = path;
  o.label_name = "whi";
  o.drop = "0";
  o.nan_policy = NanPolicy::zero;  // the NA in the numeric column 'depth'
  o.use_cache = false;
  return o;
}

float at(const Table& t, std::int64_t row, int col) { return t.features[std::size_t(row) * t.cols + col]; }

}  // namespace

TEST_CASE("an R-style CSV: empty first header name, quoted numbers and text, columns by name") {
  TempDir dir;
  const Table t = load_table(r_style_options(write_text(dir.file("r.csv"), kRStyle)));
  REQUIRE(t.rows == 6);
  REQUIRE(t.cols == 3);  // carat, cut, depth: the row number dropped, the label taken by name
  CHECK(t.feature_names == std::vector<std::string>{"carat", "cut", "depth"});
  REQUIRE(t.categorical.size() == 1);
  CHECK(t.categorical[0].feature == 1);
  CHECK(t.categorical[0].levels == std::vector<std::string>{"Ideal", "Premium", "Good"});  // first appearance
  CHECK(at(t, 0, 1) == 0.0f);
  CHECK(at(t, 1, 1) == 1.0f);
  CHECK(std::isnan(at(t, 4, 1)));  // NA: a missing category
  CHECK(at(t, 0, 2) == 61.5f);     // "61.5" quoted is a number
  CHECK(at(t, 3, 2) == 0.0f);      // NA in a numeric column: the NaN policy (zero)
  CHECK(t.label_classes == std::vector<std::string>{"no", "yes"});
  CHECK(t.labels == std::vector<float>{0, 1, 1, 0, 1, 0});
}

TEST_CASE("columns by name: --features and --categorical take names, unknown names are refused with the header") {
  TempDir dir;
  const std::string path = write_text(dir.file("r.csv"), kRStyle);
  LoadOptions o = r_style_options(path);
  o.drop.clear();
  o.features = "cut,carat";
  o.categorical = "carat";  // numbers as categories
  const Table t = load_table(o);
  REQUIRE(t.cols == 2);
  REQUIRE(t.categorical.size() == 2);
  CHECK(t.categorical[0].feature == 0);
  CHECK(t.categorical[1].feature == 1);
  CHECK(t.categorical[1].levels == std::vector<std::string>{"0.23", "0.21", "0.29", "0.31", "0.24"});

  o.categorical = "colour";
  const std::string e = error_of([&] { load_table(o); });
  CHECK(e.find("--categorical 'colour'") != std::string::npos);
  CHECK(e.find("'cut'") != std::string::npos);  // the header names are listed
  LoadOptions label = r_style_options(path);
  label.label_name = "price";
  CHECK(error_of([&] { load_table(label); }).find("--label-col 'price' is not a column name") != std::string::npos);
}

TEST_CASE("text far down a column that looked numeric makes it categorical, --numeric makes it an error") {
  TempDir dir;
  std::string text = "y,a,b\n";
  for (int r = 0; r < 3000; ++r) text += std::to_string(r % 2) + "," + std::to_string(r) + ".5," + std::to_string(r % 3) + "\n";
  text += "1,7.5,high\n";
  const std::string path = write_text(dir.file("late.csv"), text);
  LoadOptions o;
  o.path = path;
  o.use_cache = false;
  o.threads = 2;
  const Table t = load_table(o);
  REQUIRE(t.categorical.size() == 1);
  CHECK(t.categorical[0].feature == 1);
  CHECK(t.categorical[0].levels == std::vector<std::string>{"0", "1", "2", "high"});
  CHECK(at(t, 3000, 1) == 3.0f);
  CHECK(at(t, 3000, 0) == 7.5f);

  o.numeric = "b";
  const std::string e = error_of([&] { load_table(o); });
  CHECK(e.find("line 3002, column 2: 'high' is not a number") != std::string::npos);
}

TEST_CASE("text labels: yes/no order, sorted otherwise, a missing label follows the NaN policy") {
  TempDir dir;
  LoadOptions o;
  o.use_cache = false;
  o.path = write_text(dir.file("g.csv"), "h,1\ng,2\ng,3\n");
  Table t = load_table(o);
  CHECK(t.label_classes == std::vector<std::string>{"g", "h"});
  CHECK(t.labels == std::vector<float>{1, 0, 0});
  o.path = write_text(dir.file("tf.csv"), "TRUE,1\nFALSE,2\n");
  CHECK(load_table(o).label_classes == std::vector<std::string>{"FALSE", "TRUE"});
  o.header = HeaderMode::absent;
  o.path = write_text(dir.file("missing.csv"), "a,1\n,2\nb,3\n");
  CHECK(error_of([&] { load_table(o); }).find("line 2, column 0: the label is missing") != std::string::npos);
  o.nan_policy = NanPolicy::drop;
  CHECK(load_table(o).rows == 2);
}

TEST_CASE("a text label of three classes is refused for the binary task, naming the classes") {
  TempDir dir;
  LoadOptions o;
  o.use_cache = false;
  o.path = write_text(dir.file("three.csv"), "red,1\nblue,2\ngreen,3\n");
  const Table t = load_table(o);
  CHECK(t.label_classes == std::vector<std::string>{"blue", "green", "red"});
  const std::string e = error_of([&] { validate_labels(Task::binary, 0, t, "three.csv"); });
  CHECK(e.find("3 classes ('blue', 'green', 'red')") != std::string::npos);
  CHECK(validate_labels(Task::multiclass, 0, t, "three.csv") == 3);
}

TEST_CASE("more categories than --max-categories are refused, naming the column") {
  TempDir dir;
  LoadOptions o;
  o.use_cache = false;
  o.max_categories = 3;
  o.path = write_text(dir.file("many.csv"), "y,city\n1,a\n0,b\n1,c\n0,d\n");
  const std::string e = error_of([&] { load_table(o); });
  CHECK(e.find("more than 3 distinct values") != std::string::npos);
  CHECK(e.find("column 1") != std::string::npos);
}

TEST_CASE("the table cache keeps the categories and the label classes") {
  TempDir dir;
  LoadOptions o = r_style_options(write_text(dir.file("r.csv"), kRStyle));
  o.use_cache = true;
  LoadReport first, second;
  const Table a = load_table(o, &first);
  const Table b = load_table(o, &second);
  CHECK_FALSE(first.from_cache);
  REQUIRE(second.from_cache);
  REQUIRE(b.categorical.size() == 1);
  CHECK(b.categorical[0].levels == a.categorical[0].levels);
  CHECK(b.label_classes == a.label_classes);
  CHECK(b.feature_names == a.feature_names);
  CHECK(std::memcmp(a.features.data(), b.features.data(), a.features.size() * 4) == 0);
}

TEST_CASE(".npy: --categorical turns a column's values into categories") {
  TempDir dir;
  Table numeric;
  numeric.rows = 4;
  numeric.cols = 2;
  numeric.features = {1.5f, 10, 2.5f, 20, 3.5f, 10, 4.5f, std::nanf("")};
  numeric.labels = {0, 1, 0, 1};
  const std::string path = dir.file("t.npy");
  write_npy(path, numeric);
  LoadOptions o;
  o.path = path;
  o.categorical = "2";
  const Table t = load_table(o);
  REQUIRE(t.categorical.size() == 1);
  CHECK(t.categorical[0].feature == 1);
  CHECK(t.categorical[0].levels == std::vector<std::string>{"10", "20"});
  CHECK(std::isnan(at(t, 3, 1)));
}

TEST_CASE("vocabularies: built on the training rows by count (ties by text), rare and unseen share code 1") {
  TempDir dir;
  // column 1: training rows b b b a a c d (d and c once), then validation rows; test rows: a, e (unseen), missing
  std::string text = "y,x,k\n";
  const char* train_k[] = {"b", "b", "b", "a", "a", "c", "d", "z", "z", "z"};  // the last 3 are validation rows
  for (int r = 0; r < 10; ++r) text += std::to_string(r % 2) + "," + std::to_string(r) + "," + train_k[r] + "\n";
  LoadOptions o;
  o.use_cache = false;
  o.path = write_text(dir.file("train.csv"), text);
  Table train = load_table(o);
  o.path = write_text(dir.file("test.csv"), "1,0,e\n0,1,a\n1,2,\n0,3,d\n");
  Table test = load_table(o);
  Dataset d = with_test_table(std::move(train), std::move(test), "train.csv", "test.csv");
  encode_categories(d, /*min_count=*/1, /*vocabulary_rows=*/7);
  REQUIRE(d.train.vocabularies.size() == 1);
  const Vocabulary& v = d.train.vocabularies[0];
  CHECK(v.name == "k");
  CHECK(v.categories == std::vector<std::string>{"b", "a", "c", "d"});  // z only in validation rows: unseen
  CHECK(d.train.categorical.empty());
  CHECK(at(d.train, 0, 1) == 2.0f);  // b
  CHECK(at(d.train, 3, 1) == 3.0f);  // a
  CHECK(at(d.train, 9, 1) == 1.0f);  // z: unseen in the vocabulary rows
  CHECK(at(d.test, 0, 1) == 1.0f);   // e: unseen
  CHECK(at(d.test, 1, 1) == 3.0f);   // a, though the test file saw it second
  CHECK(at(d.test, 2, 1) == 0.0f);   // missing
  CHECK(at(d.test, 3, 1) == 5.0f);   // d

  Dataset rare = with_test_table(load_table([&] { LoadOptions t = o; t.path = dir.file("train.csv"); return t; }()),
                                 load_table(o), "train.csv", "test.csv");
  encode_categories(rare, /*min_count=*/2, 7);
  CHECK(rare.train.vocabularies[0].categories == std::vector<std::string>{"b", "a"});
  CHECK(at(rare.test, 3, 1) == 1.0f);  // d: seen once, rarer than 2
}

TEST_CASE("a test file's text labels are renumbered as the training file's classes, unknown ones are refused") {
  TempDir dir;
  LoadOptions o;
  o.use_cache = false;
  o.path = write_text(dir.file("train.csv"), "cat,1\ndog,2\nbird,3\n");
  Table train = load_table(o);
  o.path = write_text(dir.file("test.csv"), "dog,1\ncat,2\n");
  Dataset d = with_test_table(std::move(train), load_table(o), "train.csv", "test.csv");
  CHECK(d.test.label_classes == std::vector<std::string>{"bird", "cat", "dog"});
  CHECK(d.test.labels == std::vector<float>{2, 1});
  o.path = write_text(dir.file("fish.csv"), "cat,1\nfish,2\n");
  Table again = load_table([&] { LoadOptions t = o; t.path = dir.file("train.csv"); return t; }());
  const std::string e = error_of([&] { with_test_table(std::move(again), load_table(o), "train.csv", "fish.csv"); });
  CHECK(e.find("label 'fish' is not one of the training data's 3 classes") != std::string::npos);
}

TEST_CASE("the real tables: diamonds.csv and HI.csv load with their text columns (skipped without ../shared/data)") {
  const std::string dir = FASTTAB_SHARED_DATA_DIR;
  if (!std::filesystem::exists(dir + "/diamonds.csv")) {
    MESSAGE("skipped: " << dir << "/diamonds.csv is absent");
    return;
  }
  LoadOptions o;
  o.use_cache = false;
  o.path = dir + "/diamonds.csv";
  o.label_name = "price";
  o.drop = "0";
  const Table d = load_table(o);
  CHECK(d.rows == 53940);
  CHECK(d.cols == 9);
  REQUIRE(d.categorical.size() == 3);
  CHECK(d.categorical[0].levels.size() == 5);
  CHECK(d.categorical[1].levels.size() == 7);
  CHECK(d.categorical[2].levels.size() == 8);
  o.path = dir + "/HI.csv";
  o.label_name = "whi";
  const Table h = load_table(o);
  CHECK(h.rows == 22272);
  CHECK(h.categorical.size() == 6);
  CHECK(h.label_classes == std::vector<std::string>{"no", "yes"});
}
