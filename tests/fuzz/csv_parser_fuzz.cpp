// libFuzzer target for the CSV loader: dialect detection, column selection, the chunked parser and the join.
// Any input must either load or throw fasttab::Error; a crash, a sanitizer report or any other exception is a bug.
// The first byte picks the options (label column, features, header mode, delimiter, NaN policy), the rest is
// the CSV text, cut into tiny chunks so that chunk boundaries fall everywhere. Text in a column makes it
// categorical: a column found late is parsed again from the start, as load_table does (TextInNumericColumn);
// every category index must then be within its column's levels and every text label a class.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fasttab/error.hpp"
#include "fasttab/io.hpp"
#include "host/io/csv_loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t knobs = data[0];
  fasttab::LoadOptions options;
  options.label_col = knobs & 1;
  options.features = (knobs & 2) ? "all" : "2-3,1";
  if (options.label_col == 1 && !(knobs & 2)) options.features = "0,2";
  options.header = static_cast<fasttab::HeaderMode>((knobs >> 2) % 3);
  options.delimiter = (knobs & 16) ? 0 : ';';
  options.nan_policy = static_cast<fasttab::NanPolicy>((knobs >> 5) % 4);
  options.threads = (knobs & 128) ? 2 : 1;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<int> text_columns;
  try {
    for (;;) {
      fasttab::MemoryTextSource source(text, 16);
      std::int64_t dropped = 0;
      try {
        const fasttab::Table table = fasttab::load_csv("fuzz.csv", source, options, &dropped, nullptr, text_columns);
        if (table.labels.size() != static_cast<std::size_t>(table.rows) ||
            table.features.size() != static_cast<std::size_t>(table.rows) * static_cast<std::size_t>(table.cols)) {
          __builtin_trap();  // the table's arrays must match its shape
        }
        for (const fasttab::CategoricalColumn& c : table.categorical) {
          if (c.feature < 0 || c.feature >= table.cols) __builtin_trap();
          for (std::int64_t r = 0; r < table.rows; ++r) {
            const float v = table.features[std::size_t(r) * std::size_t(table.cols) + std::size_t(c.feature)];
            if (v == v && !(v >= 0 && v < float(c.levels.size()))) __builtin_trap();  // an index out of its levels
          }
        }
        if (!table.label_classes.empty()) {
          for (float y : table.labels)
            if (!(y >= 0 && y < float(table.label_classes.size()))) __builtin_trap();
        }
        break;
      } catch (const fasttab::TextInNumericColumn& found) {
        if (text_columns.size() > 64) __builtin_trap();  // each retry adds a new column: it must end
        text_columns.push_back(found.column);
      }
    }
  } catch (const fasttab::Error&) {
    // Bad input is reported, which is what we want.
  }
  return 0;
}
