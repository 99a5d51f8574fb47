// CSV loading: values, column selection, header and delimiter detection, line endings, quoting, parallel chunks.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "fasttab/io.hpp"
#include "cpu/io/io_test_files.hpp"

using fasttab::load_table;
using fasttab::LoadOptions;
using fasttab::test::TempDir;
using fasttab::test::write_text;

namespace {
LoadOptions csv_options(const std::string& path) {
  LoadOptions options;
  options.path = path;
  options.use_cache = false;
  return options;
}
}  // namespace

TEST_CASE("io csv: values of a small file round trip, label first, all features") {
  TempDir dir;
  const auto path = write_text(dir.file("a.csv"), "1,0.5,-2,3e2\n0,1.00E+00,+4,-1.5e-3\n");
  fasttab::LoadReport report;
  const auto t = load_table(csv_options(path), &report);
  CHECK(report.format == "csv");
  CHECK(report.source_bytes == 35);
  CHECK_FALSE(report.from_cache);
  REQUIRE(t.rows == 2);
  REQUIRE(t.cols == 3);
  CHECK(t.labels == std::vector<float>{1, 0});
  CHECK(t.features == std::vector<float>{0.5f, -2, 300, 1, 4, -1.5e-3f});
  CHECK(t.feature_names.empty());
}

TEST_CASE("io csv: column specs select and order features") {
  TempDir dir;
  const auto path = write_text(dir.file("c.csv"), "0,1,2,3,4,5\n10,11,12,13,14,15\n");
  auto options = csv_options(path);
  options.label_col = 5;
  options.features = "1-2,0";
  auto t = load_table(options);
  CHECK(t.cols == 3);
  CHECK(t.labels == std::vector<float>{5, 15});
  CHECK(t.features == std::vector<float>{1, 2, 0, 11, 12, 10});

  options.label_col = 2;
  options.features = "all";
  t = load_table(options);
  CHECK(t.features == std::vector<float>{0, 1, 3, 4, 5, 10, 11, 13, 14, 15});

  options.label_col = 0;
  options.features = "3";
  t = load_table(options);
  CHECK(t.features == std::vector<float>{3, 13});
}

TEST_CASE("io csv: header detection, quoted names, forced header modes") {
  TempDir dir;
  const auto path = write_text(dir.file("h.csv"), "\"label\",\"fixed acidity\",x\n1,2,3\n0,5,6\n");
  auto t = load_table(csv_options(path));
  CHECK(t.rows == 2);
  CHECK(t.feature_names == std::vector<std::string>{"fixed acidity", "x"});

  // A numeric first line is data unless --header says otherwise.
  const auto numeric = write_text(dir.file("n.csv"), "7,8,9\n1,2,3\n");
  auto options = csv_options(numeric);
  CHECK(load_table(options).rows == 2);
  options.header = fasttab::HeaderMode::present;
  t = load_table(options);
  CHECK(t.rows == 1);
  CHECK(t.feature_names == std::vector<std::string>{"8", "9"});

  // A string column in every row (a label such as 'g'/'h') is not a header; forcing --no-header keeps line 1.
  const auto strings = write_text(dir.file("s.csv"), "1,2,g\n3,4,h\n");
  options = csv_options(strings);
  options.label_col = 0;
  options.features = "1";
  t = load_table(options);
  CHECK(t.rows == 2);
  options = csv_options(path);
  options.header = fasttab::HeaderMode::absent;
  options.numeric = "all";  // else the header's words make text columns
  CHECK(fasttab::test::error_of([&] { load_table(options); }).find("h.csv line 1, column 0: '\"label\"' is not a number") !=
        std::string::npos);
}

TEST_CASE("io csv: delimiter detection and --delimiter") {
  TempDir dir;
  for (const char* delimiter : {",", "\t", ";"}) {
    const std::string d = delimiter;
    const auto path = write_text(dir.file("d.csv"), "a" + d + "b" + d + "c\n1" + d + "2.5" + d + "3\n");
    auto t = load_table(csv_options(path));
    CHECK(t.cols == 2);
    CHECK(t.features == std::vector<float>{2.5f, 3});
    auto options = csv_options(path);
    options.delimiter = delimiter[0];
    CHECK(load_table(options).features == std::vector<float>{2.5f, 3});
  }
  // Commas inside a ';' file (decimal commas are not supported, but a comma in a quoted name must not win).
  const auto path = write_text(dir.file("q.csv"), "\"a,b\";\"c,d\";e\n1;2;3\n");
  CHECK(load_table(csv_options(path)).cols == 2);
}

TEST_CASE("io csv: CRLF, byte-order mark, missing final newline and blank lines are accepted") {
  TempDir dir;
  const std::string texts[] = {
      "1,2,3\r\n4,5,6\r\n",        "1,2,3\r\n4,5,6",         "\xEF\xBB\xBF" "1,2,3\n4,5,6\n",
      "\xEF\xBB\xBF" "x,y,z\r\n1,2,3\r\n4,5,6", "1,2,3\n\n4,5,6\n\n", " 1 , 2,3\n4,\"5\", 6 \n",
  };
  for (const auto& text : texts) {
    CAPTURE(text);
    const auto t = load_table(csv_options(write_text(dir.file("e.csv"), text)));
    CHECK(t.rows == 2);
    CHECK(t.labels == std::vector<float>{1, 4});
    CHECK(t.features == std::vector<float>{2, 3, 5, 6});
  }
}

TEST_CASE("io csv: a multi-chunk file parses identically on 1 and 3 threads") {
  TempDir dir;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-100, 100);
  std::string text = "label,f1,f2,f3\n";
  std::vector<float> expected;
  const int rows = 300000;  // about 12 MB: several 4 MB chunks
  char buffer[64];
  for (int r = 0; r < rows; ++r) {
    text += (r % 2) ? "1" : "0";
    for (int c = 0; c < 3; ++c) {
      const float v = uniform(rng);
      expected.push_back(v);
      std::snprintf(buffer, sizeof buffer, ",%.9g", v);
      text += buffer;
    }
    text += (r % 5 == 0) ? "\r\n" : "\n";
  }
  const auto path = write_text(dir.file("big.csv"), text);
  auto options = csv_options(path);
  options.threads = 1;
  const auto one = load_table(options);
  options.threads = 3;
  const auto three = load_table(options);
  REQUIRE(one.rows == rows);
  CHECK(one.features == expected);
  CHECK(three.features == expected);
  CHECK(three.labels == one.labels);
  CHECK(three.labels[1] == 1);
}
