// The slice loader: the FastTensorDataLoader pattern. The table stays in host memory; shuffling permutes the
// whole host table once per epoch, and each batch is a contiguous slice copied to the backend.
//   CUDA backend: the permuted table lives in pinned memory, and the slices go through two device buffers on a
//                 copy stream (cuda/pinned_slice_copier.cuh): the copy of batch i+1 overlaps training on batch i.
//   CPU backend:  the permuted table is a plain vector; each slice is a synchronous copy into one batch buffer.
#include <cstring>
#include <memory>
#include <string>

#include "cuda/pinned_slice_copier.cuh"
#include "cuda/cuda_backend.hpp"
#include "fasttab/error.hpp"
#include "host/loaders/loaders.hpp"

namespace fasttab {
namespace {

class SliceLoader final : public Loader {
 public:
  explicit SliceLoader(const LoaderSource& source) : Loader(source) {
    const Table& t = *source.host_table;
    ld_ = padded_width(t.cols);
    const int buffers = std::string(source.backend->kind()) == "cuda" ? 2 : 1;
    for (int k = 0; k < buffers; ++k) {
      batch_features_[k] = BackendBuffer<float>(*source.backend, std::size_t(batch_size_) * ld_, "batch buffer");
      batch_labels_[k] = BackendBuffer<float>(*source.backend, std::size_t(batch_size_), "batch buffer");
    }
    if (buffers == 2) {
      float* const features[2] = {batch_features_[0].data(), batch_features_[1].data()};
      float* const labels[2] = {batch_labels_[0].data(), batch_labels_[1].data()};
      copier_ = std::make_unique<PinnedSliceCopier>(cuda_stream(*source.backend), rows_, ld_, batch_size_, features,
                                                    labels);
      host_features_ = copier_->host_features();
      host_labels_ = copier_->host_labels();
    } else {
      plain_features_.assign(std::size_t(rows_) * ld_, 0.0f);
      plain_labels_.assign(std::size_t(rows_), 0.0f);
      host_features_ = plain_features_.data();
      host_labels_ = plain_labels_.data();
    }
  }
  const char* name() const override { return "slice"; }

  void start_epoch(std::uint32_t epoch) override {
    // Without shuffling the host table is in row order every epoch: it is written once.
    if (source_.shuffle || !in_row_order_) {
      if (copier_) copier_->wait_for_copies();  // the previous epoch's copies read the pinned table
      const std::vector<std::uint32_t> order =
          host_permutation(*source_.backend, source_.shuffle, source_.seed, epoch, rows_);
      write_rows(order);
      in_row_order_ = !source_.shuffle;
    }
    next_ = 0;
    if (copier_) copier_->start_epoch(rows_in_batch(0));
  }

  Batch next_batch() override {
    FASTTAB_REQUIRE(next_ < batches_per_epoch(), "slice loader: the epoch has only ", batches_per_epoch(), " batches");
    const int rows = rows_in_batch(next_);
    const std::int64_t first = next_++ * batch_size_;
    if (copier_) {
      const int k = copier_->next_batch(next_ < batches_per_epoch() ? rows_in_batch(next_) : 0);
      return Batch{copier_->device_features(k), copier_->device_labels(k), rows, ld_};
    }
    source_.backend->copy_to_backend(batch_features_[0].data(), host_features_ + first * ld_,
                                     std::size_t(rows) * ld_ * sizeof(float));
    source_.backend->copy_to_backend(batch_labels_[0].data(), host_labels_ + first, std::size_t(rows) * sizeof(float));
    return Batch{batch_features_[0].data(), batch_labels_[0].data(), rows, ld_};
  }

 private:
  // Host row r = source row order[r], in the padded layout (padding zero, as in the resident table).
  void write_rows(const std::vector<std::uint32_t>& order) {
    const Table& t = *source_.host_table;
    const std::size_t row_bytes = std::size_t(t.cols) * sizeof(float);
    const std::size_t pad_bytes = std::size_t(ld_ - t.cols) * sizeof(float);
    float* features = host_features_;
    float* labels = host_labels_;
#pragma omp parallel for schedule(static)
    for (std::int64_t r = 0; r < rows_; ++r) {
      float* dst = features + r * ld_;
      std::memcpy(dst, t.features.data() + std::size_t(order[r]) * t.cols, row_bytes);
      if (pad_bytes) std::memset(dst + t.cols, 0, pad_bytes);
      labels[r] = t.labels[order[r]];
    }
  }

  int ld_ = 0;
  std::int64_t next_ = 0;
  bool in_row_order_ = false;
  float* host_features_ = nullptr;
  float* host_labels_ = nullptr;
  std::vector<float> plain_features_, plain_labels_;
  // Declared before the copier, so that the copier (which waits for its copies) goes first.
  BackendBuffer<float> batch_features_[2], batch_labels_[2];
  std::unique_ptr<PinnedSliceCopier> copier_;
};

}  // namespace

std::unique_ptr<Loader> make_slice_loader(const LoaderSource& source) {
  FASTTAB_REQUIRE(source.host_table, "the slice loader needs the table in host memory");
  return std::make_unique<SliceLoader>(source);
}

}  // namespace fasttab
