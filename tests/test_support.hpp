// Helpers shared by the test suites: random inputs, error measures, skipping.
#pragma once

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

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

}  // namespace fasttab::test
