// Hostile inputs (issue 8): sizes that overflow, FIFOs, gzip bombs and damaged gzip trailers, headers made of
// missing-value tokens, float32 overflow, CR line ends, binary files. Each must get a clear fasttab::Error (or
// load correctly) in bounded time and memory: never a crash, a hang or a silently wrong table.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <zlib.h>

#include <chrono>
#include <cstring>
#include <limits>

#include "host/checkpoint/checkpoint_file.hpp"
#include "fasttab/io.hpp"
#include "host/io/csv_loader.hpp"
#include "host/io/npy_format.hpp"
#include "host/io/table_cache.hpp"
#include "cpu/io/io_test_files.hpp"

using fasttab::load_table;
using fasttab::LoadOptions;
using fasttab::test::error_of;
using fasttab::test::read_bytes;
using fasttab::test::TempDir;
using fasttab::test::write_gzip;
using fasttab::test::write_text;

namespace {
LoadOptions opts(const std::string& path) {
  LoadOptions options;
  options.path = path;
  options.use_cache = false;
  return options;
}
// Every column numeric (--numeric all): text is an error here, not a categorical column.
std::string load_error(const std::string& path, LoadOptions options = {}) {
  options.path = path;
  options.use_cache = false;
  if (options.numeric.empty() && options.categorical.empty()) options.numeric = "all";
  return error_of([&] { load_table(options); });
}
bool has(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return true;
  MESSAGE("'", text, "' lacks '", part, "'");
  return false;
}

// A .npy with the shape text as given (so that it can lie) and `payload` bytes after the header.
std::string npy_with_shape(const std::string& path, const std::string& descr, const std::string& shape,
                           const std::string& payload) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
  dict += '\n';
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(dict.size());
  bytes += static_cast<char>(dict.size() >> 8);
  return write_text(path, bytes + dict + payload);
}

// One gzip member of `text` made with zlib (level 1: fast on long runs of zeros).
std::string gzip_bytes(const std::string& text, int level = 6) {
  z_stream z{};
  deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, text.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}
}  // namespace

TEST_CASE("io hostile: .npy shapes whose byte count overflows are refused, not read past the file") {
  TempDir dir;
  const std::string payload(64, '\0');
  CHECK(has(load_error(npy_with_shape(dir.file("wrap.npy"), "<f4", "(4294967296, 1073741824)", payload)),
            "is far larger than any file"));
  CHECK(has(load_error(npy_with_shape(dir.file("big.npy"), "<f4", "(4611686018427387904, 4)", payload)),
            "is far larger than any file"));
  CHECK(has(load_error(npy_with_shape(dir.file("digits.npy"), "<f8", "(99999999999999999999999999, 2)", payload)),
            "shape dimension too large"));
  // A sound shape that the file is too short for is still "truncated".
  CHECK(has(load_error(npy_with_shape(dir.file("short.npy"), "<f4", "(100, 4)", payload)), "truncated .npy file"));
}

TEST_CASE("io hostile: a table cache whose rows x cols wraps around is ignored") {
  TempDir dir;
  fasttab::Table table;
  table.rows = 2;
  table.cols = 3;
  table.labels = {0, 1};
  table.features = {1, 2, 3, 4, 5, 6};
  const fasttab::CacheKey key{dir.file("src.csv"), 10, 20, "sel"};
  const std::string path = dir.file("c.ftcache");
  std::string why;
  REQUIRE(fasttab::write_table_cache(path, key, table, &why));
  REQUIRE(fasttab::read_table_cache(path, key).has_value());
  std::string bytes = read_bytes(path);
  // rows sits after magic(8) version(4) header_bytes(4) size(8) mtime(8). 2^62 + 2 rows of 4 floats:
  // (2^62 + 2) * 16 wraps to 32, the size of the real body.
  const std::int64_t rows = (std::int64_t{1} << 62) + 2;
  std::memcpy(&bytes[32], &rows, 8);
  write_text(path, bytes);
  CHECK_FALSE(fasttab::read_table_cache(path, key).has_value());
}

