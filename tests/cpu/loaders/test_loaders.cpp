// The four loaders on the CPU backend: for the same seed they yield the same batches (the same permutation, the
// same rows in the same order, padding zero), in row order without shuffling; training with each gives the same
// losses and weights, bit for bit. Unknown or impossible loaders are refused with the alternatives named.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "fasttab/dataset.hpp"
#include "fasttab/error.hpp"
#include "host/loaders/loader.hpp"
#include "fasttab/synthetic.hpp"
#include "fasttab/trainer.hpp"
#include "host/backend/reference_math.hpp"

using namespace fasttab;

namespace {

// Row r, column c holds r * 100 + c + 0.5 and the label is r: every value names its row.
Table numbered_table(std::int64_t rows, int cols) {
  Table t;
  t.rows = rows;
  t.cols = cols;
  for (std::int64_t r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) t.features.push_back(float(r * 100 + c) + 0.5f);
    t.labels.push_back(float(r));
  }
  return t;
}

struct HostBatch {
  std::vector<float> features, labels;  // rows x ld, rows
  int ld = 0;
  bool operator==(const HostBatch& o) const { return features == o.features && labels == o.labels && ld == o.ld; }
};

// Every batch of epochs [0, epochs), read back to the host.
std::vector<std::vector<HostBatch>> batches_of(const std::string& name, Backend& backend, const Table& table,
                                               int batch_size, bool shuffle, std::uint64_t seed, int epochs) {
  DeviceTable resident = upload_table(backend, table, "training table");
  LoaderSource source;
  source.backend = &backend;
  source.host_table = &table;
  source.device_table = &resident;
  source.batch_size = batch_size;
  source.shuffle = shuffle;
  source.seed = seed;
  std::unique_ptr<Loader> loader = make_loader(name, source);
  CHECK(std::string(loader->name()) == name);
  std::vector<std::vector<HostBatch>> out(epochs);
  for (int e = 0; e < epochs; ++e) {
    loader->start_epoch(std::uint32_t(e));
    for (std::int64_t b = 0; b < loader->batches_per_epoch(); ++b) {
      const Batch batch = loader->next_batch();
      HostBatch h;
      h.ld = batch.ld;
      h.features.resize(std::size_t(batch.rows) * batch.ld);
      h.labels.resize(std::size_t(batch.rows));
      backend.copy_to_host(h.features.data(), batch.features, h.features.size() * sizeof(float));
      backend.copy_to_host(h.labels.data(), batch.labels, h.labels.size() * sizeof(float));
      out[e].push_back(std::move(h));
    }
  }
  return out;
}

// What every loader must yield: rows in the order of reference::random_permutation (or 0, 1, ... unshuffled),
// in consecutive batches, padded with zeros to padded_width(cols).
std::vector<std::vector<HostBatch>> expected_batches(const Table& table, int batch_size, bool shuffle,
                                                     std::uint64_t seed, int epochs) {
  const int ld = padded_width(table.cols);
  std::vector<std::vector<HostBatch>> out(epochs);
  for (int e = 0; e < epochs; ++e) {
    std::vector<std::uint32_t> order(static_cast<std::size_t>(table.rows));
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = std::uint32_t(i);
    if (shuffle) reference::random_permutation(seed, std::uint32_t(e), std::uint32_t(table.rows), order.data());
    for (std::int64_t first = 0; first < table.rows; first += batch_size) {
      HostBatch h;
      h.ld = ld;
      for (std::int64_t r = first; r < std::min<std::int64_t>(first + batch_size, table.rows); ++r) {
        for (int c = 0; c < ld; ++c) h.features.push_back(c < table.cols ? table.features[order[r] * table.cols + c] : 0.0f);
        h.labels.push_back(table.labels[order[r]]);
      }
      out[e].push_back(std::move(h));
    }
  }
  return out;
}

