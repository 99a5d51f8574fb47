// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), written once for host
// and device so that the CPU and CUDA backends draw bit-identical random streams: dropout masks, the epoch
// permutation's sort keys, initial weights and the synthetic data all come from here.
//
// A draw is a pure function of (key, counter): nothing is stored between draws, and a dropout mask can be
// recomputed in the backward pass instead of being kept in memory.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define FASTTAB_HD __host__ __device__ __forceinline__
#else
#define FASTTAB_HD inline
#endif

namespace fasttab {

struct Philox4x32 {
  std::uint32_t v[4];
};

namespace philox_detail {
FASTTAB_HD void mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi, std::uint32_t& lo) {
  const std::uint64_t product = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(product >> 32);
  lo = static_cast<std::uint32_t>(product);
}
}  // namespace philox_detail

// Ten rounds of Philox4x32 on counter (c0, c1, c2, c3) with the 64-bit key.
FASTTAB_HD Philox4x32 philox4x32(std::uint64_t key, std::uint32_t c0, std::uint32_t c1, std::uint32_t c2,
                                 std::uint32_t c3) {
  std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
  std::uint32_t x0 = c0, x1 = c1, x2 = c2, x3 = c3;
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, lo0, hi1, lo1;
    philox_detail::mulhilo(0xD2511F53u, x0, hi0, lo0);
    philox_detail::mulhilo(0xCD9E8D57u, x2, hi1, lo1);
    const std::uint32_t y0 = hi1 ^ x1 ^ k0, y1 = lo1, y2 = hi0 ^ x3 ^ k1, y3 = lo0;
    x0 = y0; x1 = y1; x2 = y2; x3 = y3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4x32{{x0, x1, x2, x3}};
}

// A uniform float in [0, 1) from the top 24 bits of a word (exact in float32).
FASTTAB_HD float uniform_from_bits(std::uint32_t bits) { return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f); }

// Stream identifiers: the third counter word says what a draw is for, so that streams never overlap.
enum class RandomStream : std::uint32_t {
  dropout = 1,
  permutation = 2,
  init = 3,
  synthetic_features = 4,
  synthetic_labels = 5,
  synthetic_teacher = 6,
  split = 7,
};

// The dropout decision for element `index` (row * width + column) of layer `layer` at training step `step`:
// kept with probability 1 - p. One Philox call serves four consecutive elements.
FASTTAB_HD bool dropout_keep(std::uint64_t seed, std::uint32_t step, std::uint32_t layer, std::uint64_t index,
                             float p) {
  const Philox4x32 r = philox4x32(seed, static_cast<std::uint32_t>(index >> 2), step,
                                  static_cast<std::uint32_t>(RandomStream::dropout), layer);
  // The word picked by selects, not by r.v[index & 3]: a runtime index into the array would put it in a GPU
  // thread's local memory.
  const std::uint32_t word = (index & 2) ? ((index & 1) ? r.v[3] : r.v[2]) : ((index & 1) ? r.v[1] : r.v[0]);
  return uniform_from_bits(word) >= p;
}

// The 64-bit sort key of row `row` in epoch `epoch`: the permutation is the row order sorted by these keys
// (stable, so that the unlikely equal keys keep index order and the permutation is still well defined).
FASTTAB_HD std::uint64_t permutation_key(std::uint64_t seed, std::uint32_t epoch, std::uint32_t row) {
  const Philox4x32 r = philox4x32(seed, row, epoch, static_cast<std::uint32_t>(RandomStream::permutation), 0u);
  return (static_cast<std::uint64_t>(r.v[0]) << 32) | r.v[1];
}

// The 64-bit sort key of row `row` for a data split (`part` 0: the test rows, 1: the validation rows): the rows
// sorted by these keys, the first ones are taken (host/data/dataset.cpp).
FASTTAB_HD std::uint64_t split_key(std::uint64_t seed, std::uint32_t part, std::uint32_t row) {
  const Philox4x32 r = philox4x32(seed, row, part, static_cast<std::uint32_t>(RandomStream::split), 0u);
  return (static_cast<std::uint64_t>(r.v[0]) << 32) | r.v[1];
}

}  // namespace fasttab
