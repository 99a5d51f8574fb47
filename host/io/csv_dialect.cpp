// Dialect detection looks at the first two lines only: it must work on the first inflated chunk of a .gz file.
#include "host/io/csv_dialect.hpp"

#include <algorithm>

#include <fast_float/fast_float.h>

#include "fasttab/error.hpp"
#include "host/io/csv_parser.hpp"

namespace fasttab {
namespace {

// The next line of `text` from `pos`, without its "\n", "\r\n" or "\r" (old Mac files end lines with CR
// alone); `pos` moves past the line ending.
std::string_view next_line(std::string_view text, std::size_t& pos) {
  const std::size_t begin = pos;
  std::size_t end = text.find_first_of("\r\n", pos);
  if (end == std::string_view::npos) {
    pos = text.size();
    end = text.size();
  } else {
    pos = end + 1;
    if (text[end] == '\r' && pos < text.size() && text[pos] == '\n') ++pos;
  }
  return text.substr(begin, end - begin);
}


bool is_number(const std::string& field) {
  if (field.empty()) return false;
  const char* first = field.data();
  const char* last = first + field.size();
  if (*first == '+' && field.size() > 1 && field[1] != '-' && field[1] != '+') ++first;
  float value = 0;
  const auto result = fast_float::from_chars(first, last, value);
  return result.ec == std::errc() && result.ptr == last;
}

std::size_t count_outside_quotes(std::string_view line, char c) {
  std::size_t n = 0;
  bool quoted = false;
  for (char ch : line) {
    if (ch == '"') quoted = !quoted;
    else if (ch == c && !quoted) ++n;
  }
  return n;
}

}  // namespace

std::vector<std::string> split_csv_line(std::string_view line, char delimiter) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    if (ch == '"') {
      if (quoted && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else {
        quoted = !quoted;
      }
    } else if (ch == delimiter && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += ch;
    }
  }
  for (auto& f : fields) {
    const auto b = f.find_first_not_of(" \t");
    const auto e = f.find_last_not_of(" \t");
    f = b == std::string::npos ? std::string() : f.substr(b, e - b + 1);
  }
  return fields;
}

