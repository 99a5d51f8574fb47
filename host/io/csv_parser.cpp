// The per-line loop walks the fields once, left to right. A selected field is parsed in place by fast_float,
// which stops at the delimiter; an unselected one is skipped with a byte scan. Only a field that does not parse
// directly (quotes, spaces, '+', empty) takes the slow path that trims it and parses it again.
#include "host/io/csv_parser.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <fast_float/fast_float.h>

#include "fasttab/error.hpp"

namespace fasttab {
namespace {

inline bool is_line_end(char c) { return c == '\n' || c == '\r'; }

// The end of the field starting at p: the next delimiter or line ending outside double quotes.
const char* field_end(const char* p, const char* end, char delimiter) {
  bool quoted = false;
  for (; p < end; ++p) {
    const char c = *p;
    if (c == '"') quoted = !quoted;
    else if (!quoted && (c == delimiter || is_line_end(c))) break;
  }
  return p;
}

// The first byte in [p, end) that is the delimiter, a line ending or a quote: how an unselected field is
// skipped, 16 bytes at a time (HIGGS fields are 24 bytes long).
inline const char* find_field_stop(const char* p, const char* end, char delimiter) {
#if defined(__SSE2__)
  const __m128i d = _mm_set1_epi8(delimiter);
  const __m128i n = _mm_set1_epi8('\n');
  const __m128i r = _mm_set1_epi8('\r');
  const __m128i q = _mm_set1_epi8('"');
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i hits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, d), _mm_cmpeq_epi8(v, n)),
                                      _mm_or_si128(_mm_cmpeq_epi8(v, r), _mm_cmpeq_epi8(v, q)));
    const int mask = _mm_movemask_epi8(hits);
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  while (p < end && *p != delimiter && !is_line_end(*p) && *p != '"') ++p;
  return p;
}

enum class FieldStatus { number, empty, not_a_number };

// Slow path: trims spaces and one pair of quotes, drops a leading '+', and parses the rest whole.
FieldStatus parse_trimmed(const char* begin, const char* end, float& value) {
  while (begin < end && (*begin == ' ' || *begin == '\t')) ++begin;
  while (end > begin && (end[-1] == ' ' || end[-1] == '\t')) --end;
  if (end - begin >= 2 && *begin == '"' && end[-1] == '"') {
    ++begin;
    --end;
    while (begin < end && *begin == ' ') ++begin;
    while (end > begin && end[-1] == ' ') --end;
  }
  if (begin == end) return FieldStatus::empty;
  if (*begin == '+' && end - begin > 1 && begin[1] != '-' && begin[1] != '+') ++begin;  // "+-1" is no number
  const auto result = fast_float::from_chars(begin, end, value);
  if (result.ec != std::errc() || result.ptr != end) {
    // R's NA and the other missing-value words are a missing number, as an empty field is.
    return is_missing_text(std::string_view(begin, static_cast<std::size_t>(end - begin))) ? FieldStatus::empty
                                                                                           : FieldStatus::not_a_number;
  }
  return FieldStatus::number;
}

std::string quote_field(const char* begin, const char* end) {
  constexpr std::ptrdiff_t max_shown = 40;
  std::string text = printable(std::string_view(begin, static_cast<std::size_t>(std::min(end - begin, max_shown))));
  if (end - begin > max_shown) text += "...";
  return "'" + text + "'";
}

// A number too large for float32 parses as +-Inf; the text "inf"/"infinity" (any case) has an 'n', a number
// with an exponent does not.
bool is_overflow(const char* begin, const char* end) {
  for (const char* p = begin; p < end; ++p) {
    if (*p == 'n' || *p == 'N') return false;
  }
  return true;
}

}  // namespace

std::string_view trim_text_field(std::string_view f) {
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!f.empty() && is_space(f.front())) f.remove_prefix(1);
  while (!f.empty() && is_space(f.back())) f.remove_suffix(1);
  if (f.size() >= 2 && f.front() == '"' && f.back() == '"') {
    f = f.substr(1, f.size() - 2);
    while (!f.empty() && f.front() == ' ') f.remove_prefix(1);
    while (!f.empty() && f.back() == ' ') f.remove_suffix(1);
  }
  return f;
}

bool is_missing_text(std::string_view t) {
  static const char* const tokens[] = {"", "NA", "N/A", "n/a", "na", "NaN", "nan", "NAN", "null", "NULL", "Null",
                                       "None", "none", "?", "-", ".", "#N/A", "missing"};
  if (t.size() > 7) return false;
  for (const char* token : tokens) {
    if (t == token) return true;
  }
  return false;
}

bool is_number_text(std::string_view text) {
  float value = 0;
  return parse_trimmed(text.data(), text.data() + text.size(), value) == FieldStatus::number;
}

