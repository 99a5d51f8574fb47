// libFuzzer target for the .npy reader: header parsing (magic, version, dict, shape), the size checks against
// the file, column selection and the NaN policy. Any input must load or throw fasttab::Error.
// The first byte picks the options (label column, features, NaN policy); the rest is the .npy file.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fasttab/error.hpp"
#include "fasttab/io.hpp"
#include "host/io/npy_format.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t knobs = data[0];
  fasttab::LoadOptions options;
  options.label_col = knobs & 1;
  options.features = (knobs & 2) ? "all" : (options.label_col == 0 ? "1" : "0");
  options.nan_policy = static_cast<fasttab::NanPolicy>((knobs >> 2) % 3);
  const std::string_view file(reinterpret_cast<const char*>(data + 1), size - 1);
  std::int64_t dropped = 0;
  try {
    const fasttab::Table table = fasttab::load_npy("fuzz.npy", file, options, &dropped);
    if (table.labels.size() != static_cast<std::size_t>(table.rows) ||
        table.features.size() != static_cast<std::size_t>(table.rows) * static_cast<std::size_t>(table.cols)) {
      __builtin_trap();
    }
  } catch (const fasttab::Error&) {
  }
  return 0;
}
