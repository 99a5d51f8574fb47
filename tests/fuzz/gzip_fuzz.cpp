// libFuzzer target for the gzip path: GzipReader (ISA-L, members, trailers, trailing data) feeding
// GzipTextSource (line carry-over, the long-line bound) and load_csv. Any input must load or throw
// fasttab::Error. The first byte picks the chunk size, the line bound and a few load options; the rest is the
// .gz file.
#include <cstddef>
#include <cstdint>

#include "fasttab/error.hpp"
#include "fasttab/io.hpp"
#include "host/io/csv_loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t knobs = data[0];
  fasttab::LoadOptions options;
  options.header = static_cast<fasttab::HeaderMode>(knobs % 3);
  options.nan_policy = static_cast<fasttab::NanPolicy>((knobs >> 2) % 3);
  options.threads = (knobs & 16) ? 2 : 1;
  const std::size_t chunk = (knobs & 32) ? 7 : 64;
  const std::size_t max_line = (knobs & 64) ? 100 : fasttab::kMaxLineBytes;
  std::int64_t dropped = 0;
  try {
    fasttab::GzipTextSource source("fuzz.csv.gz", reinterpret_cast<const char*>(data + 1), size - 1, chunk,
                                   max_line);
    const fasttab::Table table = fasttab::load_csv("fuzz.csv.gz", source, options, &dropped);
    if (table.labels.size() != static_cast<std::size_t>(table.rows) ||
        table.features.size() != static_cast<std::size_t>(table.rows) * static_cast<std::size_t>(table.cols)) {
      __builtin_trap();
    }
  } catch (const fasttab::Error&) {
  } catch (const fasttab::TextInNumericColumn&) {  // load_table would parse again with it categorical
  }
  return 0;
}
