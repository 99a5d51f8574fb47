// The built-in default data: a HIGGS-shaped table drawn deterministically from a seed.
//
// Features: independent standard normals (Box-Muller on Philox draws). Labels: Bernoulli(sigmoid(t(x))) where
// t is a fixed random "teacher" network 21 -> 32 (tanh) -> 1, also drawn from the seed. Because the true
// probabilities are known, the Bayes-optimal test AUC (the AUC of sigmoid(t(x)) on the test rows) is known too.
#pragma once

#include <cstdint>
#include <vector>

#include "fasttab/table.hpp"

namespace fasttab {

struct SyntheticSpec {
  std::int64_t rows = 11'000'000;
  int features = 21;
  int teacher_hidden = 32;
  std::uint64_t seed = 1;
};

struct SyntheticData {
  Table table;
  std::vector<float> probabilities;  // sigmoid(t(x)) per row: the Bayes-optimal prediction
};

SyntheticData make_synthetic(const SyntheticSpec& spec);

}  // namespace fasttab
