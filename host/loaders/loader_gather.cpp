// The gather loader: fasttab's own. The table is resident in backend memory; each epoch the backend draws the
// permutation (a radix sort of Philox keys on the GPU) and each batch is one gather kernel from the table into
// a batch buffer. With shuffling off a batch is the contiguous slice of the table itself: nothing is copied.
#include "fasttab/error.hpp"
#include "host/loaders/loaders.hpp"

namespace fasttab {
namespace {

class GatherLoader final : public Loader {
 public:
  explicit GatherLoader(const LoaderSource& source) : Loader(source) {
    FASTTAB_REQUIRE(source.device_table, "the gather loader needs the table in ", source.backend->kind(),
                    " memory; use --loader slice to keep it in host memory");
    const DeviceTable& t = *source.device_table;
    if (source.shuffle) {
      permutation_ = BackendBuffer<std::uint32_t>(*source.backend, std::size_t(t.rows), "epoch permutation");
      batch_features_ = BackendBuffer<float>(*source.backend, std::size_t(batch_size_) * t.ld, "batch buffer");
      batch_labels_ = BackendBuffer<float>(*source.backend, std::size_t(batch_size_), "batch buffer");
    }
  }
  const char* name() const override { return "gather"; }
  bool reuses_batch_buffer() const override { return source_.shuffle; }  // else slices of the table

  void start_epoch(std::uint32_t epoch) override {
    next_ = 0;
    if (source_.shuffle)
      source_.backend->random_permutation(source_.seed, epoch, static_cast<std::uint32_t>(rows_), permutation_.data());
  }

  Batch next_batch() override {
    FASTTAB_REQUIRE(next_ < batches_per_epoch(), "gather loader: the epoch has only ", batches_per_epoch(), " batches");
    const DeviceTable& t = *source_.device_table;
    const std::int64_t first = next_ * batch_size_;
    Batch b;
    b.rows = rows_in_batch(next_++);
    b.ld = t.ld;
    if (!source_.shuffle) {
      b.features = t.features.data() + first * t.ld;
      b.labels = t.labels.data() + first;
      return b;
    }
    source_.backend->gather_rows(t.features.data(), t.ld, t.labels.data(), permutation_.data() + first, b.rows,
                                 batch_features_.data(), batch_labels_.data());
    b.features = batch_features_.data();
    b.labels = batch_labels_.data();
    return b;
  }

 private:
  std::int64_t next_ = 0;
  BackendBuffer<std::uint32_t> permutation_;
  BackendBuffer<float> batch_features_, batch_labels_;
};

}  // namespace

std::unique_ptr<Loader> make_gather_loader(const LoaderSource& source) { return std::make_unique<GatherLoader>(source); }

}  // namespace fasttab
