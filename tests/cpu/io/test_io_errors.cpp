// Bad input: every case throws fasttab::Error whose message names the file and says what to fix.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>

#include "fasttab/io.hpp"
#include "cpu/io/io_test_files.hpp"

using fasttab::load_table;
using fasttab::LoadOptions;
using fasttab::test::error_of;
using fasttab::test::TempDir;
using fasttab::test::write_text;

namespace {
// Every column numeric (--numeric all): text is an error here, not a categorical column.
std::string load_error(const std::string& path, LoadOptions options = {}) {
  options.path = path;
  options.use_cache = false;
  if (options.numeric.empty() && options.categorical.empty()) options.numeric = "all";
  return error_of([&] { load_table(options); });
}
}  // namespace

TEST_CASE("io errors: missing, empty, directory and blank files") {
  TempDir dir;
  CHECK(load_error(dir.file("nope.csv")) == dir.file("nope.csv") + ": no such file (check the --data path)");
  CHECK(load_error(write_text(dir.file("empty.csv"), "")) ==
        dir.file("empty.csv") + ": the file is empty; give a .csv, .csv.gz or .npy file with data");
  CHECK(load_error(dir.path().string()).find("not a regular file") != std::string::npos);
  CHECK(load_error(write_text(dir.file("blank.csv"), "\n\r\n\n")) ==
        dir.file("blank.csv") + ": the file has no data (it is empty or holds only blank lines)");
  CHECK(load_error(write_text(dir.file("header.csv"), "a,b,c\n")) ==
        dir.file("header.csv") + ": no data rows (only a header); give a CSV file with data rows");
  CHECK(error_of([] { load_table(LoadOptions{}); }).find("use --data PATH") != std::string::npos);
}

TEST_CASE("io errors: unreadable file") {
  if (::geteuid() == 0) {
    std::puts("FASTTAB_TEST_SKIPPED: running as root, which can read files without read permission");
    return;
  }
  TempDir dir;
  const auto path = write_text(dir.file("secret.csv"), "1,2\n");
  std::filesystem::permissions(path, std::filesystem::perms::none);
  CHECK(load_error(path).find("cannot open for reading") != std::string::npos);
}

TEST_CASE("io errors: a row with a different number of fields gives the line and both counts") {
  TempDir dir;
  CHECK(load_error(write_text(dir.file("short.csv"), "1,2,3\n4,5,6\n7,8\n")) ==
        dir.file("short.csv") + " line 3: expected 3 fields, found 2");
  CHECK(load_error(write_text(dir.file("long.csv"), "h1,h2,h3\r\n1,2,3\r\n4,5,6,7,8\r\n")) ==
        dir.file("long.csv") + " line 3: expected 3 fields, found 5");
  // Blank lines still count as lines.
  CHECK(load_error(write_text(dir.file("blank.csv"), "1,2,3\n\n\n4,5")) ==
        dir.file("blank.csv") + " line 4: expected 3 fields, found 2");
}

TEST_CASE("io errors: a field that is not a number gives the line, the column and the text") {
  TempDir dir;
  CHECK(load_error(write_text(dir.file("abc.csv"), "a,b,c,d,e,f\n1,2,3,4,5,6\n1,2,3,4,5,6\n1,2,3,4,5,abc\n")) ==
        dir.file("abc.csv") + " line 4, column 5: 'abc' is not a number");
  CHECK(load_error(write_text(dir.file("half.csv"), "1,2,3\n1,2.5x,3\n")) ==
        dir.file("half.csv") + " line 2, column 1: '2.5x' is not a number");
  // An unselected column is skipped without being checked.
  LoadOptions options;
  options.features = "1";
  CHECK(load_error(write_text(dir.file("skip.csv"), "1,2,zz\n0,3,yy\n"), options).empty());
}

