// libFuzzer target for the table cache reader (host/table_cache.cpp, read side). The input is written to a
// temporary file and read back with a key taken from the input's own header fields when they are there, so
// that the fuzzer gets past the key comparison to the size checks and the body. A bad cache must be ignored
// (std::nullopt); a table returned must match its shape.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "host/io/table_cache.hpp"

namespace {
std::string temp_path() {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/fasttab_cache_fuzz_" + std::to_string(::getpid()) + ".ftcache";
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = temp_path();
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr) return 0;
  std::fwrite(data, 1, size, out);
  std::fclose(out);
  fasttab::CacheKey key;
  key.source_path = "fuzz.csv";
  if (size >= 32) {
    std::memcpy(&key.source_size, data + 16, 8);
    std::memcpy(&key.source_mtime_ns, data + 24, 8);
  }
  if (size >= 48) {
    std::uint32_t n = 0;
    std::memcpy(&n, data + 44, 4);
    if (n <= size - 48) key.selection.assign(reinterpret_cast<const char*>(data + 48), n);
  }
  if (auto table = fasttab::read_table_cache(path, key)) {
    if (table->rows < 0 || table->labels.size() != static_cast<std::size_t>(table->rows) ||
        table->features.size() != static_cast<std::size_t>(table->rows) * static_cast<std::size_t>(table->cols)) {
      __builtin_trap();
    }
  }
  ::unlink(path.c_str());
  return 0;
}
