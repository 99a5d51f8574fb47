// See pinned_slice_copier.cuh for the ordering of the two streams.
#include "cuda/pinned_slice_copier.cuh"

#include "cuda/cuda_check.cuh"
#include "cuda/device_scope.cuh"

namespace fasttab {
namespace {

// Page-locked host memory, or an Error that says how much and what to do instead.
float* pin_host_floats(std::size_t count, const char* what) {
  void* p = nullptr;
  const cudaError_t status = cudaHostAlloc(&p, count * sizeof(float), cudaHostAllocDefault);
  if (status != cudaSuccess) {
    cudaGetLastError();  // an allocation failure is not sticky: clear it so that later calls do not see it
    FASTTAB_FAIL("the slice loader could not pin ", count * sizeof(float), " bytes of host memory for the ", what,
                 " (", cudaGetErrorString(status), "); use --loader gather to keep the table in device memory, or "
                 "fewer --rows");
  }
  return static_cast<float*>(p);
}

}  // namespace

PinnedSliceCopier::PinnedSliceCopier(cudaStream_t compute, std::int64_t rows, int ld, int batch_rows,
                                     float* const device_features[2], float* const device_labels[2])
    : compute_(compute), device_(stream_device(compute)), rows_(rows), ld_(ld), batch_rows_(batch_rows) {
  const DeviceScope scope(device_);  // the copy stream and the events on the compute stream's device
  FASTTAB_REQUIRE(rows >= 1 && ld >= 1 && batch_rows >= 1, "PinnedSliceCopier: rows ", rows, ", ld ", ld,
                  ", batch rows ", batch_rows);
  for (int k = 0; k < 2; ++k) {
    FASTTAB_REQUIRE(device_features[k] && device_labels[k], "PinnedSliceCopier: batch buffer ", k, " is null");
    device_features_[k] = device_features[k];
    device_labels_[k] = device_labels[k];
  }
  try {
    host_features_ = pin_host_floats(std::size_t(rows) * std::size_t(ld), "training features");
    host_labels_ = pin_host_floats(std::size_t(rows), "training labels");
    CUDA_CHECK(cudaStreamCreateWithFlags(&copy_, cudaStreamNonBlocking));
    for (int k = 0; k < 2; ++k) {
      CUDA_CHECK(cudaEventCreateWithFlags(&copied_[k], cudaEventDisableTiming));
      CUDA_CHECK(cudaEventCreateWithFlags(&consumed_[k], cudaEventDisableTiming));
    }
  } catch (...) {
    release();  // frees what was made; every handle not made is still null
    throw;
  }
}

PinnedSliceCopier::~PinnedSliceCopier() { release(); }

void PinnedSliceCopier::release() noexcept {
  // No error can be reported from here: a failed call leaks at worst.
  const DeviceScope scope(device_, std::nothrow);
  if (copy_) cudaStreamSynchronize(copy_);  // no copy may still read the pinned table or write a batch buffer
  for (int k = 0; k < 2; ++k) {
    if (copied_[k]) cudaEventDestroy(copied_[k]);
    if (consumed_[k]) cudaEventDestroy(consumed_[k]);
    copied_[k] = consumed_[k] = nullptr;
  }
  if (copy_) cudaStreamDestroy(copy_);
  if (host_features_) cudaFreeHost(host_features_);
  if (host_labels_) cudaFreeHost(host_labels_);
  copy_ = nullptr;
  host_features_ = host_labels_ = nullptr;
  cudaGetLastError();
}

void PinnedSliceCopier::wait_for_copies() {
  const DeviceScope scope(device_);
  CUDA_CHECK(cudaStreamSynchronize(copy_));
}

void PinnedSliceCopier::start_copy(int buffer, std::int64_t first_row, int rows) {
  const DeviceScope scope(device_);
  FASTTAB_REQUIRE(rows >= 1 && rows <= batch_rows_ && first_row >= 0 && first_row + rows <= rows_,
                  "PinnedSliceCopier: rows [", first_row, ", ", first_row + rows, ") of ", rows_,
                  " in batches of ", batch_rows_);
  // The buffer's previous batch must be trained on before it is overwritten. An event never recorded (the
  // buffer's first use) makes this wait a no-op.
  CUDA_CHECK(cudaStreamWaitEvent(copy_, consumed_[buffer], 0));
  CUDA_CHECK(cudaMemcpyAsync(device_features_[buffer], host_features_ + first_row * ld_,
                             std::size_t(rows) * std::size_t(ld_) * sizeof(float), cudaMemcpyHostToDevice, copy_));
  CUDA_CHECK(cudaMemcpyAsync(device_labels_[buffer], host_labels_ + first_row, std::size_t(rows) * sizeof(float),
                             cudaMemcpyHostToDevice, copy_));
  CUDA_CHECK(cudaEventRecord(copied_[buffer], copy_));
}

void PinnedSliceCopier::start_epoch(int rows_in_first) {
  const DeviceScope scope(device_);
  // A batch prefetched and never handed out is simply overwritten: its copy comes first in the copy stream.
  next_row_ = 0;
  start_copy(ready_, next_row_, rows_in_first);
  next_row_ += rows_in_first;
}

int PinnedSliceCopier::next_batch(int rows_in_next) {
  const DeviceScope scope(device_);
  // The caller has enqueued all its work on the previous batch: its buffer is free once that work is done.
  if (handed_out_ >= 0) CUDA_CHECK(cudaEventRecord(consumed_[handed_out_], compute_));
  const int current = ready_;
  CUDA_CHECK(cudaStreamWaitEvent(compute_, copied_[current], 0));
  handed_out_ = current;
  ready_ = 1 - current;
  if (rows_in_next > 0) {
    start_copy(ready_, next_row_, rows_in_next);
    next_row_ += rows_in_next;
  }
  return current;
}

}  // namespace fasttab
