// Format reference: numpy/lib/format.py. Magic "\x93NUMPY", major, minor, header length (uint16 in 1.0,
// uint32 in 2.0 and 3.0), then e.g. "{'descr': '<f4', 'fortran_order': False, 'shape': (11000000, 29), }".
#include "host/io/npy_format.hpp"


#include <algorithm>
#include <cerrno>
#include <cmath>
#include <map>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "fasttab/error.hpp"
#include "host/io/column_spec.hpp"
#include "host/io/csv_parser.hpp"

namespace fasttab {
namespace {

// The text after "'key':" in the header dict, with leading spaces skipped.
std::string_view dict_value(const std::string& file, std::string_view dict, const char* key) {
  const std::string quoted = std::string("'") + key + "'";
  std::size_t pos = dict.find(quoted);
  if (pos == std::string_view::npos) FASTTAB_FAIL(file, ": .npy header has no '", key, "' entry");
  pos = dict.find(':', pos + quoted.size());
  if (pos == std::string_view::npos) FASTTAB_FAIL(file, ": .npy header is malformed near '", key, "'");
  ++pos;
  while (pos < dict.size() && dict[pos] == ' ') ++pos;
  return dict.substr(pos);
}

// The header dict after the magic, version and header length; *data_offset is where the array starts.
std::string_view npy_header_dict(const std::string& file, std::string_view data, std::size_t* data_offset) {
  if (data.size() < 10 || data.substr(0, 6) != "\x93NUMPY") FASTTAB_FAIL(file, ": not a .npy file");
  const auto major = static_cast<unsigned char>(data[6]);
  std::size_t header_len = 0;
  std::size_t prefix = 0;
  if (major == 1) {
    header_len = static_cast<std::size_t>(static_cast<unsigned char>(data[8])) |
                 static_cast<std::size_t>(static_cast<unsigned char>(data[9])) << 8;
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (data.size() < 12) FASTTAB_FAIL(file, ": truncated .npy header");
    for (int i = 3; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(data[8 + i]);
    prefix = 12;
  } else {
    FASTTAB_FAIL(file, ": unsupported .npy format version ", int(major), " (write it with numpy.save)");
  }
  if (data.size() < prefix + header_len) FASTTAB_FAIL(file, ": truncated .npy header");
  *data_offset = prefix + header_len;
  return data.substr(prefix, header_len);
}

// True for '<f8', false for '<f4'; any other dtype is refused.
bool npy_is_float64(const std::string& file, std::string_view dict) {
  const std::string_view descr = dict_value(file, dict, "descr").substr(0, 40);
  if (descr.substr(0, 5) == "'<f4'") return false;
  if (descr.substr(0, 5) == "'<f8'") return true;
  FASTTAB_FAIL(file, ": .npy dtype ", printable(descr.substr(0, descr.find(','))),
               " is not supported; save the array as float32 or float64 (arr.astype('float32'))");
}

// The 'shape' tuple, which must have 2 dimensions, into header.rows and header.cols.
void parse_npy_shape(const std::string& file, std::string_view dict, NpyHeader& header) {
  const std::string_view shape = dict_value(file, dict, "shape");
  const std::size_t close = shape.find(')');
  if (shape.empty() || shape[0] != '(' || close == std::string_view::npos) {
    FASTTAB_FAIL(file, ": .npy header has a malformed shape");
  }
  std::int64_t dims[3] = {0, 0, 0};
  int ndim = 0;
  std::size_t i = 1;
  while (i < close) {
    while (i < close && (shape[i] == ' ' || shape[i] == ',')) ++i;
    if (i >= close) break;
    std::int64_t v = 0;
    bool digits = false;
    while (i < close && shape[i] >= '0' && shape[i] <= '9') {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, shape[i] - '0', &v)) {
        FASTTAB_FAIL(file, ": .npy header has a shape dimension too large: ",
                     printable(shape.substr(0, std::min<std::size_t>(close + 1, 60))));
      }
      ++i;
      digits = true;
    }
    if (!digits || ndim == 3) FASTTAB_FAIL(file, ": .npy header has a malformed shape");
    dims[ndim++] = v;
  }
  if (ndim != 2) {
    FASTTAB_FAIL(file, ": .npy array has ", ndim, " dimensions; a table needs 2 (rows, columns)");
  }
  header.rows = dims[0];
  header.cols = dims[1];
}

// Sizes from the file are checked against the file size without overflow: rows * cols * item can wrap.
void check_npy_data_size(const std::string& file, const NpyHeader& header, std::size_t file_bytes) {
  const std::size_t item = header.float64 ? 8 : 4;
  std::uint64_t values = 0, bytes = 0, need = 0;
  if (__builtin_mul_overflow(static_cast<std::uint64_t>(header.rows), static_cast<std::uint64_t>(header.cols),
                             &values) ||
      __builtin_mul_overflow(values, static_cast<std::uint64_t>(item), &bytes) ||
      __builtin_add_overflow(bytes, static_cast<std::uint64_t>(header.data_offset), &need)) {
    FASTTAB_FAIL(file, ": .npy header is damaged: the shape (", header.rows, ", ", header.cols,
                 ") is far larger than any file (", file_bytes, " bytes here)");
  }
  if (file_bytes < need) {
    FASTTAB_FAIL(file, ": truncated .npy file: the shape (", header.rows, ", ", header.cols, ") needs ", need,
                 " bytes, the file has ", file_bytes);
  }
}

}  // namespace

