// Cache file layout (little-endian, as the host):
//   char[8]  magic "FTCACHE\0"      u32 version     u32 header_bytes (offset of the labels, a multiple of 64)
//   i64 source_size   i64 source_mtime_ns   i64 rows   i32 cols   u32 selection length, then its text
//   u32 name count, then per name: u32 length, text
//   u32 categorical column count, then per column: i32 feature, u32 level count, then per level: u32 length, text
//   u32 label class count, then per class: u32 length, text          (zero padding up to header_bytes)
//   float labels[rows]   float features[rows * cols]   char[8] end magic "FTCEND\0\0"
// A cache whose size is not exactly what its header says is treated as corrupt.
#include "host/io/table_cache.hpp"
#include "host/io/temp_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "fasttab/error.hpp"

namespace fasttab {
namespace {

constexpr char kMagic[8] = {'F', 'T', 'C', 'A', 'C', 'H', 'E', 0};
constexpr char kEndMagic[8] = {'F', 'T', 'C', 'E', 'N', 'D', 0, 0};
constexpr std::uint32_t kVersion = 2;  // 2: categorical levels and label classes

template <typename T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}
void put_text(std::string& out, const std::string& text) {
  put<std::uint32_t>(out, static_cast<std::uint32_t>(text.size()));
  out += text;
}

// Reads from a byte range with bounds checks; any overrun marks the whole header bad.
struct Reader {
  const char* p;
  const char* end;
  bool ok = true;
  template <typename T>
  T get() {
    T value{};
    if (end - p < static_cast<std::ptrdiff_t>(sizeof(T))) {
      ok = false;
      return value;
    }
    std::memcpy(&value, p, sizeof(T));
    p += sizeof(T);
    return value;
  }
  std::string get_text() {
    const auto n = get<std::uint32_t>();
    if (!ok || end - p < static_cast<std::ptrdiff_t>(n)) {
      ok = false;
      return {};
    }
    std::string text(p, n);
    p += n;
    return text;
  }
};

bool read_exact(int fd, void* buffer, std::size_t bytes, off_t offset) {
  auto* out = static_cast<char*>(buffer);
  while (bytes > 0) {
    const ssize_t n = ::pread(fd, out, std::min<std::size_t>(bytes, std::size_t{1} << 30), offset);
    if (n <= 0) return false;
    out += n;
    bytes -= static_cast<std::size_t>(n);
    offset += n;
  }
  return true;
}

bool write_all(int fd, const void* buffer, std::size_t bytes) {
  const auto* in = static_cast<const char*>(buffer);
  while (bytes > 0) {
    const ssize_t n = ::write(fd, in, std::min<std::size_t>(bytes, std::size_t{1} << 30));
    if (n <= 0) return false;
    in += n;
    bytes -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

std::string cache_path_for(const CacheKey& key, const std::string& cache_dir) {
  const std::size_t slash = key.source_path.find_last_of('/');
  const std::string dir = !cache_dir.empty() ? cache_dir
                          : slash == std::string::npos ? std::string(".")
                                                       : key.source_path.substr(0, slash);
  const std::string name = slash == std::string::npos ? key.source_path : key.source_path.substr(slash + 1);
  char* resolved = ::realpath(key.source_path.c_str(), nullptr);
  const std::string absolute = resolved != nullptr ? resolved : key.source_path;
  std::free(resolved);
  const std::size_t hash = std::hash<std::string>{}(absolute + '\n' + key.selection);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016zx", hash);
  return dir + "/" + name + "." + hex + ".ftcache";
}

namespace {

// The cache's table: its header (names, levels, classes) and then the labels and features of `ranges` (every row
// when null), or none (header_only: rows says how many the cache holds). Each range is two preads, one of its
// labels and one of its features; the other rows are not read.
std::optional<Table> read_cache(const std::string& path, const CacheKey& key, const std::vector<RowRange>* ranges,
                                bool header_only) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::nullopt;
  const auto file_size = static_cast<std::uint64_t>(st.st_size);

  char prefix[16];
  if (file_size < 16 || !read_exact(fd, prefix, 16, 0) || std::memcmp(prefix, kMagic, 8) != 0) return std::nullopt;
  std::uint32_t version = 0, header_bytes = 0;
  std::memcpy(&version, prefix + 8, 4);
  std::memcpy(&header_bytes, prefix + 12, 4);
  if (version != kVersion || header_bytes < 16 || header_bytes > file_size || header_bytes > (1u << 26)) {
    return std::nullopt;
  }
  std::vector<char> header(header_bytes);
  if (!read_exact(fd, header.data(), header_bytes, 0)) return std::nullopt;
  Reader in{header.data() + 16, header.data() + header_bytes};
  const auto source_size = in.get<std::int64_t>();
  const auto source_mtime = in.get<std::int64_t>();
  const auto rows = in.get<std::int64_t>();
  const auto cols = in.get<std::int32_t>();
  const std::string selection = in.get_text();
  const auto name_count = in.get<std::uint32_t>();
  if (!in.ok || source_size != key.source_size || source_mtime != key.source_mtime_ns || selection != key.selection ||
      rows < 0 || cols <= 0 || (name_count != 0 && name_count != static_cast<std::uint32_t>(cols))) {
    return std::nullopt;
  }
  Table table;
  table.rows = rows;
  table.cols = cols;
  for (std::uint32_t i = 0; i < name_count && in.ok; ++i) table.feature_names.push_back(in.get_text());
  const auto categorical_count = in.get<std::uint32_t>();
  for (std::uint32_t i = 0; i < categorical_count && in.ok && i < static_cast<std::uint32_t>(cols); ++i) {
    CategoricalColumn column;
    column.feature = in.get<std::int32_t>();
    const auto levels = in.get<std::uint32_t>();
    if (column.feature < 0 || column.feature >= cols || levels > (1u << 24)) return std::nullopt;
    for (std::uint32_t k = 0; k < levels && in.ok; ++k) column.levels.push_back(in.get_text());
    table.categorical.push_back(std::move(column));
  }
  const auto class_count = in.get<std::uint32_t>();
  for (std::uint32_t i = 0; i < class_count && in.ok && i < (1u << 24); ++i) table.label_classes.push_back(in.get_text());
  if (categorical_count > static_cast<std::uint32_t>(cols) || class_count >= (1u << 24)) return std::nullopt;
  // rows * (1 + cols) comes from the file: compare by division, so that no product can wrap.
  if (!in.ok || file_size < header_bytes + sizeof kEndMagic) return std::nullopt;
  const std::uint64_t body = file_size - header_bytes - sizeof kEndMagic;
  const std::uint64_t row_bytes = (1 + static_cast<std::uint64_t>(cols)) * sizeof(float);
  if (body % row_bytes != 0 || body / row_bytes != static_cast<std::uint64_t>(rows)) return std::nullopt;

  char end_magic[8];
  const auto width = static_cast<std::size_t>(cols);
  const off_t labels_at = header_bytes;
  const off_t features_at = labels_at + static_cast<off_t>(rows) * static_cast<off_t>(sizeof(float));
  const off_t end_at = features_at + static_cast<off_t>(rows) * static_cast<off_t>(width * sizeof(float));
  if (!read_exact(fd, end_magic, 8, end_at) || std::memcmp(end_magic, kEndMagic, 8) != 0) return std::nullopt;
  if (header_only) return table;
  std::vector<RowRange> spans;
  if (ranges != nullptr && !ranges->empty()) {
    for (const RowRange& r : *ranges)
      FASTTAB_REQUIRE(0 <= r.begin && r.begin <= r.end && r.end <= rows, path, ": rows [", r.begin, ", ", r.end,
                      ") are outside the cached table's ", rows, " rows");
    spans = *ranges;
  } else {
    spans.push_back(RowRange{0, rows});
  }
  std::int64_t wanted = 0;
  for (const RowRange& r : spans) wanted += r.end - r.begin;
  table.rows = wanted;
  table.labels.resize(static_cast<std::size_t>(wanted));
  table.features.resize(static_cast<std::size_t>(wanted) * width);
  std::size_t at = 0;
  for (const RowRange& r : spans) {
    const auto n = static_cast<std::size_t>(r.end - r.begin);
    if (n == 0) continue;
    if (!read_exact(fd, table.labels.data() + at, n * sizeof(float),
                    labels_at + static_cast<off_t>(r.begin) * static_cast<off_t>(sizeof(float))) ||
        !read_exact(fd, table.features.data() + at * width, n * width * sizeof(float),
                    features_at + static_cast<off_t>(r.begin) * static_cast<off_t>(width * sizeof(float)))) {
      return std::nullopt;
    }
    at += n;
  }
  return table;
}

}  // namespace

std::optional<Table> read_table_cache(const std::string& path, const CacheKey& key,
                                      const std::vector<RowRange>& rows) {
  return read_cache(path, key, &rows, false);
}

std::int64_t cached_table_rows(const std::string& path, const CacheKey& key) {
  const std::optional<Table> header = read_cache(path, key, nullptr, true);
  return header ? header->rows : -1;
}

bool write_table_cache(const std::string& path, const CacheKey& key, const Table& table, std::string* why) {
  std::string header(kMagic, 8);
  put<std::uint32_t>(header, kVersion);
  put<std::uint32_t>(header, 0);  // header_bytes, patched below
  put<std::int64_t>(header, key.source_size);
  put<std::int64_t>(header, key.source_mtime_ns);
  put<std::int64_t>(header, table.rows);
  put<std::int32_t>(header, table.cols);
  put_text(header, key.selection);
  const bool names = static_cast<int>(table.feature_names.size()) == table.cols;
  put<std::uint32_t>(header, names ? static_cast<std::uint32_t>(table.cols) : 0);
  if (names) {
    for (const auto& name : table.feature_names) put_text(header, name);
  }
  put<std::uint32_t>(header, static_cast<std::uint32_t>(table.categorical.size()));
  for (const CategoricalColumn& column : table.categorical) {
    put<std::int32_t>(header, column.feature);
    put<std::uint32_t>(header, static_cast<std::uint32_t>(column.levels.size()));
    for (const auto& level : column.levels) put_text(header, level);
  }
  put<std::uint32_t>(header, static_cast<std::uint32_t>(table.label_classes.size()));
  for (const auto& name : table.label_classes) put_text(header, name);
  if (header.size() > (std::size_t{1} << 26)) {
    *why = "the column names and categories take more than 64 MiB";
    return false;
  }
  header.resize((header.size() + 63) / 64 * 64, '\0');
  const auto header_bytes = static_cast<std::uint32_t>(header.size());
  std::memcpy(&header[12], &header_bytes, 4);

  remove_stale_temp_files(path);  // left by a writer that was killed mid-write
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *why = temp + ": " + std::strerror(errno);
    return false;
  }
  const bool ok = write_all(fd, header.data(), header.size()) &&
                  write_all(fd, table.labels.data(), table.labels.size() * sizeof(float)) &&
                  write_all(fd, table.features.data(), table.features.size() * sizeof(float)) &&
                  write_all(fd, kEndMagic, sizeof kEndMagic);
  const int err = errno;
  if (::close(fd) != 0 || !ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    *why = temp + ": " + std::strerror(ok ? errno : err);
    ::unlink(temp.c_str());
    return false;
  }
  return true;
}

}  // namespace fasttab
