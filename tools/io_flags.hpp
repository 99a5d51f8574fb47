// The command-line flags of fasttab::LoadOptions, shared by train, compare_loaders and predict.
// Each tool registers --data (and --export-npy where it has one) itself; this adds the rest:
//   --label-col N  --features SPEC  --header | --no-header  --delimiter ,|tab|;|space  --nan-policy reject|drop|zero
//   --cache-dir DIR  --no-cache  --io-threads N
#pragma once

#include <cctype>
#include <charconv>
#include <string>

#include <CLI/CLI.hpp>

#include "fasttab/io.hpp"
#include "fasttab/names.hpp"

namespace fasttab {

inline void add_io_flags(CLI::App& app, LoadOptions& options) {
  app.add_option_function<std::string>(
         "--label-col",
         [&options](const std::string& value) {
           int index = -1;
           const auto r = std::from_chars(value.data(), value.data() + value.size(), index);
           if (r.ec == std::errc() && r.ptr == value.data() + value.size() && index >= 0) {
             options.label_col = index;
             options.label_name.clear();
           } else {
             options.label_name = value;  // a header name, resolved when the file is read
           }
         },
         "the label column: its 0-based index or its header name (default 0)")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            const bool negative = value.size() > 1 && value[0] == '-' &&
                                  value.find_first_not_of("0123456789", 1) == std::string::npos;
            return negative ? "--label-col " + value + ": give a 0-based column index (>= 0) or a header name" : "";
          },
          "INDEX or NAME"));
  app.add_option("--features", options.features,
                 "feature columns: 'all' (every column but the label and --drop's), or a list of header names, "
                 "0-based indices and ranges such as '1-21,25,price'")
      ->capture_default_str();
  app.add_option("--drop", options.drop, "columns left out of --features all (names or indices, e.g. a row number: 0)");
  app.add_option("--categorical", options.categorical,
                 "columns read as categories even where they hold numbers (a column with text is one already)");
  app.add_option("--numeric", options.numeric,
                 "columns that must hold numbers ('all': every column): a text field is an error with its line and "
                 "column, not a category");
  app.add_option("--max-categories", options.max_categories,
                 "distinct values a categorical column may have (more: an error naming the column)")
      ->check(CLI::Range(2, 1 << 24))
      ->capture_default_str();
  app.add_flag_callback(
      "--header", [&options] { options.header = HeaderMode::present; }, "the first line is a header");
  app.add_flag_callback(
      "--no-header", [&options] { options.header = HeaderMode::absent; },
      "the first line is data (default: detect a header)");
  const CLI::Validator delimiter_check(
      [](std::string& value) -> std::string {
        if (value == "," || value == ";" || value == "tab" || value == "\\t" || value == "\t" || value == "space" ||
            value == " ") {
          return "";
        }
        return "'" + value + "' is not a delimiter: use ',', ';', 'tab' or 'space'";
      },
      "in {',', ';', tab, space}");
  app.add_option_function<std::string>(
         "--delimiter",
         [&options](const std::string& value) {
           if (value == ",") options.delimiter = ',';
           else if (value == ";") options.delimiter = ';';
           else if (value == "space" || value == " ") options.delimiter = ' ';  // one space between fields
           else options.delimiter = '\t';  // "tab" or "\t": the only other values the check lets through
         },
         "field delimiter (default: detect among ',', ';' and tab; 'space' is one space between fields)")
      ->check(delimiter_check);
  app.add_option_function<std::string>(
         "--nan-policy",
         [&options](std::string value) {
           for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
           options.nan_policy = parse_name<NanPolicy>(value, "--nan-policy");
         },
         "NaN, Inf, NA or empty numeric fields: reject (error with line and column, the default), drop the row, zero "
         "it, or indicator (the training mean, and a 0/1 'was missing' input per such column)")
      ->check(CLI::IsMember(names_in_order<NanPolicy>(), CLI::ignore_case));
  app.add_option("--cache-dir", options.cache_dir,
                 "directory of the binary cache of parsed columns (default: next to the data file)");
  app.add_flag_callback(
      "--no-cache", [&options] { options.use_cache = false; }, "neither read nor write the binary cache");
  app.add_option("--io-threads", options.threads, "threads that parse the data (0 = all hardware threads)")
      ->check(CLI::NonNegativeNumber);
}

}  // namespace fasttab