NpyHeader parse_npy_header(const std::string& file, std::string_view data) {
  NpyHeader header;
  const std::string_view dict = npy_header_dict(file, data, &header.data_offset);
  header.float64 = npy_is_float64(file, dict);
  if (dict_value(file, dict, "fortran_order").substr(0, 5) != "False") {
    FASTTAB_FAIL(file, ": .npy array is in Fortran order; save it in C order (numpy.ascontiguousarray)");
  }
  parse_npy_shape(file, dict, header);
  check_npy_data_size(file, header, data.size());
  return header;
}

std::string make_npy_header(std::int64_t rows, std::int64_t cols) {
  const std::string shape = cols > 0 ? detail::concat(rows, ", ", cols) : detail::concat(rows, ",");
  std::string dict = detail::concat("{'descr': '<f4', 'fortran_order': False, 'shape': (", shape, "), }");
  // Pad with spaces and a final newline so that magic + 4 + dict is a multiple of 64 (numpy aligns the data).
  const std::size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string header("\x93NUMPY\x01\x00", 8);
  header += static_cast<char>(dict.size() & 0xff);
  header += static_cast<char>(dict.size() >> 8);
  return header + dict;
}

namespace {

// Rows of the ranges only (every row when `ranges` is empty): the other rows' pages of the mapped file are never
// touched, so they are never read.
template <typename T>
Table select_npy_columns(const std::string& file, const T* values, const NpyHeader& header,
                         const ColumnSelection& selection, NanPolicy policy, std::int64_t* dropped,
                         const std::vector<RowRange>& ranges) {
  Table table;
  table.cols = static_cast<int>(selection.features.size());
  std::vector<RowRange> spans = ranges;
  if (spans.empty()) spans.push_back(RowRange{0, header.rows});
  std::int64_t wanted = 0;
  for (const RowRange& s : spans) wanted += s.end - s.begin;
  table.labels.reserve(static_cast<std::size_t>(wanted));
  table.features.reserve(static_cast<std::size_t>(wanted) * static_cast<std::size_t>(table.cols));
  std::vector<float> row(static_cast<std::size_t>(table.cols) + 1);
  for (const RowRange& span : spans)
  for (std::int64_t r = span.begin; r < span.end; ++r) {
    const T* in = values + r * header.cols;
    bool has_nan = false;
    for (std::size_t k = 0; k <= selection.features.size(); ++k) {
      const int c = k == 0 ? selection.label_col : selection.features[k - 1];
      if (c < 0) {  // no label column: the label is NaN
        row[k] = std::nanf("");
        continue;
      }
      auto value = static_cast<float>(in[c]);
      if (selection.text[static_cast<std::size_t>(c)]) {  // a category: its exact value is its name below
        row[k] = value;
        continue;
      }
      if (std::isinf(value) && std::isfinite(static_cast<double>(in[c]))) {
        FASTTAB_FAIL(file, " row ", r, ", column ", c, ": ", static_cast<double>(in[c]),
                     " overflows float32 (largest 3.4028235e38); rescale the column (no --nan-policy applies to it)");
      }
      if (!std::isfinite(value)) {
        if (policy == NanPolicy::reject) {
          FASTTAB_FAIL(file, " row ", r, ", column ", c, ": ", std::isnan(value) ? "NaN" : "Inf",
                       " (use --nan-policy=drop or zero)");
        }
        FASTTAB_REQUIRE(!(policy == NanPolicy::indicator && k == 0), file, " row ", r, ", column ", c,
                        ": the label is missing (use --nan-policy=drop)");
        has_nan = true;
        value = policy == NanPolicy::indicator ? std::nanf("") : 0.0f;
      }
      row[k] = value;
    }
    if (has_nan && policy == NanPolicy::drop) {
      ++*dropped;
      continue;
    }
    table.labels.push_back(row[0]);
    table.features.insert(table.features.end(), row.begin() + 1, row.end());
  }
  table.rows = static_cast<std::int64_t>(table.labels.size());
  if (table.rows == 0) FASTTAB_FAIL(file, ": the .npy array has no rows left to load");
  return table;
}

// --categorical's columns of a numeric table: each distinct value ("%g") a level, in order of first appearance,
// NaN a missing value; the label column (k == 0) becomes the label classes.
void values_to_levels(const std::string& file, Table& table, const ColumnSelection& selection, int max_categories) {
  for (std::size_t k = 0; k <= selection.features.size(); ++k) {
    const int c = k == 0 ? selection.label_col : selection.features[k - 1];
    if (c < 0 || !selection.text[static_cast<std::size_t>(c)]) continue;
    float* values = k == 0 ? table.labels.data() : table.features.data() + (k - 1);
    const std::size_t stride = k == 0 ? 1 : static_cast<std::size_t>(table.cols);
    std::map<float, int> index;
    std::vector<std::string> levels;
    for (std::int64_t r = 0; r < table.rows; ++r) {
      float& v = values[static_cast<std::size_t>(r) * stride];
      if (std::isnan(v)) {
        FASTTAB_REQUIRE(k != 0, file, " row ", r, ": the label is NaN");
        continue;
      }
      auto [it, added] = index.emplace(v, static_cast<int>(levels.size()));
      if (added) {
        FASTTAB_REQUIRE(int(levels.size()) < max_categories, file, ": column ", c, " has more than ", max_categories,
                        " distinct values; leave it out (--drop), or raise the limit (--max-categories)");
        char text[32];
        std::snprintf(text, sizeof text, "%g", double(v));
        levels.emplace_back(text);
      }
      v = static_cast<float>(it->second);
    }
    if (k == 0) {
      assign_label_classes(table, levels);
    } else {
      table.categorical.push_back(CategoricalColumn{static_cast<int>(k - 1), std::move(levels)});
    }
  }
}

}  // namespace

