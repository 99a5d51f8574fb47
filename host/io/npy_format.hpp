// NumPy .npy files: the header (magic, version, a Python-dict text giving descr, fortran_order and shape) and
// the raw C-order array that follows it. Only what tables need: 2-D float32 or float64, little-endian.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fasttab/io.hpp"

namespace fasttab {

struct NpyHeader {
  bool float64 = false;        // '<f8' (else '<f4')
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::size_t data_offset = 0;  // bytes from the file start to the array
};

// Parses the header of the .npy bytes in `data`; throws fasttab::Error naming `file` for anything other than a
// 2-D little-endian float32/float64 C-order array, or when the file is shorter than the shape says.
NpyHeader parse_npy_header(const std::string& file, std::string_view data);

// The header bytes (format version 1.0, padded to 64 bytes) of a C-order float32 array of shape (rows, cols), or
// (rows,) when cols is 0.
std::string make_npy_header(std::int64_t rows, std::int64_t cols);

// The label and feature columns of a 2-D .npy array in memory (`data`, the whole file), chosen by options'
// label_col and features, with options.nan_policy applied. Adds rows dropped to *dropped. Reads only options.rows
// when it can (no --nan-policy drop, no --categorical column) and then sets *partial; otherwise every row (the
// caller slices).
Table load_npy(const std::string& file, std::string_view data, const LoadOptions& options, std::int64_t* dropped,
               bool* partial = nullptr);

}  // namespace fasttab