std::vector<std::string> label_class_order(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  if (values.size() != 2) return values;
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  static const std::pair<const char*, const char*> kPairs[] = {
      {"no", "yes"}, {"false", "true"}, {"n", "y"}, {"f", "t"}, {"negative", "positive"}};
  for (const auto& [no, yes] : kPairs) {
    if (lower(values[0]) == yes && lower(values[1]) == no) return {values[1], values[0]};
    if (lower(values[0]) == no && lower(values[1]) == yes) return values;
  }
  return values;
}

void assign_label_classes(Table& table, const std::vector<std::string>& levels) {
  table.label_classes = label_class_order(levels);
  std::vector<float> class_of(levels.size());
  for (std::size_t i = 0; i < levels.size(); ++i) {
    class_of[i] = static_cast<float>(
        std::find(table.label_classes.begin(), table.label_classes.end(), levels[i]) - table.label_classes.begin());
  }
  for (float& y : table.labels)
    if (y == y) y = class_of[static_cast<std::size_t>(y)];
}

std::string printable(std::string_view text) {
  static const char* const hex = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

namespace {

// The error paths of parse_csv_chunk, out of line and cold so that the loop over every byte stays small.

[[gnu::cold, gnu::noinline]] void fail_field_count(CsvChunkResult& out, int ncols, int found) {
  out.failed = true;
  out.error = detail::concat(": expected ", ncols, " fields, found ", found);
}

// More fields than the first line: count them all (from the extra one at p) for the message.
[[gnu::cold, gnu::noinline]] void fail_too_many_fields(CsvChunkResult& out, const char* p, const char* end,
                                                       char delimiter, int col, int ncols) {
  int found = col;
  for (const char* q = p;;) {
    ++found;
    q = field_end(q, end, delimiter);
    if (q < end && *q == delimiter) {
      ++q;
      continue;
    }
    break;
  }
  fail_field_count(out, ncols, found);
}

[[gnu::cold, gnu::noinline]] void fail_not_a_number(CsvChunkResult& out, int col, const char* begin,
                                                    const char* end) {
  out.failed = true;
  out.error = detail::concat(", column ", col, ": ", quote_field(begin, end), " is not a number");
}

[[gnu::cold, gnu::noinline]] void fail_overflow(CsvChunkResult& out, int col, const char* begin, const char* end) {
  out.failed = true;
  out.error = detail::concat(", column ", col, ": ", quote_field(begin, end),
                             " overflows float32 (largest 3.4028235e38); rescale the column (no --nan-policy "
                             "applies to it)");
}

// A NaN, Inf or empty field under NanPolicy::reject.
[[gnu::cold, gnu::noinline]] void fail_missing_value(CsvChunkResult& out, int col, const char* begin,
                                                     const char* end, float value) {
  const char* what = std::isnan(value) ? "NaN" : "Inf";
  const bool empty = parse_trimmed(begin, end, value) == FieldStatus::empty;
  const std::string_view text = trim_text_field(std::string_view(begin, static_cast<std::size_t>(end - begin)));
  const std::string missing = text.empty() ? "empty field (a missing value)" : quote_field(text.data(), text.data() + text.size()) + " (a missing value)";
  out.failed = true;
  out.error = detail::concat(", column ", col, ": ", empty ? missing : what, " (use --nan-policy=drop or zero)");
}

// Room for the rows expected in `text_bytes` (from the sampled bytes per row), so the vectors grow once.
void reserve_rows(std::size_t text_bytes, const CsvLayout& layout, CsvChunkResult& out) {
  if (layout.bytes_per_row <= 0) return;
  const double rows = static_cast<double>(text_bytes) / layout.bytes_per_row;
  const auto expected = static_cast<std::size_t>(rows * 1.05) + 16;  // 5% slack: rows vary in length
  out.labels.reserve(expected);
  out.features.reserve(expected * static_cast<std::size_t>(layout.feature_cols));
}

[[gnu::cold, gnu::noinline]] void fail_too_many_categories(CsvChunkResult& out, int col, int limit) {
  out.failed = true;
  out.error = detail::concat(", column ", col, ": more than ", limit, " distinct values in a categorical column; "
                             "leave it out (--drop), or raise the limit (--max-categories)");
}

// The level index of a categorical field's text (a new one when first seen), or -1 for a missing value, or -2
// when the column has too many levels.
int text_level(std::string_view field, ChunkLevels& levels, int limit) {
  std::string_view text = trim_text_field(field);
  if (is_missing_text(text)) return -1;
  std::string unescaped;
  if (text.find("\"\"") != std::string_view::npos) {  // "" inside a quoted field is one quote
    for (std::size_t i = 0; i < text.size(); ++i) {
      unescaped += text[i];
      if (text[i] == '"' && i + 1 < text.size() && text[i + 1] == '"') ++i;
    }
    text = unescaped;
  }
  const auto found = levels.index.find(text);
  if (found != levels.index.end()) return found->second;
  if (static_cast<int>(levels.levels.size()) >= limit) return -2;
  const int id = static_cast<int>(levels.levels.size());
  levels.levels.emplace_back(text);
  levels.index.emplace(std::string_view(levels.levels.back()), id);
  return id;
}

// Past the line end at p ("\n", "\r\n" or a lone "\r").
inline const char* skip_line_end(const char* p, const char* end) {
  return p + ((*p == '\r' && p + 1 < end && p[1] == '\n') ? 2 : 1);
}

}  // namespace

// One function on purpose: this is the hot loop over every byte of the file, and splitting the per-field work
// into calls costs the inlining that keeps it fast. Only the error paths are out of line (above).
void parse_csv_chunk(std::string_view text, const CsvLayout& layout, CsvChunkResult& out) {
  const char delimiter = layout.delimiter;
  const int ncols = layout.source_cols;
  const int nfeat = layout.feature_cols;
  const int* slots = layout.slot_of_column.data();
  const char* p = text.data();
  const char* const end = p + text.size();

  reserve_rows(text.size(), layout, out);
  const char* const text_slot = layout.text_slot.empty() ? nullptr : layout.text_slot.data();
  out.levels.resize(static_cast<std::size_t>(nfeat) + 1);
  std::vector<float> row(static_cast<std::size_t>(nfeat) + 1);  // row[0] the label, row[1..] the features
  float* const row_data = row.data();

  while (p < end) {
    if (is_line_end(*p)) {  // blank line
      p = skip_line_end(p, end);
      ++out.lines;
      continue;
    }
    bool has_nan = false;
    int col = 0;
    for (;;) {
      if (col >= ncols) return fail_too_many_fields(out, p, end, delimiter, col, ncols);
      const int slot = slots[col];
      const char* field_begin = p;
      if (slot < 0) {
        p = find_field_stop(p, end, delimiter);
        if (p < end && *p == '"') p = field_end(p, end, delimiter);
      } else if (text_slot != nullptr && text_slot[slot]) {
        p = field_end(p, end, delimiter);
        const int level = text_level(std::string_view(field_begin, static_cast<std::size_t>(p - field_begin)),
                                     out.levels[static_cast<std::size_t>(slot)], layout.max_categories);
        if (level == -2) return fail_too_many_categories(out, col, layout.max_categories);
        if (level == -1 && slot == 0) {  // a missing label: the NaN policy decides (it cannot be zeroed)
          if (layout.nan_policy != NanPolicy::drop) {
            out.failed = true;
            out.error = detail::concat(", column ", col, ": the label is missing (use --nan-policy=drop)");
            return;
          }
          has_nan = true;
        }
        row_data[slot] = level < 0 ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(level);
      } else {
        float value = 0;
        const auto result = fast_float::from_chars(p, end, value);
        if (result.ec == std::errc() && result.ptr != p &&
            (result.ptr == end || *result.ptr == delimiter || is_line_end(*result.ptr))) {
          p = result.ptr;
        } else {
          p = field_end(p, end, delimiter);
          const FieldStatus status = parse_trimmed(field_begin, p, value);
          if (status == FieldStatus::not_a_number) {
            if (layout.numeric_column.empty() || !layout.numeric_column[static_cast<std::size_t>(col)])
              out.text_column = col;
            return fail_not_a_number(out, col, field_begin, p);
          }
          if (status == FieldStatus::empty) value = std::numeric_limits<float>::quiet_NaN();
        }
        if (!std::isfinite(value)) {
          if (std::isinf(value) && is_overflow(field_begin, p)) return fail_overflow(out, col, field_begin, p);
          if (layout.nan_policy == NanPolicy::reject) return fail_missing_value(out, col, field_begin, p, value);
          if (layout.nan_policy == NanPolicy::indicator && slot == 0) {
            out.failed = true;
            out.error = detail::concat(", column ", col, ": the label is missing (use --nan-policy=drop)");
            return;
          }
          has_nan = true;
          value = layout.nan_policy == NanPolicy::indicator && slot > 0 ? std::numeric_limits<float>::quiet_NaN() : 0;
        }
        row_data[slot] = value;
      }
      if (p < end && *p == delimiter) {
        ++p;
        ++col;
        continue;
      }
      break;  // end of line or of text
    }
    if (col + 1 != ncols) return fail_field_count(out, ncols, col + 1);
    if (p < end) p = skip_line_end(p, end);
    ++out.lines;
    if (has_nan && layout.nan_policy == NanPolicy::drop) {
      ++out.dropped;
      continue;
    }
    out.labels.push_back(row_data[0]);
    out.features.insert(out.features.end(), row_data + 1, row_data + 1 + nfeat);
    ++out.rows;
  }
}

}  // namespace fasttab
