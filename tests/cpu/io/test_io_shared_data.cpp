// The real files in shared/data (see its README.md for each file's dialect): they load with the expected shape,
// first values and names. Skipped when the directory is absent.
#include <doctest/doctest.h>

#include <algorithm>

#include <cstdio>
#include <filesystem>

#include "fasttab/io.hpp"
#include "cpu/io/io_test_files.hpp"

using fasttab::LoadOptions;

namespace {

bool shared_data_present() {
  if (std::filesystem::exists(std::string(FASTTAB_SHARED_DATA_DIR) + "/README.md")) return true;
  std::puts("FASTTAB_TEST_SKIPPED: " FASTTAB_SHARED_DATA_DIR " is absent");
  return false;
}

fasttab::Table load_shared(const std::string& name, int label_col, const std::string& features = "all") {
  LoadOptions options;
  options.path = std::string(FASTTAB_SHARED_DATA_DIR) + "/" + name;
  options.label_col = label_col;
  options.features = features;
  options.use_cache = false;  // the shared directory is read-only
  return fasttab::load_table(options);
}

}  // namespace

TEST_CASE("io shared data: HIGGS files in three dialects") {
  if (!shared_data_present()) return;
  // No header, CRLF, no final newline, 1.00E+00 labels; the seed's columns.
  auto t = load_shared("higgs_h2o_train_10k.csv", 0, "1-21");
  CHECK(t.rows == 10000);
  CHECK(t.cols == 21);
  CHECK(t.labels[0] == 1.0f);
  CHECK(t.features[0] == doctest::Approx(0.869));
  CHECK(t.feature_names.empty());
  // No header, integer labels.
  t = load_shared("higgs_h2o_test_5k.csv", 0, "1-21");
  CHECK(t.rows == 5000);
  // Header, label last.
  t = load_shared("higgs_sas_11k.csv", 28);
  CHECK(t.rows == 10984);
  CHECK(t.cols == 28);
  CHECK(t.feature_names.front() == "lepton_pT");
  CHECK(t.features[0] == doctest::Approx(0.34186098));
}

TEST_CASE("io shared data: semicolon file with a quoted header, spambase, banknote") {
  if (!shared_data_present()) return;
  auto t = load_shared("winequality-red.csv", 11);
  CHECK(t.rows == 1599);
  CHECK(t.cols == 11);
  CHECK(t.feature_names.front() == "fixed acidity");
  CHECK(t.feature_names.back() == "alcohol");
  t = load_shared("spambase.csv", 57);
  CHECK(t.rows == 4601);
  CHECK(t.cols == 57);
  CHECK(t.feature_names.front() == "word_freq_make");
  t = load_shared("banknote_authentication.csv", 4);
  CHECK(t.rows == 1372);
  CHECK(t.cols == 4);
}

TEST_CASE("io shared data: magic04's string labels g/h become classes 0/1, and its other columns load") {
  if (!shared_data_present()) return;
  const auto labelled = load_shared("magic04.data", 10);
  CHECK(labelled.label_classes == std::vector<std::string>{"g", "h"});
  CHECK(std::count(labelled.labels.begin(), labelled.labels.end(), 1.0f) == 6688);  // hadrons, as UCI counts them
  const auto t = load_shared("magic04.data", 0, "1-9");
  CHECK(t.rows == 19020);
  CHECK(t.cols == 9);
}
