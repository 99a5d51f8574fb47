// bench_io: how fast load_table reads a HIGGS-sized table, printed with the machine's core count and the date.
//
// By default it writes an 11M-row HIGGS-shaped file (29 columns, the 0/1 label first, every value printed as
// HIGGS.csv prints it, "%.18e" of a float32, so about 7.5 GB of text) and its .csv.gz, reusing them when they
// are already in --dir, then times: the .csv, the .csv.gz, the first load that writes the cache, and the reload
// from the cache; all with label 0 and features 1-21 (the seed's choice). --file times a file of your own.
// --pandas times pandas.read_csv on the same file beside it. Note: the files are usually in the page cache
// right after they are generated, so these are parse figures, not disk figures.
#include <isa-l.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
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

// One HIGGS-like row: label, then 28 float32 values in HIGGS's print format.
void append_row(std::string& out, std::mt19937_64& rng) {
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

// Writes `rows` rows to csv_path and the same text gzipped (ISA-L, level 1) to gz_path.
void generate(const std::string& csv_path, const std::string& gz_path, std::int64_t rows, int threads) {
  std::cout << "generating " << rows << " HIGGS-shaped rows into " << csv_path << " and " << gz_path << " ..."
            << std::endl;
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
        for (std::int64_t r = n * t / threads; r < n * (t + 1) / threads; ++r) append_row(part, rng);
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
  std::printf("%-30s %8.2f s  %12.0f rows/s  %8.1f MB/s of %s  %7.2f CPU s  (%lld rows x %d features)\n",
              what.c_str(), report.seconds, static_cast<double>(table.rows) / report.seconds,
              static_cast<double>(bytes) / 1e6 / report.seconds, bytes_of, cpu, static_cast<long long>(table.rows),
              table.cols);
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

// The HIGGS-shaped .csv and .csv.gz of `rows` rows in `dir`, written unless both are there; returns their stem.
std::string ensure_generated_files(const std::string& dir, std::int64_t rows, unsigned cores) {
  fs::create_directories(dir);
  const std::string stem = dir + "/higgs_" + std::to_string(rows);
  if (!fs::exists(stem + ".csv") || !fs::exists(stem + ".csv.gz")) {
    generate(stem + ".csv", stem + ".csv.gz", rows, static_cast<int>(cores));
  } else {
    std::cout << "reusing " << stem + ".csv" << " and " << stem + ".csv.gz" << "\n";
  }
  return stem;
}

// The generated files: .csv, .csv.gz, the first load that writes the cache, the reload from it.
void time_generated_files(fasttab::LoadOptions options, const std::string& dir, const std::string& stem,
                          bool pandas) {
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
    time_pandas(csv_path, false);
    time_pandas(gz_path, false);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Times fasttab::load_table on HIGGS-shaped .csv, .csv.gz and the table cache"};
  std::string dir;
  std::string file;
  std::int64_t rows = 11000000;
  bool pandas = false;
  fasttab::LoadOptions options;  // --label-col, --features, ... apply to --file; the generated files use 0 and 1-21
  app.add_option("--dir", dir, "where the generated files go (default: a directory under the temp dir)");
  app.add_option("--rows", rows, "rows to generate")->check(CLI::PositiveNumber)->capture_default_str();
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
    options.label_col = 0;  // the seed's columns
    options.features = "1-21";
    options.header = fasttab::HeaderMode::detect;
    options.delimiter = 0;
    if (dir.empty()) dir = (fs::temp_directory_path() / "fasttab_bench_io").string();
    const std::string stem = ensure_generated_files(dir, rows, cores);
    time_generated_files(options, dir, stem, pandas);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
