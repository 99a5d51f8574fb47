// CSV text to Table: chunk sources (a mapped file, or a gzip stream inflated as it goes) feed a pool of parser
// threads; the chunks' rows are joined in file order. Peak memory: the parsed chunks plus the joined table,
// about twice the table, plus the few text chunks in flight.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fasttab/io.hpp"
#include "host/io/text_sources.hpp"

namespace fasttab {

// Thrown by load_csv when a column that looked numeric (in the first lines, or by its flags) holds text further
// down and --numeric does not force it: the caller parses again from the start with the column in
// `text_columns`, so that it is categorical.
struct TextInNumericColumn {
  int column = 0;
};

// Parses all the chunks of `source` with options' columns, header, delimiter and NaN policy on
// options.threads workers. `file` names the source in error messages. Adds rows dropped to *dropped, and
// doubts about the dialect (a first line taken as data that may be a header) to *warnings. Columns with text
// in the first lines, those of --categorical and those of `text_columns` are categorical.
Table load_csv(const std::string& file, TextChunkSource& source, const LoadOptions& options,
               std::int64_t* dropped, std::vector<std::string>* warnings = nullptr,
               const std::vector<int>& text_columns = {});


}  // namespace fasttab
