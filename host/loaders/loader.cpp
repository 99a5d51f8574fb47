// The loader registry: each loader's name, what it reads and its constructor, in the order compare_loaders runs
// them. Everything that checks a loader name or asks what a loader needs reads this one table.
#include "host/loaders/loader.hpp"

#include <algorithm>

#include "fasttab/error.hpp"
#include "host/loaders/loaders.hpp"

namespace fasttab {

Loader::Loader(const LoaderSource& source) : source_(source), batch_size_(source.batch_size) {
  FASTTAB_REQUIRE(source.backend, "a loader needs a backend");
  FASTTAB_REQUIRE(source.batch_size >= 1, "--batch-size ", source.batch_size, " must be >= 1");
  const std::int64_t table_rows = source.device_table ? source.device_table->rows
                                  : source.host_table ? source.host_table->rows
                                                      : 0;
  rows_ = source.rows >= 0 ? std::min(source.rows, table_rows) : table_rows;
  FASTTAB_REQUIRE(rows_ >= source.batch_size, "the training set has ", rows_, " rows, fewer than one batch of ",
                  source.batch_size, "; lower --batch-size");
}

int Loader::rows_in_batch(std::int64_t batch) const {
  return static_cast<int>(std::min<std::int64_t>(batch_size_, rows_ - batch * batch_size_));
}

const std::vector<LoaderInfo>& loader_registry() {
  static const std::vector<LoaderInfo> registry = {
      {"per-sample", "fetch and collate one sample at a time from host memory (PyTorch's DataLoader pattern)",
       LoaderTable::host, make_per_sample_loader},
      {"per-sample-device", "one small device copy per sample from the resident table", LoaderTable::device,
       make_per_sample_device_loader},
      {"slice", "contiguous slices of the host table, copied from pinned memory on a copy stream",
       LoaderTable::host, make_slice_loader},
      {"gather", "the table resident in backend memory; one gather kernel per batch (default)", LoaderTable::device,
       make_gather_loader}};
  return registry;
}

const LoaderInfo& find_loader(const std::string& name) {
  for (const LoaderInfo& info : loader_registry())
    if (name == info.name) return info;
  std::string names;
  for (const LoaderInfo& info : loader_registry()) names += (names.empty() ? "" : ", ") + std::string(info.name);
  FASTTAB_FAIL("--loader: unknown loader '", name, "'; the loaders are: ", names);
}

void require_loader_name(const std::string& name) { find_loader(name); }

std::vector<std::string> loader_names() {
  std::vector<std::string> names;
  for (const LoaderInfo& info : loader_registry()) names.push_back(info.name);
  return names;
}

bool loader_needs_device_table(const std::string& name) { return find_loader(name).table == LoaderTable::device; }
bool loader_needs_host_table(const std::string& name) { return find_loader(name).table == LoaderTable::host; }

std::unique_ptr<Loader> make_loader(const std::string& name, const LoaderSource& source) {
  return find_loader(name).make(source);
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
