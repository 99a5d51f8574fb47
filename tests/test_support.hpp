// Helpers shared by the test suites: random inputs, error measures, skipping, the synthetic data split, a
// scratch directory.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "fasttab/dataset.hpp"
#include "fasttab/synthetic.hpp"
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

// The built-in synthetic table of `rows` rows drawn from `seed`, its last test_rows rows the test set.
inline fasttab::Dataset synthetic_split(std::int64_t rows, std::int64_t test_rows, std::uint64_t seed) {
  fasttab::SyntheticSpec spec;
  spec.rows = rows;
  spec.seed = seed;
  fasttab::SyntheticData data = fasttab::make_synthetic(spec);
  return fasttab::split_train_test(std::move(data.table), test_rows, "synthetic");
}

// A directory of this process for a suite's files: <system temp>/fasttab_<name>_<pid>, created when first asked.
inline std::filesystem::path temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("fasttab_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
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
