// bench_io: how fast load_table reads a HIGGS-sized table, printed with the machine's core count and the date.
//
// By default it writes an 11M-row HIGGS-shaped file (29 columns, the 0/1 label first, every value printed as
// HIGGS.csv prints it, "%.18e" of a float32, so about 7.5 GB of text) and its .csv.gz, reusing them when they
// are already in --dir, then times: the .csv, the .csv.gz, the first load that writes the cache, and the reload
// from the cache; all with label 0 and features 1-21 (the seed's choice). --file times a file of your own.
// --pandas times pandas.read_csv on the same file beside it. Note: the files are usually in the page cache
// right after they are generated, so these are parse figures, not disk figures.
//
// --shape diamonds does the same on a 10M-row file shaped like ../shared/data/diamonds.csv (R's quoted header
// with an empty first name, a quoted row number, three quoted text columns: the categorical path), with label
// price and --drop 0; then it times the same file once more with the numeric columns only, so that the cost of
// the text columns is the difference between the two.
#include <isa-l.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "fasttab/error.hpp"
#include "fasttab/io.hpp"
#include "tools/io_flags.hpp"

namespace fs = std::filesystem;

namespace {

constexpr int kColumns = 29;  // label + 28 features, as HIGGS

// The discrete values HIGGS's b-tag columns take.
constexpr double kBtag[] = {0.0, 1.0865380764007568, 2.1730761528015137, 2.214872121810913};

// Appends data row `row` (0-based) of a generated file to `out`, drawing from `rng`.
using RowWriter = void (*)(std::string& out, std::mt19937_64& rng, std::int64_t row);

// One HIGGS-like row: label, then 28 float32 values in HIGGS's print format.
void append_higgs_row(std::string& out, std::mt19937_64& rng, std::int64_t /*row*/) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> angle(-1.74f, 1.74f);
  char buffer[64];
  auto put = [&](double v, bool last) {
    const auto r = std::to_chars(buffer, buffer + sizeof buffer, v, std::chars_format::scientific, 18);
    out.append(buffer, r.ptr);
    out += last ? '\n' : ',';
  };
  put((rng() & 1) ? 1.0 : 0.0, false);
  for (int c = 1; c < kColumns; ++c) {
    double v;
    if (c == 9 || c == 13 || c == 17 || c == 21) v = kBtag[rng() % 4];
    else if (c % 3 == 2) v = angle(rng);
    else v = std::abs(1.0f + 0.5f * normal(rng));
    put(static_cast<double>(static_cast<float>(v)), c == kColumns - 1);
  }
}

// The diamonds.csv levels and how often each occurs there (53,940 rows), so that the generated file has the
// same mix of short and long texts.
struct Levels {
  std::vector<const char*> names;
  std::vector<int> counts;
};
const Levels kCut{{"Fair", "Good", "Very Good", "Premium", "Ideal"}, {1610, 4906, 12082, 13791, 21551}};
const Levels kColor{{"D", "E", "F", "G", "H", "I", "J"}, {6775, 9797, 9542, 11292, 8304, 5422, 2808}};
const Levels kClarity{{"I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"},
                      {741, 9194, 13065, 12258, 8171, 5066, 3655, 1790}};

// A level drawn with the diamonds.csv frequencies.
const char* draw_level(const Levels& levels, std::mt19937_64& rng) {
  int total = 0;
  for (int c : levels.counts) total += c;
  int pick = static_cast<int>(rng() % static_cast<std::uint64_t>(total));
  std::size_t i = 0;
  while (pick >= levels.counts[i]) pick -= levels.counts[i++];
  return levels.names[i];
}

// `v` rounded to `decimals` and printed as R's write.csv prints it: shortest form, no trailing zeros ("55", "0.23").
void put_number(std::string& out, double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  char buffer[32];
  const auto r = std::to_chars(buffer, buffer + sizeof buffer, std::round(v * scale) / scale);
  out.append(buffer, r.ptr);
}

