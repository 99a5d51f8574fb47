// LoadOptions::rows: only some rows of a table. A .npy reads just those rows of the mapped file and the table
// cache preads just their labels and features; CSV text is parsed whole and sliced. Every way gives the whole
// load's rows, bit for bit (the per-rank loading of sharded training, docs/scaling.md).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "fasttab/io.hpp"
#include "cpu/io/io_test_files.hpp"

using fasttab::LoadOptions;
using fasttab::LoadReport;
using fasttab::RowRange;
using fasttab::Table;
using fasttab::test::TempDir;

namespace {

Table numbered_table(std::int64_t rows, int cols) {
  Table t;
  t.rows = rows;
  t.cols = cols;
  for (std::int64_t r = 0; r < rows; ++r) {
    t.labels.push_back(float(r % 2));
    for (int c = 0; c < cols; ++c) t.features.push_back(float(r) + 0.25f * float(c));
  }
  return t;
}

// The rows of `ranges` of `whole`, as the whole load's table sliced.
void check_rows(const Table& part, const Table& whole, const std::vector<RowRange>& ranges) {
  std::int64_t at = 0;
  for (const RowRange& range : ranges) {
    for (std::int64_t r = range.begin; r < range.end; ++r, ++at) {
      REQUIRE(at < part.rows);
      CHECK(part.labels[std::size_t(at)] == whole.labels[std::size_t(r)]);
      for (int c = 0; c < whole.cols; ++c)
        CHECK(part.features[std::size_t(at * part.cols + c)] == whole.features[std::size_t(r * whole.cols + c)]);
    }
  }
  CHECK(part.rows == at);
  CHECK(part.labels.size() == std::size_t(at));
  CHECK(part.features.size() == std::size_t(at * part.cols));
}

}  // namespace

TEST_CASE("io rows: a .npy reads only the rows asked for, and its row count is known without reading it") {
  TempDir dir;
  const Table source = numbered_table(101, 3);
  LoadOptions options;
  options.path = dir.file("t.npy");
  fasttab::write_npy(options.path, source);
  CHECK(fasttab::known_table_rows(options) == 101);
  const Table whole = fasttab::load_table(options);
  const std::vector<RowRange> ranges{{25, 50}, {90, 101}};
  options.rows = ranges;
  LoadReport report;
  const Table part = fasttab::load_table(options, &report);
  CHECK(report.partial);
  check_rows(part, whole, ranges);
  options.features = "2,1";  // column selection applies to the rows read
  const Table selected_whole = [&] {
    LoadOptions all = options;
    all.rows.clear();
    return fasttab::load_table(all);
  }();
  check_rows(fasttab::load_table(options), selected_whole, ranges);
  options.rows = {{100, 102}};
  CHECK(fasttab::test::error_of([&] { fasttab::load_table(options); }).find("rows [100, 102) are outside") !=
        std::string::npos);
}

TEST_CASE("io rows: a .npy with --nan-policy drop or --categorical is loaded whole, then sliced") {
  TempDir dir;
  Table source = numbered_table(40, 2);
  source.features[2 * 5] = std::nanf("");  // row 5 is dropped: the rows after it move up by one
  LoadOptions options;
  options.path = dir.file("t.npy");
  fasttab::write_npy(options.path, source);
  options.nan_policy = fasttab::NanPolicy::drop;
  CHECK(fasttab::known_table_rows(options) == -1);
  const Table whole = fasttab::load_table(options);
  CHECK(whole.rows == 39);
  const std::vector<RowRange> ranges{{3, 10}, {30, 39}};
  options.rows = ranges;
  LoadReport report;
  check_rows(fasttab::load_table(options, &report), whole, ranges);
  CHECK_FALSE(report.partial);
}

TEST_CASE("io rows: the table cache preads only the rows asked for, CSV text is parsed whole and sliced") {
  TempDir dir;
  std::string text = "label,x,y\n";
  for (int r = 0; r < 200; ++r) text += std::to_string(r % 2) + "," + std::to_string(r) + "," + std::to_string(3 * r) + "\n";
  LoadOptions options;
  options.path = fasttab::test::write_text(dir.file("t.csv"), text);
  CHECK(fasttab::known_table_rows(options) == -1);  // not parsed yet
  const std::vector<RowRange> ranges{{0, 17}, {150, 200}};
  options.rows = ranges;
  LoadReport report;
  const Table parsed = fasttab::load_table(options, &report);  // parses, writes the cache of every row, slices
  CHECK(report.format == "csv");
  CHECK_FALSE(report.partial);
  options.rows.clear();
  CHECK(fasttab::known_table_rows(options) == 200);  // the cache's header
  const Table whole = fasttab::load_table(options, &report);
  CHECK(report.from_cache);
  CHECK(whole.rows == 200);
  check_rows(parsed, whole, ranges);
  options.rows = ranges;
  const Table cached = fasttab::load_table(options, &report);
  CHECK(report.from_cache);
  CHECK(report.partial);
  check_rows(cached, whole, ranges);
  CHECK(cached.feature_names == whole.feature_names);
  options.rows = {{199, 201}};
  CHECK(fasttab::test::error_of([&] { fasttab::load_table(options); }).find("rows [199, 201) are outside") !=
        std::string::npos);
}
