#include "fasttab/loader.hpp"

#include <algorithm>

#include "fasttab/error.hpp"
#include "host/loaders.hpp"

namespace fasttab {

Loader::Loader(const LoaderSource& source) : source_(source), batch_size_(source.batch_size) {
  FASTTAB_REQUIRE(source.backend, "a loader needs a backend");
  FASTTAB_REQUIRE(source.batch_size >= 1, "--batch-size ", source.batch_size, " must be >= 1");
  rows_ = source.device_table ? source.device_table->rows : source.host_table ? source.host_table->rows : 0;
  FASTTAB_REQUIRE(rows_ >= source.batch_size, "the training set has ", rows_, " rows, fewer than one batch of ",
                  source.batch_size, "; lower --batch-size, or give it more rows (--rows for the synthetic data; "
                  "with --data a larger table or a smaller --test-rows/--val-rows)");
}

int Loader::rows_in_batch(std::int64_t batch) const {
  return static_cast<int>(std::min<std::int64_t>(batch_size_, rows_ - batch * batch_size_));
}

std::vector<std::string> loader_names() { return {"per-sample", "per-sample-device", "slice", "gather"}; }

bool loader_needs_device_table(const std::string& name) { return name == "gather" || name == "per-sample-device"; }
bool loader_needs_host_table(const std::string& name) { return name == "per-sample" || name == "slice"; }

std::unique_ptr<Loader> make_loader(const std::string& name, const LoaderSource& source) {
  if (name == "gather") return make_gather_loader(source);
  if (name == "per-sample") return make_per_sample_loader(source);
  if (name == "per-sample-device") return make_per_sample_device_loader(source);
  if (name == "slice") return make_slice_loader(source);
  std::string names;
  for (const auto& n : loader_names()) names += (names.empty() ? "" : ", ") + n;
  FASTTAB_FAIL("unknown loader '", name, "'; the loaders are: ", names);
}

}  // namespace fasttab

namespace fasttab {

std::vector<std::uint32_t> host_permutation(Backend& backend, bool shuffle, std::uint64_t seed, std::uint32_t epoch,
                                            std::int64_t rows) {
  std::vector<std::uint32_t> order(static_cast<std::size_t>(rows));
  if (!shuffle) {
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::uint32_t>(i);
    return order;
  }
  BackendBuffer<std::uint32_t> permutation(backend, order.size(), "epoch permutation");
  backend.random_permutation(seed, epoch, static_cast<std::uint32_t>(rows), permutation.data());
  backend.copy_to_host(order.data(), permutation.data(), permutation.bytes());
  return order;
}

}  // namespace fasttab
