// The slice loader's CUDA side: the permuted training table in pinned (page-locked) host memory, a copy stream,
// and two device batch buffers filled in turn, so that the host-to-device copy of batch i+1 runs on the copy
// stream while the compute stream trains on batch i.
//
// Ordering, with k = the buffer of a batch (batches alternate between buffers 0 and 1):
//   copy of batch j into k   waits (copy stream) for consumed[k]: recorded on the compute stream when the
//                            batch that last used k was handed back, i.e. after its training step was enqueued;
//   copied[k]                recorded on the copy stream after that copy;
//   training on batch j      waits (compute stream) for copied[k] before its first kernel.
// A batch is handed back at the next call of next_batch(): Loader's contract is that the caller enqueues all
// work on a batch before asking for the next one.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

namespace fasttab {

class PinnedSliceCopier {
 public:
  // Pins rows * ld floats of features and rows floats of labels, and creates the copy stream and the events.
  // device_features[k] (batch_rows * ld floats) and device_labels[k] (batch_rows floats) are the two batch
  // buffers, in device memory owned by the caller. Throws Error when pinning fails, naming the bytes.
  PinnedSliceCopier(cudaStream_t compute, std::int64_t rows, int ld, int batch_rows, float* const device_features[2],
                    float* const device_labels[2]);
  ~PinnedSliceCopier();
  PinnedSliceCopier(const PinnedSliceCopier&) = delete;
  PinnedSliceCopier& operator=(const PinnedSliceCopier&) = delete;

  // The pinned table, rows x ld (row-major) and rows labels, for the host to write before start_epoch().
  float* host_features() { return host_features_; }
  float* host_labels() { return host_labels_; }
  // Waits until no copy reads the pinned table, so that the host may rewrite it (the next epoch's permutation).
  void wait_for_copies();

  // Rewinds to row 0 and starts the copy of the first batch (rows_in_first rows).
  void start_epoch(int rows_in_first);
  // Hands back the previous batch, makes the compute stream wait for the current one, starts the copy of the
  // next one (rows_in_next rows; 0 when the epoch has no more) and returns the buffer holding the current one.
  int next_batch(int rows_in_next);

  const float* device_features(int buffer) const { return device_features_[buffer]; }
  const float* device_labels(int buffer) const { return device_labels_[buffer]; }

 private:
  void start_copy(int buffer, std::int64_t first_row, int rows);
  void release() noexcept;

  cudaStream_t compute_ = nullptr;
  int device_ = 0;  // compute_'s: made current for each call (DeviceScope)
  cudaStream_t copy_ = nullptr;
  cudaEvent_t copied_[2] = {nullptr, nullptr};
  cudaEvent_t consumed_[2] = {nullptr, nullptr};
  float* host_features_ = nullptr;
  float* host_labels_ = nullptr;
  float* device_features_[2] = {nullptr, nullptr};
  float* device_labels_[2] = {nullptr, nullptr};
  std::int64_t rows_ = 0;
  int ld_ = 0;
  int batch_rows_ = 0;
  std::int64_t next_row_ = 0;  // the first row of the next copy to start
  int ready_ = 0;              // the buffer of the next batch to hand out
  int handed_out_ = -1;        // the buffer of the batch handed out last (-1: none yet)
};

}  // namespace fasttab
