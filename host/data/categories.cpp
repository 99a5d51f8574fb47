// Vocabularies of categorical columns and the encoding of level indices (as loaded) into vocabulary codes.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <unordered_map>

#include "fasttab/dataset.hpp"
#include "fasttab/error.hpp"
#include "host/backend/embedding_row.hpp"

namespace fasttab {
namespace {

std::string column_text(const Table& t, int feature) {
  const std::string name = std::size_t(feature) < t.feature_names.size() ? t.feature_names[std::size_t(feature)] : "";
  return "feature " + std::to_string(feature) + (name.empty() ? "" : " ('" + name + "')");
}

// Replaces each value of feature column `feature` (a level index, or NaN) by code_of[index] (NaN: the missing code).
void recode_column(Table& t, int feature, const std::vector<float>& code_of) {
  for (std::int64_t r = 0; r < t.rows; ++r) {
    float& v = t.features[std::size_t(r) * t.cols + feature];
    v = std::isnan(v) ? float(kMissingCode) : code_of[static_cast<std::size_t>(v)];
  }
}

Vocabulary build_vocabulary(const Table& train, const CategoricalColumn& column, int min_count, std::int64_t rows) {
  std::vector<std::int64_t> count(column.levels.size(), 0);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float v = train.features[std::size_t(r) * train.cols + column.feature];
    if (!std::isnan(v)) ++count[static_cast<std::size_t>(v)];
  }
  std::vector<std::size_t> order(column.levels.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return count[a] != count[b] ? count[a] > count[b] : column.levels[a] < column.levels[b];
  });
  Vocabulary v;
  v.feature = column.feature;
  v.name = std::size_t(column.feature) < train.feature_names.size() ? train.feature_names[std::size_t(column.feature)] : "";
  for (std::size_t i : order) {
    if (count[i] < min_count) break;  // sorted by count: the rest are rarer
    v.categories.push_back(column.levels[i]);
  }
  return v;
}

}  // namespace

void encode_with_vocabularies(Table& t, const std::vector<Vocabulary>& vocabularies, const std::string& what) {
  for (const CategoricalColumn& c : t.categorical) {
    const bool known = std::any_of(vocabularies.begin(), vocabularies.end(),
                                   [&](const Vocabulary& v) { return v.feature == c.feature; });
    FASTTAB_REQUIRE(known, what, ": ", column_text(t, c.feature), " holds text (such as '",
                    c.levels.empty() ? std::string() : c.levels[0], "') but held numbers in the training data; "
                    "give the training file's columns, or name the column with --categorical when training");
  }
  for (const Vocabulary& v : vocabularies) {
    FASTTAB_REQUIRE(v.feature >= 0 && v.feature < t.cols, what, ": the model's categorical feature ", v.feature,
                    " is not among the table's ", t.cols, " features");
    std::unordered_map<std::string, float> code;
    for (std::size_t i = 0; i < v.categories.size(); ++i) code.emplace(v.categories[i], float(i + 2));
    auto code_of_text = [&](const std::string& text) {
      const auto found = code.find(text);
      return found == code.end() ? float(kUnseenCode) : found->second;
    };
    const auto column = std::find_if(t.categorical.begin(), t.categorical.end(),
                                     [&](const CategoricalColumn& c) { return c.feature == v.feature; });
    if (column != t.categorical.end()) {
      std::vector<float> code_of(column->levels.size());
      for (std::size_t i = 0; i < code_of.size(); ++i) code_of[i] = code_of_text(column->levels[i]);
      recode_column(t, v.feature, code_of);
    } else {  // numbers here: each value's text, as a .npy column's categories are named
      for (std::int64_t r = 0; r < t.rows; ++r) {
        float& x = t.features[std::size_t(r) * t.cols + v.feature];
        if (std::isnan(x)) {
          x = float(kMissingCode);
          continue;
        }
        char text[32];
        std::snprintf(text, sizeof text, "%g", double(x));
        x = code_of_text(text);
      }
    }
  }
  t.categorical.clear();
  t.vocabularies = vocabularies;
}

void encode_categories(Dataset& d, int min_count, std::int64_t vocabulary_rows) {
  FASTTAB_REQUIRE(min_count >= 1, "--min-category-count ", min_count, " must be >= 1");
  if (d.train.categorical.empty() && d.test.categorical.empty()) return;
  FASTTAB_REQUIRE(0 < vocabulary_rows && vocabulary_rows <= d.train.rows, "encode_categories: ", vocabulary_rows,
                  " vocabulary rows of ", d.train.rows, " training rows");
  std::vector<Vocabulary> vocabularies;
  for (const CategoricalColumn& c : d.train.categorical)
    vocabularies.push_back(build_vocabulary(d.train, c, min_count, vocabulary_rows));
  for (std::size_t i = 0; i < vocabularies.size(); ++i) {  // the training rows by level index, no text lookups
    const CategoricalColumn& c = d.train.categorical[i];
    std::unordered_map<std::string, std::size_t> level_of;
    for (std::size_t k = 0; k < c.levels.size(); ++k) level_of.emplace(c.levels[k], k);
    std::vector<float> code_of(c.levels.size(), float(kUnseenCode));
    for (std::size_t k = 0; k < vocabularies[i].categories.size(); ++k)
      code_of[level_of.at(vocabularies[i].categories[k])] = float(k + 2);
    recode_column(d.train, c.feature, code_of);
  }
  d.train.categorical.clear();
  d.train.vocabularies = vocabularies;
  encode_with_vocabularies(d.test, vocabularies, "the test rows");
}

void map_label_classes(Table& t, const std::vector<std::string>& classes, const std::string& what) {
  FASTTAB_REQUIRE(!classes.empty(), what, ": the label column holds text (such as '",
                  t.label_classes.empty() ? std::string() : t.label_classes[0],
                  "') but held numbers in the training data");
  FASTTAB_REQUIRE(!t.label_classes.empty() || t.rows == 0 || std::all_of(t.labels.begin(), t.labels.end(),
                                                                        [](float y) { return std::isnan(y); }),
                  what, ": the label column holds numbers but held text in the training data (",
                  classes.size(), " classes such as '", classes[0], "')");
  std::vector<float> class_of(t.label_classes.size());
  for (std::size_t i = 0; i < class_of.size(); ++i) {
    const auto found = std::find(classes.begin(), classes.end(), t.label_classes[i]);
    FASTTAB_REQUIRE(found != classes.end(), what, ": label '", t.label_classes[i], "' is not one of the training "
                    "data's ", classes.size(), " classes");
    class_of[i] = float(found - classes.begin());
  }
  for (float& y : t.labels)
    if (!std::isnan(y)) y = class_of[static_cast<std::size_t>(y)];
  t.label_classes = classes;
}

}  // namespace fasttab
