// Loaders: where each training batch comes from. The trainer consumes this interface only.
//
// Every loader yields, for the same (seed, epoch), the same batches: the permutation
// reference::random_permutation(seed, epoch, rows) when shuffling (the identity otherwise), cut into
// consecutive batches of batch_size rows (the last one shorter). They differ in where the table lives and how
// the rows reach the backend:
//   gather             the table resident in backend memory; one device permutation per epoch, one gather kernel
//                      per batch (with shuffling off, a batch is a view of the table: no copy at all)
//   per-sample         host table; each sample fetched on its own and collated (PyTorch's DataLoader pattern)
//   per-sample-device  resident table; one small device copy per sample
//   slice              host table permuted once per epoch; contiguous slices copied from pinned memory
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fasttab/backend.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/table.hpp"

namespace fasttab {

// A batch in backend memory: features[rows, ld] and labels[rows].
struct Batch {
  const float* features = nullptr;
  const float* labels = nullptr;
  int rows = 0;
  int ld = 0;
};

struct LoaderSource {
  Backend* backend = nullptr;
  const Table* host_table = nullptr;         // for loaders that read host memory
  const DeviceTable* device_table = nullptr; // for loaders that read the resident table
  std::int64_t rows = -1;                    // the table's first `rows` rows (-1: all of them)
  int batch_size = 16384;
  bool shuffle = false;
  std::uint64_t seed = 1;
};

class Loader {
 public:
  explicit Loader(const LoaderSource& source);
  virtual ~Loader() = default;
  virtual const char* name() const = 0;
  // Prepares epoch `epoch` (the permutation when shuffling) and rewinds to its first batch.
  virtual void start_epoch(std::uint32_t epoch) = 0;
  // The next batch of the epoch. Its memory stays valid, and unchanged, for the work the caller enqueues on
  // the backend before the next call.
  virtual Batch next_batch() = 0;
  // Whether every batch of the run is in the same buffer (the same features and labels pointers for a given row
  // count), so that a captured step can read it there; else the step copies each batch into a buffer of its own.
  virtual bool reuses_batch_buffer() const { return false; }

  std::int64_t rows() const { return rows_; }
  int batch_size() const { return batch_size_; }
  std::int64_t batches_per_epoch() const { return (rows_ + batch_size_ - 1) / batch_size_; }
  int rows_in_batch(std::int64_t batch) const;

 protected:
  LoaderSource source_;
  std::int64_t rows_ = 0;
  int batch_size_ = 0;
};

// The loader registry: each loader's name, what it is, which table it reads and its constructor, in the order
// compare_loaders runs them.
enum class LoaderTable { host, device };
struct LoaderInfo {
  const char* name;
  const char* help;
  LoaderTable table;  // the resident (device) table, or the host table
  std::unique_ptr<Loader> (*make)(const LoaderSource& source);
};
const std::vector<LoaderInfo>& loader_registry();
// The entry named `name`; throws Error naming the loaders for an unknown name.
const LoaderInfo& find_loader(const std::string& name);
void require_loader_name(const std::string& name);

std::vector<std::string> loader_names();
bool loader_needs_device_table(const std::string& name);
bool loader_needs_host_table(const std::string& name);
std::unique_ptr<Loader> make_loader(const std::string& name, const LoaderSource& source);

}  // namespace fasttab