namespace {
bool npy_reads_row_ranges(const LoadOptions& options, const ColumnSelection& selection) {
  if (options.rows.empty() || options.nan_policy == NanPolicy::drop) return false;
  return std::none_of(selection.text.begin(), selection.text.end(), [](char t) { return t != 0; });
}

}  // namespace

Table load_npy(const std::string& file, std::string_view data, const LoadOptions& options, std::int64_t* dropped,
               bool* partial) {
  const NpyHeader header = parse_npy_header(file, data);
  // rows 0 would let any column count pass the size check (and 'all' expand it): refuse it first.
  if (header.rows == 0) FASTTAB_FAIL(file, ": the .npy array has no rows (shape (0, ", header.cols, "))");
  if (header.cols > (1 << 30)) FASTTAB_FAIL(file, ": the .npy array has too many columns (", header.cols, ")");
  const ColumnSelection selection = select_columns(file, static_cast<int>(header.cols), {}, options);
  // A row range is read directly when the rows' indices are the file's (no drops) and no column's levels depend
  // on every row (--categorical); otherwise the whole table is loaded and sliced by the caller.
  std::vector<RowRange> ranges;
  if (npy_reads_row_ranges(options, selection)) {
    for (const RowRange& range : options.rows)
      FASTTAB_REQUIRE(0 <= range.begin && range.begin <= range.end && range.end <= header.rows, file, ": rows [",
                      range.begin, ", ", range.end, ") are outside the .npy array's ", header.rows, " rows");
    ranges = options.rows;
    if (partial != nullptr) *partial = true;
  }
  const char* base = data.data() + header.data_offset;
  // The data offset is a multiple of 64 for files numpy writes, so the casts below are aligned; copy otherwise.
  std::unique_ptr<char[]> aligned;
  if (reinterpret_cast<std::uintptr_t>(base) % 8 != 0) {
    const std::size_t bytes = data.size() - header.data_offset;
    aligned = std::make_unique<char[]>(bytes);
    std::memcpy(aligned.get(), base, bytes);
    base = aligned.get();
  }
  Table table = header.float64 ? select_npy_columns(file, reinterpret_cast<const double*>(base), header, selection,
                                                    options.nan_policy, dropped, ranges)
                                 : select_npy_columns(file, reinterpret_cast<const float*>(base), header, selection,
                                                    options.nan_policy, dropped, ranges);
  values_to_levels(file, table, selection, options.max_categories);
  return table;
}