namespace {

// The first two non-blank lines of the head, after a UTF-8 byte-order mark.
struct HeadLines {
  std::string_view first, second;
  std::size_t first_begin = 0;  // offset of the first line in the head
  std::size_t after_first = 0;  // offset just past its line end
  std::int64_t skipped = 0;     // blank lines before it
};

HeadLines find_head_lines(const std::string& file, std::string_view head) {
  HeadLines lines;
  std::size_t pos = 0;
  if (head.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;  // UTF-8 byte-order mark
  // Skip blank lines before the first line, as the parser skips blank lines everywhere.
  lines.first_begin = pos;
  lines.first = next_line(head, pos);
  while (lines.first.empty() && pos < head.size()) {
    ++lines.skipped;
    lines.first_begin = pos;
    lines.first = next_line(head, pos);
  }
  if (lines.first.empty()) FASTTAB_FAIL(file, ": the file has no data (it is empty or holds only blank lines)");
  if (lines.first.find('\0') != std::string_view::npos) {
    FASTTAB_FAIL(file, " line ", lines.skipped + 1, ": binary data (NUL bytes), not CSV text; give a .csv, "
                 ".csv.gz or .npy file");
  }
  lines.after_first = pos;
  lines.second = next_line(head, pos);
  while (lines.second.empty() && pos < head.size()) lines.second = next_line(head, pos);
  return lines;
}

// The one of ',', tab and ';' found most often outside quotes in the first line, and as often in the second;
// ',' when none is.
char detect_delimiter(std::string_view first, std::string_view second) {
  char delimiter = ',';
  std::size_t best = 0;
  for (char c : {',', '\t', ';'}) {
    const std::size_t n = count_outside_quotes(first, c);
    const bool consistent = second.empty() || count_outside_quotes(second, c) == n;
    if (n > best && consistent) {
      best = n;
      delimiter = c;
    }
  }
  return delimiter;
}

[[noreturn]] void fail_single_column(const std::string& file, std::int64_t line, char delimiter,
                                     bool auto_delimiter) {
  if (auto_delimiter) {
    FASTTAB_FAIL(file, " line ", line, ": no delimiter found: the first line has no ',', tab or ';' "
                 "outside quotes, so it is a single column; give --delimiter (',', ';', 'tab' or 'space') "
                 "if the file uses one of them, or convert it to CSV");
  }
  FASTTAB_FAIL(file, " line ", line, ": the first line has no delimiter '", delimiter == '\t' ? "tab"
               : delimiter == ' ' ? "space" : std::string(1, delimiter), "' outside quotes, so it is a single "
               "column; check --delimiter");
}

// Sets dialect.has_header for HeaderMode::detect. A header has a name (text that is neither a number nor a
// missing-value token such as NA) in some field where the second line has a number (or a missing value).
// Anything else is data, with a warning when the first line holds text that could be a header: header
// detection must never drop a data row silently.
void detect_header(const std::string& file, const std::vector<std::string>& first_fields, std::string_view second,
                   CsvDialect& dialect) {
  const std::vector<std::string> second_fields = split_csv_line(second, dialect.delimiter);
  bool is_header = false;
  std::string missing_seen, text_both;
  bool any_missing = false;
  for (std::size_t i = 0; i < first_fields.size(); ++i) {
    const std::string& f = first_fields[i];
    if (is_number(f)) continue;
    if (is_missing_text(f)) {
      if (!f.empty() && !any_missing) {  // an empty field alone is no sign of a header: no warning
        missing_seen = f;
        any_missing = true;
      }
      continue;
    }
    const bool second_numeric = second.empty() || (i < second_fields.size() && (is_number(second_fields[i]) ||
                                                                                is_missing_text(second_fields[i])));
    if (second_numeric) is_header = true;
    else if (text_both.empty() && i < second_fields.size()) text_both = detail::concat("field ", i, " ('", printable(f.substr(0, 40)), "', then '",
                                                           printable(second_fields[i].substr(0, 40)), "')");
  }
  dialect.has_header = is_header;
  if (!is_header && !text_both.empty()) {
    dialect.warnings.push_back(detail::concat(
        file, ": header: the first line was taken as data because no field has a name above a number; ",
        text_both, " holds text in both of the first two lines; use --header or --no-header to decide"));
  } else if (!is_header && any_missing) {
    dialect.warnings.push_back(detail::concat(
        file, ": header: the first line was taken as data because its only non-numbers are missing-value "
        "tokens (such as '", printable(missing_seen), "'); use --header or --no-header to decide"));
  }
}

// The average bytes per data row over the sampled head (up to 1 MiB), when it holds more than 4 lines;
// `estimate` (one row's length) otherwise.
double average_bytes_per_row(std::string_view head, std::size_t data_offset, double estimate) {
  const std::size_t sample_end = std::min(head.size(), data_offset + (std::size_t{1} << 20));
  const std::string_view sample = head.substr(data_offset, sample_end - data_offset);
  auto newlines = std::count(sample.begin(), sample.end(), '\n');
  if (newlines == 0) newlines = std::count(sample.begin(), sample.end(), '\r');  // CR line endings
  if (newlines > 4) return static_cast<double>(sample.size()) / static_cast<double>(newlines);
  return estimate;
}

}  // namespace

CsvDialect detect_csv_dialect(const std::string& file, std::string_view head, char delimiter, HeaderMode header) {
  CsvDialect dialect;
  const HeadLines lines = find_head_lines(file, head);
  const bool auto_delimiter = delimiter == 0;
  dialect.delimiter = auto_delimiter ? detect_delimiter(lines.first, lines.second) : delimiter;
  const std::vector<std::string> first_fields = split_csv_line(lines.first, dialect.delimiter);
  dialect.columns = static_cast<int>(first_fields.size());
  if (dialect.columns == 1) fail_single_column(file, lines.skipped + 1, dialect.delimiter, auto_delimiter);

  if (header == HeaderMode::detect) {
    detect_header(file, first_fields, lines.second, dialect);
  } else {
    dialect.has_header = header == HeaderMode::present;
  }
  if (dialect.has_header) {
    dialect.names = first_fields;
    dialect.data_offset = lines.after_first;
    dialect.lines_before_data = lines.skipped + 1;
    if (!lines.second.empty()) dialect.bytes_per_row = static_cast<double>(lines.second.size() + 1);
  } else {
    dialect.data_offset = lines.first_begin;
    dialect.lines_before_data = lines.skipped;
    dialect.bytes_per_row = static_cast<double>(lines.first.size() + 1);
  }
  dialect.bytes_per_row = average_bytes_per_row(head, dialect.data_offset, dialect.bytes_per_row);
  return dialect;
}

}  // namespace fasttab
