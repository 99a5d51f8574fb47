// Helpers shared by the test suites: random inputs, error measures, skipping.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <random>
#include <vector>

#include "fasttab/table.hpp"

// Prints the marker CTest maps to "skipped" (SKIP_REGULAR_EXPRESSION) and leaves the test case.
#define FASTTAB_SKIP_TEST(reason)                                    \
  do {                                                               \
    std::printf("FASTTAB_TEST_SKIPPED: %s\n", reason);               \
    std::fflush(stdout);                                             \
    return;                                                          \
  } while (0)

namespace fasttab::test {

inline std::vector<float> random_vector(std::size_t n, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// ||a - b|| / ||b|| over doubles (0 when both are zero).
template <typename A, typename B>
double relative_error(const A& a, const B& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    const double d = double(a[i]) - double(b[i]);
    num += d * d;
    den += double(b[i]) * double(b[i]);
  }
  if (den == 0) return std::sqrt(num);
  return std::sqrt(num / den);
}

// rows x 4 standard normal features; the label from `label_of(x, noise draw)`.
template <class LabelOf>
fasttab::Table normal_table(std::int64_t rows, std::uint32_t seed, LabelOf label_of) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  fasttab::Table t;
  t.rows = rows;
  t.cols = 4;
  t.features.resize(std::size_t(rows) * 4);
  t.labels.resize(std::size_t(rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    float* x = t.features.data() + r * 4;
    for (int c = 0; c < 4; ++c) x[c] = normal(rng);
    t.labels[r] = label_of(x, rng, normal);
  }
  return t;
}

}  // namespace fasttab::test