// One diamonds-like row: "row",carat,"cut","color","clarity",depth,table,price,x,y,z, the numbers in the ranges
// of diamonds.csv (price grows with carat; x, y, z with its cube root).
void append_diamonds_row(std::string& out, std::mt19937_64& rng, std::int64_t row) {
  std::normal_distribution<double> normal(0.0, 1.0);
  const double carat = std::clamp(0.7 * std::exp(0.45 * normal(rng)), 0.2, 5.01);
  const double x = 6.45 * std::cbrt(carat) * (1.0 + 0.02 * normal(rng));
  const double depth = 61.75 + 1.43 * normal(rng);
  out += '"' + std::to_string(row + 1) + "\",";
  put_number(out, carat, 2);
  out += ",\"";
  out += draw_level(kCut, rng);
  out += "\",\"";
  out += draw_level(kColor, rng);
  out += "\",\"";
  out += draw_level(kClarity, rng);
  out += "\",";
  put_number(out, depth, 1);
  out += ',';
  put_number(out, 57.46 + 2.23 * normal(rng), 0);
  out += ',';
  put_number(out, std::clamp(4000.0 * std::pow(carat, 1.8) * std::exp(0.25 * normal(rng)), 326.0, 18823.0), 0);
  out += ',';
  put_number(out, x, 2);
  out += ',';
  put_number(out, x * (1.0 + 0.01 * normal(rng)), 2);
  out += ',';
  put_number(out, x * depth / 100.0, 2);
  out += '\n';
}

constexpr const char* kDiamondsHeader =
    "\"\",\"carat\",\"cut\",\"color\",\"clarity\",\"depth\",\"table\",\"price\",\"x\",\"y\",\"z\"\n";
constexpr const char* kDiamondsNumeric = "carat,depth,table,x,y,z";  // the features without the text columns

// A generated file's shape: its name, header line (empty: none) and row writer.
struct Shape {
  std::string name;
  std::string header;
  RowWriter append_row;
};

// Writes `header` and `rows` rows to csv_path and the same text gzipped (ISA-L, level 1) to gz_path.
void generate(const std::string& csv_path, const std::string& gz_path, std::int64_t rows, int threads,
              const Shape& shape) {
  std::cout << "generating " << rows << " " << shape.name << "-shaped rows into " << csv_path << " and " << gz_path
            << " ..." << std::endl;
  std::ofstream csv(csv_path, std::ios::binary);
  std::ofstream gz(gz_path, std::ios::binary);
  if (!csv || !gz) FASTTAB_FAIL("cannot write ", csv_path, " or ", gz_path);
  isal_zstream stream;
  isal_deflate_init(&stream);
  std::vector<std::uint8_t> level_buffer(ISAL_DEF_LVL1_DEFAULT);
  stream.level = 1;
  stream.level_buf = level_buffer.data();
  stream.level_buf_size = static_cast<std::uint32_t>(level_buffer.size());
  stream.gzip_flag = IGZIP_GZIP;
  std::vector<std::uint8_t> compressed(std::size_t{64} << 20);

  const std::int64_t block_rows = 200000;
  std::vector<std::string> parts(static_cast<std::size_t>(threads));
  for (std::int64_t r0 = 0; r0 < rows; r0 += block_rows) {
    const std::int64_t n = std::min(block_rows, rows - r0);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        std::mt19937_64 rng(static_cast<std::uint64_t>(r0 * 131 + t));
        std::string& part = parts[static_cast<std::size_t>(t)];
        part.clear();
        if (r0 == 0 && t == 0) part = shape.header;
        for (std::int64_t r = n * t / threads; r < n * (t + 1) / threads; ++r) shape.append_row(part, rng, r0 + r);
      });
    }
    for (auto& th : pool) th.join();
    const bool last_block = r0 + n >= rows;
    for (int t = 0; t < threads; ++t) {
      std::string& part = parts[static_cast<std::size_t>(t)];
      csv.write(part.data(), static_cast<std::streamsize>(part.size()));
      stream.next_in = reinterpret_cast<std::uint8_t*>(part.data());
      stream.avail_in = static_cast<std::uint32_t>(part.size());
      stream.end_of_stream = last_block && t == threads - 1;
      stream.flush = NO_FLUSH;
      do {
        stream.next_out = compressed.data();
        stream.avail_out = static_cast<std::uint32_t>(compressed.size());
        if (isal_deflate(&stream) != COMP_OK) FASTTAB_FAIL("igzip deflate failed while writing ", gz_path);
        gz.write(reinterpret_cast<const char*>(compressed.data()),
                 static_cast<std::streamsize>(compressed.size() - stream.avail_out));
      } while (stream.avail_in > 0 || (stream.end_of_stream && stream.internal_state.state != ZSTATE_END));
    }
  }
  if (!csv.flush() || !gz.flush()) FASTTAB_FAIL("write failed for ", csv_path, " or ", gz_path, " (disk full?)");
}