namespace {

// The one .npy writer: the header for (rows, cols) or (rows,) when cols is 0, then the rows a block at a time,
// each block of rows [r0, r1) assembled by fill(r0, r1, block).
template <typename Fill>
void write_npy_blocks(const std::string& path, std::int64_t rows, std::int64_t cols, Fill fill) {
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr) FASTTAB_FAIL(path, ": cannot open for writing: ", std::strerror(errno));
  const std::string header = make_npy_header(rows, cols);
  bool ok = std::fwrite(header.data(), 1, header.size(), out) == header.size();
  const std::size_t width = static_cast<std::size_t>(std::max<std::int64_t>(cols, 1));
  const auto block_rows = static_cast<std::int64_t>(std::max<std::size_t>(1, (std::size_t{4} << 20) / width));
  std::vector<float> block;
  for (std::int64_t r0 = 0; ok && r0 < rows; r0 += block_rows) {
    block.clear();
    fill(r0, std::min(rows, r0 + block_rows), block);
    ok = std::fwrite(block.data(), sizeof(float), block.size(), out) == block.size();
  }
  if (std::fclose(out) != 0 || !ok) FASTTAB_FAIL(path, ": write failed (is the disk full?)");
}

}  // namespace

void write_npy(const std::string& path, const Table& table) {
  FASTTAB_REQUIRE(table.categorical.empty() && table.vocabularies.empty() && table.label_classes.empty(), path,
                  ": cannot write the table as .npy: it has text columns, and a .npy holds numbers only (their "
                  "codes would lose their text)");
  FASTTAB_REQUIRE(static_cast<std::int64_t>(table.labels.size()) == table.rows &&
                      static_cast<std::int64_t>(table.features.size()) == table.rows * table.cols,
                  path, ": cannot write the table as .npy: its arrays do not match rows x cols");
  // Rows of [label, features...].
  write_npy_blocks(path, table.rows, 1 + static_cast<std::int64_t>(table.cols),
                   [&](std::int64_t r0, std::int64_t r1, std::vector<float>& block) {
                     for (std::int64_t r = r0; r < r1; ++r) {
                       block.push_back(table.labels[static_cast<std::size_t>(r)]);
                       const float* f = table.features.data() + r * table.cols;
                       block.insert(block.end(), f, f + table.cols);
                     }
                   });
}

void write_npy_matrix(const std::string& path, const float* values, std::int64_t rows, std::int64_t cols,
                      bool vector) {
  FASTTAB_REQUIRE(!vector || cols == 1, path, ": a 1-D .npy has one value per row, not ", cols);
  const std::int64_t width = cols;
  write_npy_blocks(path, rows, vector ? 0 : cols, [&](std::int64_t r0, std::int64_t r1, std::vector<float>& block) {
    block.insert(block.end(), values + r0 * width, values + r1 * width);
  });
}

}  // namespace fasttab
