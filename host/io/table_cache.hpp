// The binary table cache: the parsed, selected columns of a CSV, written next to the source (or into
// --cache-dir) after the first load and read back on the next one at the speed of reading the bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <vector>

#include "fasttab/io.hpp"
#include "fasttab/table.hpp"

namespace fasttab {

// What a cache must match to be used: the source's identity and everything that changes the parsed table.
struct CacheKey {
  std::string source_path;
  std::int64_t source_size = 0;
  std::int64_t source_mtime_ns = 0;
  std::string selection;  // describe_selection(...) plus header, delimiter and NaN policy
};

// The cache file for `key`: "<dir>/<source file name>.<hash of path and selection>.ftcache".
std::string cache_path_for(const CacheKey& key, const std::string& cache_dir);

// Reads the cache at `path` when it exists and matches `key`; a missing, stale, truncated or corrupt cache
// gives nullopt (the caller parses the source again and rewrites it). With `rows` (LoadOptions::rows) only those
// rows' labels and features are read (pread), concatenated; a range outside the cached rows is an Error.
std::optional<Table> read_table_cache(const std::string& path, const CacheKey& key,
                                      const std::vector<RowRange>& rows = {});

// The rows of the cache at `path` when it exists and matches `key` (its header and size only); -1 otherwise.
std::int64_t cached_table_rows(const std::string& path, const CacheKey& key);

// Writes the cache atomically (a temporary file in the same directory, then rename). Returns false with
// `why` set when the directory is not writable or the disk is full; a cache is an optimisation, not a must.
bool write_table_cache(const std::string& path, const CacheKey& key, const Table& table, std::string* why);

}  // namespace fasttab
