// The slice loader: the FastTensorDataLoader pattern. The table stays in host memory; shuffling permutes the
// whole host table once per epoch, and each batch is a contiguous slice copied to the backend.
#include <cstring>

#include "fasttab/error.hpp"
#include "host/loaders.hpp"

namespace fasttab {
namespace {

class SliceLoader final : public Loader {
 public:
  explicit SliceLoader(const LoaderSource& source) : Loader(source) {
    const Table& t = *source.host_table;
    ld_ = padded_width(t.cols);
    // The host copy in the padded layout (permuted each epoch when shuffling).
    features_.assign(std::size_t(t.rows) * ld_, 0.0f);
    labels_.assign(std::size_t(t.rows), 0.0f);
    batch_features_ = BackendBuffer<float>(*source.backend, std::size_t(batch_size_) * ld_, "batch buffer");
    batch_labels_ = BackendBuffer<float>(*source.backend, std::size_t(batch_size_), "batch buffer");
  }
  const char* name() const override { return "slice"; }

  void start_epoch(std::uint32_t epoch) override {
    const Table& t = *source_.host_table;
    const std::vector<std::uint32_t> order = host_permutation(*source_.backend, source_.shuffle, source_.seed, epoch, rows_);
#pragma omp parallel for schedule(static)
    for (std::int64_t r = 0; r < rows_; ++r) {
      std::memcpy(features_.data() + r * ld_, t.features.data() + std::size_t(order[r]) * t.cols, t.cols * sizeof(float));
      labels_[r] = t.labels[order[r]];
    }
    next_ = 0;
  }

  Batch next_batch() override {
    const int rows = rows_in_batch(next_);
    const std::int64_t first = next_++ * batch_size_;
    source_.backend->copy_to_backend(batch_features_.data(), features_.data() + first * ld_,
                                     std::size_t(rows) * ld_ * sizeof(float));
    source_.backend->copy_to_backend(batch_labels_.data(), labels_.data() + first, std::size_t(rows) * sizeof(float));
    return Batch{batch_features_.data(), batch_labels_.data(), rows, ld_};
  }

 private:
  int ld_ = 0;
  std::int64_t next_ = 0;
  std::vector<float> features_, labels_;
  BackendBuffer<float> batch_features_, batch_labels_;
};

}  // namespace

std::unique_ptr<Loader> make_slice_loader(const LoaderSource& source) {
  FASTTAB_REQUIRE(source.host_table, "the slice loader needs the table in host memory");
  return std::make_unique<SliceLoader>(source);
}

}  // namespace fasttab
