// load_table: recognises the format by its first bytes, serves the table from the cache when one matches,
// else parses the source and writes the cache for the next load.
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "fasttab/error.hpp"
#include "fasttab/io.hpp"
#include "fasttab/names.hpp"
#include "host/io/csv_loader.hpp"
#include "host/io/mapped_file.hpp"
#include "host/io/npy_format.hpp"
#include "host/io/table_cache.hpp"

namespace fasttab {
namespace {

// Chunk sizes: large enough that per-chunk overhead vanishes, small enough for a few per thread in flight.
constexpr std::size_t kTextChunkBytes = std::size_t{4} << 20;
constexpr std::size_t kGzipChunkBytes = std::size_t{8} << 20;

std::string sniff_format(const MappedFile& file) {
  const char* d = file.data();
  if (file.size() >= 2 && static_cast<unsigned char>(d[0]) == 0x1f && static_cast<unsigned char>(d[1]) == 0x8b) {
    return "csv.gz";
  }
  if (file.size() >= 6 && std::memcmp(d, "\x93NUMPY", 6) == 0) return "npy";
  if (file.size() >= 8 && std::memcmp(d, "FTCACHE", 8) == 0) {
    FASTTAB_FAIL(file.path(), ": this is a fasttab table cache; give --data the .csv or .csv.gz it was made from");
  }
  return "csv";
}

// Everything in the options that changes the parsed table (threads and cache location do not).
std::string selection_key(const LoadOptions& o) {
  const char* header = o.header == HeaderMode::detect ? "detect" : o.header == HeaderMode::present ? "yes" : "no";
  const char* nan = name_of(o.nan_policy);
  return detail::concat("label=", o.label_col, ";label_name=", o.label_name, ";features=", o.features,
                        ";drop=", o.drop, ";categorical=", o.categorical, ";numeric=", o.numeric,
                        ";max_categories=", o.max_categories, ";header=", header,
                        ";delimiter=", static_cast<int>(o.delimiter), ";nan=", nan);
}

// Makes --cache-dir when only its last component is missing (as for --save and --log-dir); false, with a
// warning naming the missing parent (a mistyped path), when no cache can be written there. The load goes on.
bool prepare_cache_dir(const std::string& cache_dir) {
  if (cache_dir.empty()) return true;
  const std::filesystem::path parent = [&] {
    std::filesystem::path dir = std::filesystem::absolute(cache_dir).lexically_normal();
    if (!dir.has_filename()) dir = dir.parent_path();  // a trailing '/'
    return dir.parent_path();
  }();
  if (!std::filesystem::is_directory(cache_dir) && !std::filesystem::exists(parent)) {
    std::cerr << "warning: --cache-dir " << cache_dir << ": the directory " << parent.string()
              << " does not exist, so no table cache is written; create it first (only the last component "
                 "of --cache-dir is created)\n";
    return false;
  }
  std::error_code ignored;  // a directory that cannot be made shows up as the write's error below
  std::filesystem::create_directory(cache_dir, ignored);
  return true;
}

// Writes the parsed table's cache for the next load; a failure is a warning only.
void write_cache_or_warn(const std::string& name, const std::string& cache_path, const CacheKey& key,
                         const Table& table, const LoadOptions& options, LoadReport& out) {
  if (!prepare_cache_dir(options.cache_dir)) return;
  std::string why;
  if (write_table_cache(cache_path, key, table, &why)) {
    out.cache_path = cache_path;
  } else {
    std::cerr << "warning: " << name << ": could not write the table cache (" << why
              << "); loading works without it, or set --cache-dir to a writable directory\n";
  }
}

// Parses the file; when a column that looked numeric holds text further down, again from the start with that column
// categorical (once per such column).
Table parse_csv_file(const std::string& name, const MappedFile& file, const LoadOptions& options,
                     LoadReport& out) {
  std::vector<int> text_columns;
  for (;;) {
    out.dropped_rows = 0;
    out.warnings.clear();
    try {
      if (out.format == "csv.gz") {
        GzipTextSource source(name, file.data(), static_cast<std::size_t>(file.size()), kGzipChunkBytes);
        return load_csv(name, source, options, &out.dropped_rows, &out.warnings, text_columns);
      }
      MemoryTextSource source(std::string_view(file.data(), static_cast<std::size_t>(file.size())), kTextChunkBytes);
      return load_csv(name, source, options, &out.dropped_rows, &out.warnings, text_columns);
    } catch (const TextInNumericColumn& found) {
      text_columns.push_back(found.column);
    }
  }
}

// The whole load's table cut to `ranges` (formats that cannot read rows selectively: CSV text, a .npy with drops
// or categories). The other rows are freed.
Table slice_to_ranges(Table&& table, const std::vector<RowRange>& ranges) {
  if (ranges.empty()) return std::move(table);
  Table out = table_like(table);
  const auto cols = static_cast<std::size_t>(table.cols);
  for (const RowRange& r : ranges) {
    FASTTAB_REQUIRE(0 <= r.begin && r.begin <= r.end && r.end <= table.rows, "rows [", r.begin, ", ", r.end,
                    ") are outside the table's ", table.rows, " rows");
    out.labels.insert(out.labels.end(), table.labels.begin() + r.begin, table.labels.begin() + r.end);
    out.features.insert(out.features.end(), table.features.begin() + r.begin * std::int64_t(cols),
                        table.features.begin() + r.end * std::int64_t(cols));
  }
  out.rows = static_cast<std::int64_t>(out.labels.size());
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Table load_table(const LoadOptions& options, LoadReport* report) {
  const auto start = std::chrono::steady_clock::now();
  LoadReport local;
  LoadReport& out = report != nullptr ? *report : local;
  out = LoadReport{};
  FASTTAB_REQUIRE(!options.path.empty(), "no data file given; use --data PATH (.csv, .csv.gz or .npy)");

  const MappedFile file(options.path);
  const std::string& name = options.path;
  if (file.size() == 0) FASTTAB_FAIL(name, ": the file is empty; give a .csv, .csv.gz or .npy file with data");
  out.source_bytes = file.size();
  out.format = sniff_format(file);

  Table table;
  if (out.format == "npy") {
    table = load_npy(name, std::string_view(file.data(), static_cast<std::size_t>(file.size())), options,
                     &out.dropped_rows, &out.partial);
    if (!out.partial) table = slice_to_ranges(std::move(table), options.rows);
  } else {
    const CacheKey key{options.path, file.size(), file.mtime_ns(), selection_key(options)};
    std::string cache_path;
    if (options.use_cache) {
      cache_path = cache_path_for(key, options.cache_dir);
      if (auto cached = read_table_cache(cache_path, key, options.rows)) {
        out.format = "cache";
        out.from_cache = true;
        out.partial = !options.rows.empty();
        out.cache_path = cache_path;
        out.seconds = seconds_since(start);
        return std::move(*cached);
      }
    }
    table = parse_csv_file(name, file, options, out);
    if (options.use_cache) write_cache_or_warn(name, cache_path, key, table, options, out);
    table = slice_to_ranges(std::move(table), options.rows);  // after the cache, which holds every row
  }
  out.seconds = seconds_since(start);
  return table;
}

std::int64_t known_table_rows(const LoadOptions& options) {
  if (options.path.empty()) return -1;
  const MappedFile file(options.path);
  if (file.size() == 0) return -1;
  const std::string format = sniff_format(file);
  if (format == "npy") {
    if (options.nan_policy == NanPolicy::drop) return -1;
    return parse_npy_header(options.path, std::string_view(file.data(), static_cast<std::size_t>(file.size()))).rows;
  }
  if (!options.use_cache) return -1;
  const CacheKey key{options.path, file.size(), file.mtime_ns(), selection_key(options)};
  return cached_table_rows(cache_path_for(key, options.cache_dir), key);
}

}  // namespace fasttab