// CPU seconds (user + system) this process has used: with other work on the machine, wall time overstates
// what a load costs, and CPU seconds / cores is what it would take on idle cores.
double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// `bytes` are of text for the generated files, of the file itself (compressed for .gz) for --file.
void print_line(const std::string& what, const fasttab::Table& table, const fasttab::LoadReport& report,
                std::int64_t bytes, double cpu, const char* bytes_of = "text") {
  const std::string text_columns =
      table.categorical.empty() ? "" : ", " + std::to_string(table.categorical.size()) + " of them text";
  std::printf("%-30s %8.2f s  %12.0f rows/s  %8.1f MB/s of %s  %7.2f CPU s  (%lld rows x %d features%s)\n",
              what.c_str(), report.seconds, static_cast<double>(table.rows) / report.seconds,
              static_cast<double>(bytes) / 1e6 / report.seconds, bytes_of, cpu, static_cast<long long>(table.rows),
              table.cols, text_columns.c_str());
  std::fflush(stdout);
}

fasttab::Table timed_load(fasttab::LoadOptions options, const std::string& path, bool use_cache,
                          fasttab::LoadReport& report, double* cpu) {
  options.path = path;
  options.use_cache = use_cache;
  const double before = cpu_seconds();
  fasttab::Table table = fasttab::load_table(options, &report);
  *cpu = cpu_seconds() - before;
  return table;
}

void time_pandas(const std::string& path, bool header) {
  if (std::system("python3 -c 'import pandas' > /dev/null 2>&1") != 0) {
    std::cout << "pandas.read_csv: skipped (python3 with pandas is not importable here)\n";
    return;
  }
  const std::string command =
      "python3 -c \"import time, pandas as pd; t = time.time(); df = pd.read_csv('" + path + "', header=" +
      (header ? "0" : "None") + "); print('%-30s %8.2f s  (%d rows x %d columns)' % ('pandas.read_csv ' + '" +
      fs::path(path).filename().string() + "', time.time() - t, df.shape[0], df.shape[1]))\"";
  std::fflush(stdout);
  if (std::system(command.c_str()) != 0) std::cout << "pandas.read_csv: failed on " << path << "\n";
}

// "bench_io: N hardware threads (CPU model), date": the line every run starts with.
void print_machine_line(unsigned cores) {
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::string cpu_model = "unknown CPU";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu_model = line.substr(line.find(':') + 2);
      break;
    }
  }
  std::cout << "bench_io: " << cores << " hardware threads (" << cpu_model << "), " << date << "\n";
}

// --file: the load without the cache, then the reload from a cache written for it (and removed after).
void time_own_file(fasttab::LoadOptions options, const std::string& file, bool pandas) {
  fasttab::LoadReport report;
  double cpu = 0;
  const auto bytes = static_cast<std::int64_t>(fs::file_size(file));
  if (options.cache_dir.empty()) options.cache_dir = fs::temp_directory_path().string();
  auto table = timed_load(options, file, false, report, &cpu);
  print_line("load " + fs::path(file).filename().string() + " (" + report.format + ")", table, report, bytes, cpu,
             "file");
  table = timed_load(options, file, true, report, &cpu);
  table = timed_load(options, file, true, report, &cpu);
  print_line("reload from the cache", table, report, bytes, cpu, "file");
  fs::remove(report.cache_path);
  if (pandas) time_pandas(file, !table.feature_names.empty());
}

// The .csv and .csv.gz of `rows` rows of `shape` in `dir` (dir/higgs_ROWS.csv, dir/diamonds_ROWS.csv), written
// unless both are there; returns their stem.
std::string ensure_generated_files(const std::string& dir, std::int64_t rows, unsigned cores, const Shape& shape) {
  fs::create_directories(dir);
  const std::string stem = dir + "/" + shape.name + "_" + std::to_string(rows);
  if (!fs::exists(stem + ".csv") || !fs::exists(stem + ".csv.gz")) {
    generate(stem + ".csv", stem + ".csv.gz", rows, static_cast<int>(cores), shape);
  } else {
    std::cout << "reusing " << stem + ".csv" << " and " << stem + ".csv.gz" << "\n";
  }
  return stem;
}