TEST_CASE("io hostile: a checkpoint of many sections is read in linear time") {
  TempDir dir;
  fasttab::CheckpointFile file;
  const int n = 200000;
  for (int i = 0; i < n; ++i) file.sections.push_back({std::to_string(i), {}});
  file.sections.push_back({"7", {}});
  const std::string path = dir.file("many.ckpt");
  fasttab::write_checkpoint_file(path, file);
  const auto start = std::chrono::steady_clock::now();
  CHECK(has(error_of([&] { fasttab::read_checkpoint_file(path); }), "section \"7\" appears twice"));
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 10.0);
}

TEST_CASE("io hostile: --features ranges past the last column or int are refused before expanding") {
  TempDir dir;
  const auto path = write_text(dir.file("a.csv"), "1,2,3\n4,5,6\n");
  LoadOptions options;
  options.features = "1-2147483647";
  CHECK(load_error(path, options) == path + ": --features '1-2147483647': column 3 is out of range: the file has "
                                            "3 columns (0-2)");
  options.features = "1-99999999999";
  CHECK(has(load_error(path, options), "'99999999999' is far out of range"));
  options.features = "1-30";
  CHECK(has(load_error(path, options), "column 3 is out of range"));
}

TEST_CASE("io hostile: a FIFO is refused at once, not opened") {
  TempDir dir;
  const std::string path = dir.file("fifo.csv");
  REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
  const auto start = std::chrono::steady_clock::now();
  CHECK(has(load_error(path), "not a regular file"));
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 5.0);
}

TEST_CASE("io hostile: a gzip bomb of one endless line is refused at 64 MiB") {
  TempDir dir;
  const std::string zeros(std::size_t{70} << 20, '\0');
  const auto path = write_text(dir.file("bomb.csv.gz"), gzip_bytes(zeros, 1));
  CHECK(load_error(path) == path + " line 1: a line longer than 64 MiB (67108864 bytes); this is not a CSV table "
                                   "(binary data, a damaged file, or a file with no line ends), and the loader "
                                   "does not take lines that long");
  // Same bound on plain text, and the line number counts the lines before it.
  std::string text = "1,2\n3,4\n";
  text.append(std::size_t{65} << 20, '5');
  text += ",6\n";
  const auto plain = write_text(dir.file("long.csv"), text);
  CHECK(has(load_error(plain), " line 3: a line longer than 64 MiB"));
}

TEST_CASE("io hostile: the line bound is a parameter of both text sources") {
  LoadOptions options;
  options.threads = 2;
  std::string text;
  for (int i = 0; i < 50; ++i) text += std::to_string(i) + ",1\n";
  const std::string good = text;
  text += std::string(300, '7') + ",1\n1,2\n";
  std::int64_t dropped = 0;
  for (std::size_t chunk : {16, 64, 199}) {  // chunks smaller than the bound, as in load_table
    fasttab::MemoryTextSource memory(text, chunk, 200);
    CHECK(has(error_of([&] { fasttab::load_csv("m.csv", memory, options, &dropped); }),
              "m.csv line 51: a line longer than 200 bytes"));
    fasttab::MemoryTextSource fine(good, chunk, 200);
    CHECK(fasttab::load_csv("m.csv", fine, options, &dropped).rows == 50);
  }
  const std::string gz = gzip_bytes(text);
  fasttab::GzipTextSource source("g.csv.gz", gz.data(), gz.size(), 16, 200);
  CHECK(has(error_of([&] { fasttab::load_csv("g.csv.gz", source, options, &dropped); }),
            "g.csv.gz line 51: a line longer than 200 bytes"));
}