std::string error_text(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("the four loaders yield the same batches, shuffled or in row order, batch size dividing the rows or not") {
  auto backend = make_cpu_backend();
  const Table table = numbered_table(1000, 5);  // 5 features: ld 8, so the padding is checked too
  const int epochs = 3;
  for (const bool shuffle : {false, true}) {
    for (const int batch_size : {128, 100, 1000, 999}) {  // 999: a last batch of one row
      CAPTURE(shuffle);
      CAPTURE(batch_size);
      const auto expected = expected_batches(table, batch_size, shuffle, 7, epochs);
      CHECK(expected[0].size() == std::size_t((1000 + batch_size - 1) / batch_size));
      if (shuffle) CHECK(!(expected[0] == expected[1]));  // each epoch its own permutation
      if (!shuffle) CHECK(expected[0][0].labels[1] == 1.0f);
      for (const auto& name : loader_names()) {
        CAPTURE(name);
        const auto got = batches_of(name, *backend, table, batch_size, shuffle, 7, epochs);
        REQUIRE(got.size() == expected.size());
        for (int e = 0; e < epochs; ++e) {
          REQUIRE(got[e].size() == expected[e].size());
          for (std::size_t b = 0; b < got[e].size(); ++b) {
            CAPTURE(e);
            CAPTURE(b);
            CHECK(got[e][b].ld == expected[e][b].ld);
            CHECK(got[e][b].labels == expected[e][b].labels);
            CHECK(got[e][b].features == expected[e][b].features);
          }
        }
      }
    }
  }
}

TEST_CASE("the loaders follow the seed: another seed, another order") {
  auto backend = make_cpu_backend();
  const Table table = numbered_table(300, 3);
  for (const auto& name : loader_names()) {
    CAPTURE(name);
    CHECK(batches_of(name, *backend, table, 64, true, 1, 1) == batches_of(name, *backend, table, 64, true, 1, 1));
    CHECK(!(batches_of(name, *backend, table, 64, true, 1, 1) == batches_of(name, *backend, table, 64, true, 2, 1)));
  }
}

TEST_CASE("a loader restarted mid-epoch starts the epoch over") {
  auto backend = make_cpu_backend();
  const Table table = numbered_table(500, 4);
  DeviceTable resident = upload_table(*backend, table, "training table");
  for (const auto& name : loader_names()) {
    CAPTURE(name);
    LoaderSource source;
    source.backend = backend.get();
    source.host_table = &table;
    source.device_table = &resident;
    source.batch_size = 64;
    source.shuffle = true;
    source.seed = 11;
    auto loader = make_loader(name, source);
    loader->start_epoch(0);
    loader->next_batch();
    loader->next_batch();
    loader->start_epoch(0);
    const Batch b = loader->next_batch();
    std::vector<float> labels(std::size_t(b.rows));
    backend->copy_to_host(labels.data(), b.labels, labels.size() * sizeof(float));
    std::vector<std::uint32_t> order(500);
    reference::random_permutation(11, 0, 500, order.data());
    for (int i = 0; i < b.rows; ++i) CHECK(labels[i] == float(order[i]));
  }
}

TEST_CASE("training with each loader gives identical losses and weights") {
  SyntheticSpec spec;
  spec.rows = 3000;
  spec.seed = 4;
  Dataset data = split_train_test(std::move(make_synthetic(spec).table), 500, "synthetic");
  for (const bool shuffle : {false, true}) {
    CAPTURE(shuffle);
    std::vector<TrainResult> results;
    for (const auto& name : loader_names()) {
      auto backend = make_cpu_backend();
      TrainConfig c;
      c.model.hidden = {16, 16};
      c.model.dropout = 0.2f;
      c.batch_size = 384;  // 2500 rows: six batches of 384 and one of 196
      c.epochs = 2;
      c.eval_every = 3;
      c.shuffle = shuffle;
      c.seed = 9;
      c.loader = name;
      Dataset copy = data;
      results.push_back(train(*backend, c, copy));
      CHECK(results.back().loader == name);
    }
    const TrainResult& ref = results.front();
    REQUIRE(ref.evals.size() >= 4);
    for (std::size_t i = 1; i < results.size(); ++i) {
      CAPTURE(loader_names()[i]);
      const TrainResult& r = results[i];
      REQUIRE(r.epochs.size() == ref.epochs.size());
      for (std::size_t e = 0; e < r.epochs.size(); ++e) {
        CHECK(r.epochs[e].train_loss == ref.epochs[e].train_loss);
        CHECK(r.epochs[e].test.loss == ref.epochs[e].test.loss);
        CHECK(r.epochs[e].test.auc == ref.epochs[e].test.auc);
      }
      REQUIRE(r.evals.size() == ref.evals.size());
      for (std::size_t k = 0; k < r.evals.size(); ++k) CHECK(r.evals[k].test.loss == ref.evals[k].test.loss);
      CHECK(r.parameters == ref.parameters);
    }
  }
}

TEST_CASE("an unknown loader, or one without its table, is refused with the alternatives named") {
  auto backend = make_cpu_backend();
  const Table table = numbered_table(100, 2);
  LoaderSource source;
  source.backend = backend.get();
  source.host_table = &table;
  source.batch_size = 10;
  const std::string unknown = error_text([&] { make_loader("fast", source); });
  CHECK(unknown.find("unknown loader 'fast'") != std::string::npos);
  CHECK(unknown.find("per-sample, per-sample-device, slice, gather") != std::string::npos);

  // No resident table: the device loaders name the host-memory loader that replaces them.
  CHECK(error_text([&] { make_loader("gather", source); }).find("--loader slice") != std::string::npos);
  CHECK(error_text([&] { make_loader("per-sample-device", source); }).find("--loader per-sample") != std::string::npos);

  SyntheticSpec spec;
  spec.rows = 600;
  Dataset data = split_train_test(std::move(make_synthetic(spec).table), 100, "synthetic");
  TrainConfig c;
  c.model.hidden = {4};
  c.batch_size = 100;
  c.epochs = 1;
  c.loader = "dataloader";
  const std::string in_train = error_text([&] { train(*backend, c, data); });
  CHECK(in_train.find("unknown loader 'dataloader'") != std::string::npos);
  CHECK(in_train.find("gather") != std::string::npos);
}
