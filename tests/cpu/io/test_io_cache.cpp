// The table cache: written on the first load, read on the next; a stale, corrupt or differently selected cache
// is not used.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "fasttab/io.hpp"
#include "cpu/io/io_test_files.hpp"

using fasttab::load_table;
using fasttab::LoadOptions;
using fasttab::LoadReport;
using fasttab::test::TempDir;
using fasttab::test::write_text;

namespace {
std::string rows_text(int rows, int shift) {
  std::string text = "label,x,y\n";
  for (int r = 0; r < rows; ++r) {
    text += std::to_string(r % 2) + "," + std::to_string(r + shift) + "," + std::to_string(2 * r) + "\n";
  }
  return text;
}
}  // namespace

TEST_CASE("io cache: miss writes next to the source, hit reads the same table") {
  TempDir dir;
  LoadOptions options;
  options.path = write_text(dir.file("t.csv"), rows_text(100, 0));
  LoadReport report;
  const auto first = load_table(options, &report);
  CHECK_FALSE(report.from_cache);
  CHECK(report.format == "csv");
  REQUIRE_FALSE(report.cache_path.empty());
  CHECK(std::filesystem::path(report.cache_path).parent_path() == dir.path());
  CHECK(std::filesystem::exists(report.cache_path));
  const auto second = load_table(options, &report);
  CHECK(report.from_cache);
  CHECK(report.format == "cache");
  CHECK(second.rows == first.rows);
  CHECK(second.labels == first.labels);
  CHECK(second.features == first.features);
  CHECK(second.feature_names == std::vector<std::string>{"x", "y"});
  // Handing the cache itself to --data is refused by name.
  LoadOptions cache_as_data;
  cache_as_data.path = report.cache_path;
  CHECK(fasttab::test::error_of([&] { load_table(cache_as_data); }) ==
        report.cache_path + ": this is a fasttab table cache; give --data the .csv or .csv.gz it was made from");
  // No temporary file is left behind.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) files += entry.is_regular_file();
  CHECK(files == 2);
}

TEST_CASE("io cache: --cache-dir (made if missing), a changed selection, and --no-cache") {
  TempDir dir;
  TempDir cache;
  LoadOptions options;
  options.path = write_text(dir.file("t.csv.gz"), "");
  fasttab::test::write_gzip(options.path, rows_text(50, 0));
  options.cache_dir = (cache.path() / "made").string();
  LoadReport report;
  load_table(options, &report);
  CHECK(report.format == "csv.gz");
  CHECK(std::filesystem::path(report.cache_path).parent_path() == cache.path() / "made");
  load_table(options, &report);
  CHECK(report.from_cache);
  options.features = "2";
  auto t = load_table(options, &report);
  CHECK_FALSE(report.from_cache);
  CHECK(t.cols == 1);
  CHECK(t.features[1] == 2);
  options.use_cache = false;
  load_table(options, &report);
  CHECK_FALSE(report.from_cache);
  CHECK(report.cache_path.empty());
}

TEST_CASE("io cache: a stale cache (source changed) is ignored and rewritten") {
  TempDir dir;
  LoadOptions options;
  options.path = write_text(dir.file("t.csv"), rows_text(100, 0));
  LoadReport report;
  load_table(options, &report);
  const std::string cache_path = report.cache_path;
  // Same size, new content and a newer modification time.
  write_text(options.path, rows_text(100, 1).replace(0, 5, "lab_l"));
  std::filesystem::last_write_time(options.path,
                                   std::filesystem::last_write_time(options.path) + std::chrono::seconds(5));
  auto t = load_table(options, &report);
  CHECK_FALSE(report.from_cache);
  CHECK(report.cache_path == cache_path);
  CHECK(t.features[0] == 1);
  t = load_table(options, &report);
  CHECK(report.from_cache);
  CHECK(t.features[0] == 1);
}

TEST_CASE("io cache: a truncated or corrupt cache is ignored and rewritten") {
  TempDir dir;
  LoadOptions options;
  options.path = write_text(dir.file("t.csv"), rows_text(100, 0));
  LoadReport report;
  const auto expected = load_table(options, &report);
  const std::string cache_path = report.cache_path;
  const std::string bytes = fasttab::test::read_bytes(cache_path);
  for (const std::string& broken : {bytes.substr(0, bytes.size() - 1), std::string("garbage"),
                                    std::string(bytes).replace(0, 4, "XXXX")}) {
    write_text(cache_path, broken);
    const auto t = load_table(options, &report);
    CHECK_FALSE(report.from_cache);
    CHECK(t.features == expected.features);
    CHECK(fasttab::test::read_bytes(cache_path) == bytes);
  }
}

TEST_CASE("io cache: an unwritable cache directory does not fail the load") {
  TempDir dir;
  LoadOptions options;
  options.path = write_text(dir.file("t.csv"), rows_text(10, 0));
  options.cache_dir = options.path + "/sub";  // under a regular file: cannot be made
  LoadReport report;
  CHECK(load_table(options, &report).rows == 10);
  CHECK(report.cache_path.empty());
}
