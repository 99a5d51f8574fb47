// .csv.gz and .npy: recognised by content, read back equal to the CSV; write_npy round trips.
#include <doctest/doctest.h>

#include <cstring>

#include "fasttab/io.hpp"
#include "cpu/io/io_test_files.hpp"

using fasttab::load_table;
using fasttab::LoadOptions;
using fasttab::test::TempDir;
using fasttab::test::write_text;

namespace {
LoadOptions no_cache(const std::string& path) {
  LoadOptions options;
  options.path = path;
  options.use_cache = false;
  return options;
}

std::string sample_csv(int rows) {
  std::string text = "y,a,b,c\r\n";
  for (int r = 0; r < rows; ++r) {
    text += std::to_string(r % 2) + "," + std::to_string(r) + ".5," + std::to_string(-r) + "e-3,0.125\r\n";
  }
  return text;
}

// A .npy file written by hand (as numpy.save does) with the given element type.
template <typename T>
std::string write_npy_of(const std::string& path, const char* descr, std::int64_t rows, std::int64_t cols,
                         const std::vector<T>& values) {
  std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" +
                     std::to_string(rows) + ", " + std::to_string(cols) + "), }";
  dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
  dict += '\n';
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(dict.size());
  bytes += static_cast<char>(dict.size() >> 8);
  bytes += dict;
  bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  return write_text(path, bytes);
}
}  // namespace

TEST_CASE("io gzip: a .csv.gz reads back equal to its .csv, whatever its name") {
  TempDir dir;
  const std::string text = sample_csv(200000);  // several 8 MB inflated chunks are not needed: ~6 MB is 1+
  const auto plain = load_table(no_cache(write_text(dir.file("s.csv"), text)));
  fasttab::LoadReport report;
  const auto gz = load_table(no_cache(fasttab::test::write_gzip(dir.file("s.csv.gz"), text)), &report);
  CHECK(report.format == "csv.gz");
  CHECK(gz.rows == 200000);
  CHECK(gz.features == plain.features);
  CHECK(gz.labels == plain.labels);
  CHECK(gz.feature_names == std::vector<std::string>{"a", "b", "c"});
  // Content, not the extension, decides.
  fasttab::test::write_gzip(dir.file("gz_named.csv"), text);
  CHECK(load_table(no_cache(dir.file("gz_named.csv")), &report).rows == 200000);
  CHECK(report.format == "csv.gz");
}

TEST_CASE("io gzip: concatenated members and a missing final newline") {
  TempDir dir;
  fasttab::test::write_gzip(dir.file("a.gz"), "1,2\n3,4\n");
  fasttab::test::write_gzip(dir.file("b.gz"), "5,6\n7,8");
  const auto path = write_text(dir.file("ab.csv.gz"), fasttab::test::read_bytes(dir.file("a.gz")) +
                                                          fasttab::test::read_bytes(dir.file("b.gz")));
  const auto t = load_table(no_cache(path));
  CHECK(t.labels == std::vector<float>{1, 3, 5, 7});
  CHECK(t.features == std::vector<float>{2, 4, 6, 8});
}

TEST_CASE("io npy: float32 and float64 arrays with column selection") {
  TempDir dir;
  const std::vector<float> f32{1, 10, 20, 30, 0, 11, 21, 31};
  const std::vector<double> f64{1, 10.5, 20, 30, 0, 11, 21, 31.25};
  fasttab::LoadReport report;
  auto options = no_cache(write_npy_of(dir.file("a.npy"), "<f4", 2, 4, f32));
  options.features = "3,1";
  auto t = load_table(options, &report);
  CHECK(report.format == "npy");
  CHECK(t.labels == std::vector<float>{1, 0});
  CHECK(t.features == std::vector<float>{30, 10, 31, 11});
  options = no_cache(write_npy_of(dir.file("b.data"), "<f8", 2, 4, f64));  // any extension
  options.label_col = 3;
  t = load_table(options);
  CHECK(t.labels == std::vector<float>{30, 31.25f});
  CHECK(t.features == std::vector<float>{1, 10.5f, 20, 0, 11, 21});
}

TEST_CASE("io npy: write_npy then load_table gives the table back") {
  TempDir dir;
  auto options = no_cache(write_text(dir.file("src.csv"), sample_csv(1000)));
  options.features = "3,1";
  const auto table = load_table(options);
  fasttab::write_npy(dir.file("out.npy"), table);
  const std::string bytes = fasttab::test::read_bytes(dir.file("out.npy"));
  CHECK(bytes.find("{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 3), }") == 10);
  CHECK((bytes.size() - 1000 * 3 * 4) % 64 == 0);  // the header is padded so the data is 64-byte aligned
  const auto back = load_table(no_cache(dir.file("out.npy")));
  CHECK(back.rows == table.rows);
  CHECK(back.labels == table.labels);
  CHECK(back.features == table.features);
}

TEST_CASE("io nan policy: drop and zero on csv and npy") {
  TempDir dir;
  const auto path = write_text(dir.file("n.csv"), "1,2,3\n0,nan,3\n1,,4\n0,inf,5\n1,6,7\n");
  auto options = no_cache(path);
  options.nan_policy = fasttab::NanPolicy::drop;
  fasttab::LoadReport report;
  auto t = load_table(options, &report);
  CHECK(report.dropped_rows == 3);
  CHECK(t.labels == std::vector<float>{1, 1});
  CHECK(t.features == std::vector<float>{2, 3, 6, 7});
  options.nan_policy = fasttab::NanPolicy::zero;
  t = load_table(options, &report);
  CHECK(report.dropped_rows == 0);
  CHECK(t.features == std::vector<float>{2, 3, 0, 3, 0, 4, 0, 5, 6, 7});
  // A NaN in an unselected column is not looked at.
  options.nan_policy = fasttab::NanPolicy::reject;
  options.features = "2";
  CHECK(load_table(options).rows == 5);

  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto npy = no_cache(write_npy_of(dir.file("n.npy"), "<f4", 3, 2, std::vector<float>{1, 2, 0, nan, 1, 3}));
  CHECK(fasttab::test::error_of([&] { load_table(npy); }).find("row 1, column 1: NaN") != std::string::npos);
  npy.nan_policy = fasttab::NanPolicy::drop;
  CHECK(load_table(npy).features == std::vector<float>{2, 3});
}