TEST_CASE("io errors: NaN, Inf and empty fields are rejected with line and column by default") {
  TempDir dir;
  CHECK(load_error(write_text(dir.file("nan.csv"), "1,2,3\n4,5,6\n7,8,9\n1,2,3\n1,2,3\n1,2,3\n0,NaN,3\n")) ==
        dir.file("nan.csv") + " line 7, column 1: NaN (use --nan-policy=drop or zero)");
  CHECK(load_error(write_text(dir.file("inf.csv"), "1,2,-inf\n")) ==
        dir.file("inf.csv") + " line 1, column 2: Inf (use --nan-policy=drop or zero)");
  CHECK(load_error(write_text(dir.file("gap.csv"), "1,,3\n")) ==
        dir.file("gap.csv") + " line 1, column 1: empty field (a missing value) (use --nan-policy=drop or zero)");
  // A float32 overflow is not an Inf: see test_io_hostile.cpp.
  CHECK(load_error(write_text(dir.file("overflow.csv"), "1,1e39,3\n")).find("line 1, column 1: '1e39' overflows") !=
        std::string::npos);
}

TEST_CASE("io errors: column indices out of range list the number of columns") {
  TempDir dir;
  const auto path = write_text(dir.file("cols.csv"), "1,2,3\n");
  LoadOptions options;
  options.label_col = 3;
  CHECK(load_error(path, options) == path + ": --label-col 3 is out of range: the file has 3 columns (0-2)");
  options.label_col = 0;
  options.features = "1-5";
  CHECK(load_error(path, options) == path + ": --features '1-5': column 3 is out of range: the file has 3 columns (0-2)");
  options.features = "0-2";
  CHECK(load_error(path, options).find("includes the label column 0") != std::string::npos);
  options.features = "1,1";
  CHECK(load_error(path, options) == "--features '1,1': column 1 is listed twice");
  options.features = "1-x";
  CHECK(load_error(path, options).find("'1-x' is neither a column name nor a 0-based index") != std::string::npos);
  options.features = "2-1";
  CHECK(load_error(path, options) == "--features '2-1': range '2-1' runs backwards");
}

TEST_CASE("io errors: truncated and corrupt .gz") {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 20000; ++i) text += std::to_string(i % 2) + "," + std::to_string(i) + ".25,7\n";
  const auto good = fasttab::test::write_gzip(dir.file("good.csv.gz"), text);
  const std::string bytes = fasttab::test::read_bytes(good);
  const auto truncated = write_text(dir.file("cut.csv.gz"), bytes.substr(0, bytes.size() / 2));
  CHECK(load_error(truncated) ==
        truncated + ": truncated gzip stream (the file ends before the compressed data does); download or copy it again");
  const auto no_trailer = write_text(dir.file("cut8.csv.gz"), bytes.substr(0, bytes.size() - 4));
  CHECK(load_error(no_trailer).find("truncated gzip stream") != std::string::npos);
  std::string flipped = bytes;
  flipped[flipped.size() - 6] ^= 0x55;  // inside the CRC-32 of the trailer
  const auto corrupt = write_text(dir.file("bad.csv.gz"), flipped);
  CHECK(load_error(corrupt).find("corrupt gzip stream") != std::string::npos);
}

TEST_CASE("io errors: bad .npy files") {
  TempDir dir;
  auto npy = [&](const std::string& name, const std::string& dict, std::size_t payload) {
    std::string header = dict;
    header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
    header += '\n';
    std::string bytes("\x93NUMPY\x01\x00", 8);
    bytes += static_cast<char>(header.size());
    bytes += static_cast<char>(header.size() >> 8);
    return write_text(dir.file(name), bytes + header + std::string(payload, '\0'));
  };
  CHECK(load_error(npy("i.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }", 48))
            .find("dtype '<i8' is not supported; save the array as float32 or float64") != std::string::npos);
  CHECK(load_error(npy("f.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24))
            .find("Fortran order") != std::string::npos);
  CHECK(load_error(npy("d.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", 96))
            .find("has 3 dimensions; a table needs 2") != std::string::npos);
  CHECK(load_error(npy("t.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20))
            .find("truncated .npy file") != std::string::npos);
}