TEST_CASE("io hostile: missing-value tokens in the first line are data, not a header") {
  TempDir dir;
  for (const std::string token : {"NA", "null", "?", "N/A"}) {
    LoadOptions options = opts(write_text(dir.file("na.csv"), "1," + token + ",2\n0,3,4\n1,5,6\n"));
    options.features = "2";  // the parser does not read 'NA' as missing: only its row must not be lost
    fasttab::LoadReport report;
    const auto t = load_table(options, &report);
    CHECK(t.rows == 3);
    REQUIRE(report.warnings.size() == 1);
    CHECK(has(report.warnings[0], "header: the first line was taken as data because its only non-numbers are "
                                  "missing-value tokens"));
  }
  // An empty field is a missing value too, but alone it raises no doubt.
  LoadOptions gap = opts(write_text(dir.file("gap.csv"), "1,,2\n0,3,4\n"));
  gap.nan_policy = fasttab::NanPolicy::zero;
  fasttab::LoadReport gap_report;
  CHECK(load_table(gap, &gap_report).rows == 2);
  CHECK(gap_report.warnings.empty());
  // When the doubtful first line then fails to parse, the error says what header detection did.
  const auto na = write_text(dir.file("na_all.csv"), "1,NA,2\n0,3,4\n");
  CHECK(load_error(na) == na + " line 1, column 1: 'NA' (a missing value) (use --nan-policy=drop or zero) (header "
                               "detection took this first line as data; if it is a header, give --header)");
  // NaN parses as a number: no doubt, no warning.
  LoadOptions options = opts(write_text(dir.file("nan.csv"), "1,NaN,2\n0,3,4\n"));
  options.nan_policy = fasttab::NanPolicy::zero;
  fasttab::LoadReport report;
  CHECK(load_table(options, &report).rows == 2);
  CHECK(report.warnings.empty());
  // A real header above missing values is still a header.
  options = opts(write_text(dir.file("h.csv"), "y,a,b\n1,,2\n0,3,4\n"));
  options.nan_policy = fasttab::NanPolicy::zero;
  const auto h = load_table(options, &report);
  CHECK(h.rows == 2);
  CHECK(h.feature_names == std::vector<std::string>{"a", "b"});
  CHECK(report.warnings.empty());
  // Text in the same field of both first lines: taken as data, with a warning naming the field.
  options = opts(write_text(dir.file("cat.csv"), "g,1,2\nh,3,4\n"));
  options.label_col = 1;
  options.features = "2";
  CHECK(load_table(options, &report).rows == 2);
  REQUIRE(report.warnings.size() == 1);
  CHECK(has(report.warnings[0], "field 0 ('g', then 'h') holds text in both of the first two lines; use --header "
                                "or --no-header to decide"));
}

TEST_CASE("io hostile: '+-1' is not a number") {
  TempDir dir;
  const auto path = write_text(dir.file("pm.csv"), "1,2\n0,+-1\n");
  CHECK(load_error(path) == path + " line 2, column 1: '+-1' is not a number");
  LoadOptions no_header;
  no_header.header = fasttab::HeaderMode::absent;
  const auto first = write_text(dir.file("pm1.csv"), "+-1,2\n0,1\n");
  CHECK(has(load_error(first, no_header), "line 1, column 0: '+-1' is not a number"));
  CHECK(load_table(opts(write_text(dir.file("p.csv"), "+1,+2.5\n"))).features == std::vector<float>{2.5f});
}

TEST_CASE("io hostile: gzip trailing data, padding and a wrong size field") {
  TempDir dir;
  const std::string gz = gzip_bytes("1,2\n3,4\n");
  const auto garbage = write_text(dir.file("garbage.csv.gz"), gz + "garbage!");
  CHECK(load_error(garbage) == garbage + ": 8 bytes of trailing data after the gzip stream at offset " +
                                   std::to_string(gz.size()) + "; the file is damaged (download or copy it again)");
  const auto padded = write_text(dir.file("padded.csv.gz"), gz + std::string(512, '\0'));
  CHECK(load_table(opts(padded)).rows == 2);

  std::string bad_size = gz;
  bad_size[bad_size.size() - 4] ^= 1;  // ISIZE, the last 4 bytes
  const auto size_path = write_text(dir.file("size.csv.gz"), bad_size);
  CHECK(load_error(size_path) == size_path + ": corrupt gzip stream: the uncompressed size in the gzip trailer (9) "
                                             "does not match the data (8 bytes, modulo 2^32); download or copy "
                                             "the file again");
  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 8] ^= 1;  // CRC-32, the 4 bytes before ISIZE
  const auto crc_path = write_text(dir.file("crc.csv.gz"), bad_crc);
  CHECK(has(load_error(crc_path), "CRC-32 mismatch"));
}

