// The four loaders on the CUDA backend yield exactly the batches the reference permutation defines, also when
// the consumer is slow: each batch is read only after a long GEMM on the compute stream, so a copy that did not
// wait for the previous step (the slice loader's double buffering, a per-sample upload) would overwrite a batch
// before it is read, and the rows collected would be wrong.
#include <algorithm>
#include <string>

#include "fasttab/dataset.hpp"
#include "host/loaders/loader.hpp"
#include "gpu_test_support.hpp"
#include "host/backend/reference_math.hpp"

using namespace fasttab;
using namespace fasttab::gpu_test;

namespace {

#if defined(FASTTAB_GPU_TESTS_ON_CPU)
constexpr int kDelaySize = 32;    // the CPU stand-in is synchronous: no delay needed
#else
constexpr int kDelaySize = 2048;  // ~17 GFLOP: a few hundred microseconds, far longer than a batch copy
#endif

}  // namespace

TEST_CASE("cuda loaders: every batch as the reference permutation says, while a slow consumer reads the last one") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto gpu = make_gpu();
  const std::int64_t rows = 20000;
  const int cols = 21, batch_size = 1024, epochs = 2;  // 20 batches, the last of 544 rows
  const int ld = padded_width(cols);
  Table table;
  table.rows = rows;
  table.cols = cols;
  for (std::int64_t r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) table.features.push_back(float(r * 100 + c) + 0.25f);
    table.labels.push_back(float(r));
  }
  DeviceTable resident = upload_table(*gpu, table, "training table");
  const std::size_t n = std::size_t(kDelaySize) * kDelaySize;
  BackendBuffer<float> a = upload(*gpu, random_floats(n, 1)), b = upload(*gpu, random_floats(n, 2));
  BackendBuffer<float> c(*gpu, n, "delay output");
  BackendBuffer<float> out_features(*gpu, std::size_t(epochs) * rows * ld, "collected rows");
  BackendBuffer<float> out_labels(*gpu, std::size_t(epochs) * rows, "collected labels");

  for (const bool shuffle : {false, true}) {
    for (const auto& name : loader_names()) {
      CAPTURE(shuffle);
      CAPTURE(name);
      LoaderSource source;
      source.backend = gpu.get();
      source.host_table = &table;
      source.device_table = &resident;
      source.batch_size = batch_size;
      source.shuffle = shuffle;
      source.seed = 21;
      gpu->fill(out_features.data(), -1.0f, out_features.size());
      {
        std::unique_ptr<Loader> loader = make_loader(name, source);
        for (int e = 0; e < epochs; ++e) {
          loader->start_epoch(std::uint32_t(e));
          for (std::int64_t k = 0; k < loader->batches_per_epoch(); ++k) {
            const Batch batch = loader->next_batch();
            REQUIRE(batch.rows == loader->rows_in_batch(k));
            REQUIRE(batch.ld == ld);
            // The slow consumer: a GEMM, then the batch is read (copied out) on the same stream.
            gpu->gemm(false, false, kDelaySize, kDelaySize, kDelaySize, 1.0f, a.data(), kDelaySize, b.data(),
                      kDelaySize, 0.0f, c.data(), kDelaySize);
            const std::size_t first = std::size_t(e) * rows + std::size_t(k) * batch_size;
            gpu->copy_within(out_features.data() + first * ld, batch.features,
                             std::size_t(batch.rows) * ld * sizeof(float));
            gpu->copy_within(out_labels.data() + first, batch.labels, std::size_t(batch.rows) * sizeof(float));
          }
        }
        gpu->synchronize();
      }  // the loader goes first: its copies are done before the check reads anything
      const std::vector<float> got_features = download(*gpu, out_features);
      const std::vector<float> got_labels = download(*gpu, out_labels);
      std::int64_t wrong_rows = 0;
      for (int e = 0; e < epochs; ++e) {
        std::vector<std::uint32_t> order(static_cast<std::size_t>(rows));
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = std::uint32_t(i);
        if (shuffle) reference::random_permutation(21, std::uint32_t(e), std::uint32_t(rows), order.data());
        for (std::int64_t i = 0; i < rows; ++i) {
          const std::size_t at = std::size_t(e) * rows + std::size_t(i);
          bool ok = got_labels[at] == float(order[i]);
          for (int col = 0; col < ld; ++col) {
            const float want = col < cols ? table.features[std::size_t(order[i]) * cols + col] : 0.0f;
            ok = ok && got_features[at * ld + col] == want;
          }
          wrong_rows += ok ? 0 : 1;
        }
      }
      CHECK(wrong_rows == 0);
    }
  }
}
