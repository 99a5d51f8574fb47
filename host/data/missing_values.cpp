// --nan-policy indicator: mean imputation with a 0/1 "was missing" column per column that had missing values.
#include <algorithm>
#include <cmath>

#include "fasttab/dataset.hpp"
#include "fasttab/error.hpp"

namespace fasttab {

int impute_missing_values(Dataset& d, std::int64_t rows) {
  const auto has_nan = [](const Table& t) {
    return std::any_of(t.features.begin(), t.features.end(), [](float v) { return std::isnan(v); });
  };
  if (!has_nan(d.train) && !has_nan(d.test)) return 0;
  FASTTAB_REQUIRE(0 < rows && rows <= d.train.rows, "impute_missing_values: ", rows, " of ", d.train.rows, " rows");
  std::vector<Imputation> imputations;
  int indicators = 0;
  for (int c = 0; c < d.train.cols; ++c) {
    const bool categorical = std::any_of(d.train.vocabularies.begin(), d.train.vocabularies.end(),
                                         [&](const Vocabulary& v) { return v.feature == c; });
    if (categorical) continue;
    double sum = 0;
    std::int64_t present = 0;
    for (std::int64_t r = 0; r < rows; ++r) {
      const float v = d.train.features[std::size_t(r) * d.train.cols + c];
      if (std::isnan(v)) continue;
      sum += v;
      ++present;
    }
    Imputation imputation{c, present > 0 ? float(sum / double(present)) : 0.0f, present < rows};
    indicators += imputation.indicator;
    imputations.push_back(imputation);
  }
  apply_imputations(d.train, imputations, "the training rows");
  apply_imputations(d.test, imputations, "the test rows");
  return indicators;
}

void apply_imputations(Table& t, const std::vector<Imputation>& imputations, const std::string& what) {
  if (imputations.empty()) return;
  std::vector<int> flagged;
  for (const Imputation& m : imputations)
    if (m.indicator) flagged.push_back(m.feature);
  const int cols = t.cols, wide = cols + int(flagged.size());
  std::vector<float> out(std::size_t(t.rows) * wide);
  for (std::int64_t r = 0; r < t.rows; ++r) {
    const float* in = t.features.data() + std::size_t(r) * cols;
    float* o = out.data() + std::size_t(r) * wide;
    std::copy(in, in + cols, o);
    for (std::size_t k = 0; k < flagged.size(); ++k) o[cols + int(k)] = std::isnan(in[flagged[k]]) ? 1.0f : 0.0f;
    for (const Imputation& m : imputations)
      if (std::isnan(o[m.feature])) o[m.feature] = m.mean;
    for (int c = 0; c < cols; ++c)
      FASTTAB_REQUIRE(!std::isnan(o[c]), what, " row ", r + 1, ", feature ", c, ": a missing value in a column that "
                      "has no imputation");
  }
  t.features = std::move(out);
  t.cols = wide;
  if (!t.feature_names.empty())
    for (int c : flagged) t.feature_names.push_back(t.feature_names[std::size_t(c)] + " (missing)");
  t.imputations = imputations;
}

}  // namespace fasttab