TEST_CASE("io hostile: float32 overflow is an error under every NaN policy") {
  TempDir dir;
  const auto path = write_text(dir.file("big.csv"), "1,2\n0,3.5e38\n");
  const auto huge = write_text(dir.file("huge.csv"), "1,2\n0,-1e400\n");
  for (auto policy : {fasttab::NanPolicy::reject, fasttab::NanPolicy::drop, fasttab::NanPolicy::zero}) {
    LoadOptions options;
    options.nan_policy = policy;
    CHECK(load_error(path, options) == path + " line 2, column 1: '3.5e38' overflows float32 (largest "
                                              "3.4028235e38); rescale the column (no --nan-policy applies to it)");
    CHECK(has(load_error(huge, options), "line 2, column 1: '-1e400' overflows float32"));
  }
  // The largest float32 and real infinities keep their rules.
  CHECK(load_table(opts(write_text(dir.file("max.csv"), "1,3.4028235e38\n"))).features[0] ==
        std::numeric_limits<float>::max());
  LoadOptions zero = opts(write_text(dir.file("inf.csv"), "1,inf\n0,-Infinity\n1,\n"));
  zero.nan_policy = fasttab::NanPolicy::zero;
  CHECK(load_table(zero).features == std::vector<float>{0, 0, 0});
  // float64 .npy values beyond float32.
  std::string values(4 * 8, '\0');
  const double v[4] = {1, 2, 0, 3.5e38};
  std::memcpy(values.data(), v, sizeof v);
  LoadOptions npy;
  npy.nan_policy = fasttab::NanPolicy::zero;
  const auto npy_path = npy_with_shape(dir.file("big.npy"), "<f8", "(2, 2)", values);
  CHECK(load_error(npy_path, npy) == npy_path + " row 1, column 1: 3.5e+38 overflows float32 (largest "
                                                "3.4028235e38); rescale the column (no --nan-policy applies to it)");
}

TEST_CASE("io hostile: CR-only line endings load like LF") {
  TempDir dir;
  const auto t = load_table(opts(write_text(dir.file("mac.csv"), "y,a\r1,2\r0,3\r\r1,4")));
  CHECK(t.rows == 3);
  CHECK(t.features == std::vector<float>{2, 3, 4});
  CHECK(t.feature_names == std::vector<std::string>{"a"});
  // Many chunks, both sources, line numbers in errors.
  std::string text;
  for (int i = 0; i < 300; ++i) text += std::to_string(i % 2) + "," + std::to_string(i) + "\r";
  LoadOptions options;
  options.threads = 2;
  options.numeric = "all";  // text is an error, not a categorical column
  std::int64_t dropped = 0;
  fasttab::MemoryTextSource memory(text, 16);
  const auto m = fasttab::load_csv("m.csv", memory, options, &dropped);
  CHECK(m.rows == 300);
  CHECK(m.features[299] == 299);
  const std::string gz = gzip_bytes(text + "1,x\r");
  fasttab::GzipTextSource source("g.csv.gz", gz.data(), gz.size(), 16);
  CHECK(has(error_of([&] { fasttab::load_csv("g.csv.gz", source, options, &dropped); }),
            "g.csv.gz line 301, column 1: 'x' is not a number"));
  // Mixed CRLF across chunk cuts still counts lines right.
  std::string crlf;
  for (int i = 0; i < 100; ++i) crlf += "1,2\r\n";
  crlf += "1,y\r\n";
  fasttab::MemoryTextSource crlf_source(crlf, 7);
  CHECK(has(error_of([&] { fasttab::load_csv("c.csv", crlf_source, options, &dropped); }),
            "c.csv line 101, column 1: 'y' is not a number"));
}

TEST_CASE("io hostile: one column, binary data and NUL bytes get their own messages") {
  TempDir dir;
  const auto spaces = write_text(dir.file("spaces.csv"), "1 2 3\n4 5 6\n");
  CHECK(has(load_error(spaces), spaces + " line 1: no delimiter found: the first line has no ',', tab or ';'"));
  CHECK(load_table([&] { auto o = opts(spaces); o.delimiter = ' '; return o; }()).features ==
        std::vector<float>{2, 3, 5, 6});
  const auto nul = write_text(dir.file("nul.csv"), std::string(100, '\0'));
  CHECK(load_error(nul) == nul + " line 1: binary data (NUL bytes), not CSV text; give a .csv, .csv.gz or .npy file");
  const char bad_field[] = "1,2,3\n1,\"a\0b\x01\",3\n";
  const auto quoted = write_text(dir.file("q.csv"), std::string(bad_field, sizeof bad_field - 1));
  CHECK(load_error(quoted) == quoted + " line 2, column 1: '\"a\\x00b\\x01\"' is not a number");
}
