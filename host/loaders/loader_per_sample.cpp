// The per-sample loaders: PyTorch's DataLoader pattern, kept as the baseline the article measured.
//   per-sample:        a Dataset-like object returns one sample at a time from the host table (a fresh
//                      feature vector each, as TensorDataset's __getitem__ makes fresh tensors); the samples are
//                      collated into a host batch, copied to the backend from pageable memory (synchronously).
//   per-sample-device: the table is resident; each sample is one small device-to-device copy into the batch.
#include <cstring>

#include "fasttab/error.hpp"
#include "host/loaders/loaders.hpp"

namespace fasttab {
namespace {

// The per-sample dataset interface (torch.utils.data.Dataset): len() and get(index).
struct Sample {
  std::vector<float> features;
  float label = 0;
};

class TableSampleDataset {
 public:
  explicit TableSampleDataset(const Table& table) : table_(table) {}
  std::int64_t size() const { return table_.rows; }
  Sample get(std::int64_t index) const {
    Sample s;
    const float* row = table_.features.data() + index * table_.cols;
    s.features.assign(row, row + table_.cols);
    s.label = table_.labels[index];
    return s;
  }

 private:
  const Table& table_;
};

class PerSampleLoader final : public Loader {
 public:
  explicit PerSampleLoader(const LoaderSource& source) : Loader(source), dataset_(*source.host_table) {
    ld_ = padded_width(source.host_table->cols);
    host_features_.assign(std::size_t(batch_size_) * ld_, 0.0f);
    host_labels_.assign(std::size_t(batch_size_), 0.0f);
    features_ = BackendBuffer<float>(*source.backend, host_features_.size(), "batch buffer");
    labels_ = BackendBuffer<float>(*source.backend, host_labels_.size(), "batch buffer");
  }
  const char* name() const override { return "per-sample"; }

  void start_epoch(std::uint32_t epoch) override {
    order_ = host_permutation(*source_.backend, source_.shuffle, source_.seed, epoch, rows_);
    next_ = 0;
  }

  Batch next_batch() override {
    FASTTAB_REQUIRE(next_ < batches_per_epoch(), "per-sample loader: the epoch has only ", batches_per_epoch(),
                    " batches");
    const int rows = rows_in_batch(next_);
    const std::int64_t first = next_++ * batch_size_;
    // Fetch and collate, one sample at a time.
    for (int i = 0; i < rows; ++i) {
      const Sample s = dataset_.get(order_[first + i]);
      std::memcpy(host_features_.data() + std::size_t(i) * ld_, s.features.data(), s.features.size() * sizeof(float));
      host_labels_[i] = s.label;
    }
    // copy_to_backend is ordered after the work already queued (the previous step still reading this buffer)
    // and waits for the copy, as .cuda() from pageable memory does.
    source_.backend->copy_to_backend(features_.data(), host_features_.data(), std::size_t(rows) * ld_ * sizeof(float));
    source_.backend->copy_to_backend(labels_.data(), host_labels_.data(), std::size_t(rows) * sizeof(float));
    return Batch{features_.data(), labels_.data(), rows, ld_};
  }

 private:
  TableSampleDataset dataset_;
  int ld_ = 0;
  std::int64_t next_ = 0;
  std::vector<std::uint32_t> order_;
  std::vector<float> host_features_, host_labels_;  // pageable, as PyTorch's default
  BackendBuffer<float> features_, labels_;
};

class PerSampleDeviceLoader final : public Loader {
 public:
  explicit PerSampleDeviceLoader(const LoaderSource& source) : Loader(source) {
    FASTTAB_REQUIRE(source.device_table, "the per-sample-device loader needs the table in ", source.backend->kind(),
                    " memory; use --loader per-sample to keep it in host memory");
    const DeviceTable& t = *source.device_table;
    features_ = BackendBuffer<float>(*source.backend, std::size_t(batch_size_) * t.ld, "batch buffer");
    labels_ = BackendBuffer<float>(*source.backend, std::size_t(batch_size_), "batch buffer");
  }
  const char* name() const override { return "per-sample-device"; }

  void start_epoch(std::uint32_t epoch) override {
    order_ = host_permutation(*source_.backend, source_.shuffle, source_.seed, epoch, rows_);
    next_ = 0;
  }

  Batch next_batch() override {
    FASTTAB_REQUIRE(next_ < batches_per_epoch(), "per-sample-device loader: the epoch has only ", batches_per_epoch(),
                    " batches");
    const DeviceTable& t = *source_.device_table;
    const int rows = rows_in_batch(next_);
    const std::int64_t first = next_++ * batch_size_;
    // Stream-ordered copies: they start after the previous step's work on this buffer.
    for (int i = 0; i < rows; ++i) {
      const std::size_t row = order_[first + i];
      source_.backend->copy_within(features_.data() + std::size_t(i) * t.ld, t.features.data() + row * t.ld,
                                   t.ld * sizeof(float));
      source_.backend->copy_within(labels_.data() + i, t.labels.data() + row, sizeof(float));
    }
    return Batch{features_.data(), labels_.data(), rows, t.ld};
  }

 private:
  std::int64_t next_ = 0;
  std::vector<std::uint32_t> order_;
  BackendBuffer<float> features_, labels_;
};

}  // namespace

std::unique_ptr<Loader> make_per_sample_loader(const LoaderSource& source) {
  FASTTAB_REQUIRE(source.host_table, "the per-sample loader needs the table in host memory");
  return std::make_unique<PerSampleLoader>(source);
}
std::unique_ptr<Loader> make_per_sample_device_loader(const LoaderSource& source) {
  return std::make_unique<PerSampleDeviceLoader>(source);
}

}  // namespace fasttab