// The generated files: .csv, .csv.gz, the first load that writes the cache, the reload from it.
void time_generated_files(fasttab::LoadOptions options, const std::string& dir, const std::string& stem,
                          bool pandas, bool header) {
  const std::string csv_path = stem + ".csv";
  const std::string gz_path = stem + ".csv.gz";
  const auto text_bytes = static_cast<std::int64_t>(fs::file_size(csv_path));
  std::printf("files: %.2f GB of text, %.2f GB gzipped\n", static_cast<double>(text_bytes) / 1e9,
              static_cast<double>(fs::file_size(gz_path)) / 1e9);
  options.cache_dir = dir + "/cache";  // emptied first, so that the first cached load writes it
  fs::remove_all(options.cache_dir);
  fs::create_directories(options.cache_dir);

  fasttab::LoadReport report;
  double cpu = 0;
  auto table = timed_load(options, csv_path, false, report, &cpu);
  print_line("parse .csv", table, report, text_bytes, cpu);
  table = timed_load(options, gz_path, false, report, &cpu);
  print_line("parse .csv.gz", table, report, text_bytes, cpu);
  table = fasttab::Table{};
  table = timed_load(options, csv_path, true, report, &cpu);
  print_line("parse .csv + write the cache", table, report, text_bytes, cpu);
  table = fasttab::Table{};
  table = timed_load(options, csv_path, true, report, &cpu);
  print_line("reload from the cache", table, report, text_bytes, cpu);
  std::printf("cache: %s (%.2f GB)\n", report.cache_path.c_str(),
              static_cast<double>(fs::file_size(report.cache_path)) / 1e9);
  if (pandas) {
    time_pandas(csv_path, header);
    time_pandas(gz_path, header);
  }
}

// The same files again with `features` only (here: the numeric columns, without the text ones), not cached:
// the same bytes are read, so the difference from the full loads above is what the text columns cost.
void time_feature_subset(fasttab::LoadOptions options, const std::string& stem, const std::string& features) {
  const std::string csv_path = stem + ".csv";
  const auto text_bytes = static_cast<std::int64_t>(fs::file_size(csv_path));
  options.features = features;
  options.drop.clear();  // an explicit list leaves the row number out already
  std::printf("the same file, --features %s (no text column):\n", features.c_str());
  fasttab::LoadReport report;
  double cpu = 0;
  auto table = timed_load(options, csv_path, false, report, &cpu);
  print_line("parse .csv (numeric only)", table, report, text_bytes, cpu);
  table = timed_load(options, stem + ".csv.gz", false, report, &cpu);
  print_line("parse .csv.gz (numeric only)", table, report, text_bytes, cpu);
}

// The generated file of --shape and how the seed's bench reads it: HIGGS with label 0 and features 1-21 and no
// header; diamonds with label price (by name), every other column but the row number (--drop 0). The header is
// detected in both, as train does by default.
Shape shape_and_columns(const std::string& name, fasttab::LoadOptions& options) {
  options.header = fasttab::HeaderMode::detect;
  options.delimiter = 0;
  if (name == "diamonds") {
    options.label_name = "price";
    options.features = "all";
    options.drop = "0";
    return Shape{"diamonds", kDiamondsHeader, append_diamonds_row};
  }
  options.label_col = 0;  // the seed's columns
  options.label_name.clear();
  options.features = "1-21";
  return Shape{"higgs", "", append_higgs_row};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Times fasttab::load_table on generated .csv, .csv.gz and the table cache (HIGGS- or diamonds-shaped)"};
  std::string dir;
  std::string file;
  std::string shape_name = "higgs";
  std::int64_t rows = 0;  // 0: the shape's default
  bool pandas = false;
  fasttab::LoadOptions options;  // --label-col, --features, ... apply to --file; the generated files set their own
  app.add_option("--dir", dir, "where the generated files go (default: a directory under the temp dir)");
  app.add_option("--shape", shape_name,
                 "the generated file: higgs (29 numeric columns, label 0, features 1-21) or diamonds (diamonds.csv's "
                 "columns, 3 of them text; label price, --drop 0, then again with the numeric columns only)")
      ->check(CLI::IsMember({"higgs", "diamonds"}))
      ->capture_default_str();
  app.add_option("--rows", rows, "rows to generate (default: 11000000 for higgs, as HIGGS; 10000000 for diamonds)")
      ->check(CLI::PositiveNumber);
  app.add_option("--file", file, "time this file instead, with --label-col and --features (default: 0 and all)");
  app.add_flag("--pandas", pandas, "also time pandas.read_csv on the same files");
  fasttab::add_io_flags(app, options);
  CLI11_PARSE(app, argc, argv);

  try {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    print_machine_line(cores);
    if (!file.empty()) {
      time_own_file(options, file, pandas);
      return 0;
    }
    const Shape shape = shape_and_columns(shape_name, options);
    if (rows == 0) rows = shape.name == "diamonds" ? 10000000 : 11000000;
    if (dir.empty()) dir = (fs::temp_directory_path() / "fasttab_bench_io").string();
    const std::string stem = ensure_generated_files(dir, rows, cores, shape);
    time_generated_files(options, dir, stem, pandas, !shape.header.empty());
    if (shape.name == "diamonds") time_feature_subset(options, stem, kDiamondsNumeric);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
