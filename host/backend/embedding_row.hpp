// Which row of a categorical column's embedding table a code stored in a float reads, written once for the
// host and the device so that both backends map every value, even a malformed one, the same way.
#pragma once

#if defined(__CUDACC__)
#define FASTTAB_EMBEDDING_HD __host__ __device__ __forceinline__
#else
#define FASTTAB_EMBEDDING_HD inline
#endif

namespace fasttab {

// The vocabulary's fixed codes (Vocabulary in fasttab/table.hpp): 0 a missing value, 1 a category unseen in the
// training rows or rarer than --min-category-count; the categories themselves are 2, 3, ...
constexpr int kMissingCode = 0;
constexpr int kUnseenCode = 1;

// code as a row of a table of `cardinality` rows: NaN -> 0 (missing); an integer in [0, cardinality) -> itself;
// anything else -> 1 (unseen). Never out of bounds.
FASTTAB_EMBEDDING_HD int embedding_row(float code, int cardinality) {
  if (code != code) return kMissingCode;  // NaN
  if (!(code >= 0.0f && code < static_cast<float>(cardinality))) return kUnseenCode;
  const int row = static_cast<int>(code);
  return static_cast<float>(row) == code ? row : kUnseenCode;
}

}  // namespace fasttab
