#include "fasttab/synthetic.hpp"

#include <cmath>

#include "fasttab/error.hpp"
#include "host/backend/philox.hpp"

namespace fasttab {
namespace {

// Four standard normals from one Philox block (two Box-Muller pairs).
void four_normals(const Philox4x32& r, float out[4]) {
  for (int pair = 0; pair < 2; ++pair) {
    const float u1 = (static_cast<float>(r.v[2 * pair] >> 8) + 0.5f) * (1.0f / 16777216.0f);  // (0, 1)
    const float u2 = uniform_from_bits(r.v[2 * pair + 1]);
    const float radius = std::sqrt(-2.0f * std::log(u1));
    out[2 * pair] = radius * std::cos(6.2831853f * u2);
    out[2 * pair + 1] = radius * std::sin(6.2831853f * u2);
  }
}

float normal_at(std::uint64_t seed, RandomStream stream, std::uint64_t index) {
  float n[4];
  four_normals(philox4x32(seed, static_cast<std::uint32_t>(index >> 2), static_cast<std::uint32_t>(index >> 34),
                          static_cast<std::uint32_t>(stream), 0u),
               n);
  return n[index & 3];
}

}  // namespace

SyntheticData make_synthetic(const SyntheticSpec& spec) {
  FASTTAB_REQUIRE(spec.rows >= 1, "--rows ", spec.rows, " must be >= 1");
  FASTTAB_REQUIRE(spec.features >= 1, "synthetic data needs at least one feature");
  const int f = spec.features, h = spec.teacher_hidden;

  // Teacher: hidden = tanh(W1 x * 1.5/sqrt(f)), t = w2 . hidden * 3/sqrt(h) (a logit of standard deviation ~2,
  // which puts the Bayes AUC in HIGGS's range).
  std::vector<float> w1(std::size_t(h) * f), b1(h), w2(h);
  for (std::size_t i = 0; i < w1.size(); ++i)
    w1[i] = normal_at(spec.seed, RandomStream::synthetic_teacher, i) * 1.5f / std::sqrt(float(f));
  for (int j = 0; j < h; ++j) {
    b1[j] = 0.5f * normal_at(spec.seed, RandomStream::synthetic_teacher, w1.size() + j);
    w2[j] = normal_at(spec.seed, RandomStream::synthetic_teacher, w1.size() + h + j) * 3.0f / std::sqrt(float(h));
  }

  SyntheticData data;
  Table& t = data.table;
  t.rows = spec.rows;
  t.cols = f;
  t.features.resize(std::size_t(spec.rows) * f);
  t.labels.resize(std::size_t(spec.rows));
  data.probabilities.resize(std::size_t(spec.rows));
  const int blocks = (f + 3) / 4;

#pragma omp parallel for schedule(static, 4096)
  for (std::int64_t r = 0; r < spec.rows; ++r) {
    float* x = t.features.data() + r * f;
    for (int b = 0; b < blocks; ++b) {
      float n[4];
      four_normals(philox4x32(spec.seed, static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(b),
                              static_cast<std::uint32_t>(RandomStream::synthetic_features),
                              static_cast<std::uint32_t>(r >> 32)),
                   n);
      for (int k = 0; k < 4 && 4 * b + k < f; ++k) x[4 * b + k] = n[k];
    }
    float logit = 0.0f;
    for (int j = 0; j < h; ++j) {
      float z = b1[j];
      const float* w = w1.data() + std::size_t(j) * f;
      for (int c = 0; c < f; ++c) z += w[c] * x[c];
      logit += w2[j] * std::tanh(z);
    }
    const float p = 1.0f / (1.0f + std::exp(-logit));
    const Philox4x32 u = philox4x32(spec.seed, static_cast<std::uint32_t>(r), 0u,
                                    static_cast<std::uint32_t>(RandomStream::synthetic_labels),
                                    static_cast<std::uint32_t>(r >> 32));
    data.probabilities[r] = p;
    t.labels[r] = uniform_from_bits(u.v[0]) < p ? 1.0f : 0.0f;
  }
  return data;
}

}  // namespace fasttab
