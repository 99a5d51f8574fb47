// The NCCL communicator (CUDA backend): the float buffers (gradients, evaluation outputs) are reduced in device
// memory by ncclAllReduce on the backend's stream, in order with its ops and without a host wait; the host
// collectives and the broadcast of the ncclUniqueId go over MPI. Each process already runs on the GPU of its
// local rank (make_backend picks it from OMPI_COMM_WORLD_LOCAL_RANK).
#include <cstdio>
#include <cstdlib>
#include <exception>

#include <cuda_runtime_api.h>
#include <nccl.h>

#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_check.cuh"
#include "cuda/device_scope.cuh"
#include "host/comm/communicators.hpp"

#define NCCL_CHECK(call)                                                                                        \
  do {                                                                                                          \
    const ncclResult_t fasttab_status_ = (call);                                                                \
    if (fasttab_status_ != ncclSuccess)                                                                         \
      FASTTAB_FAIL("NCCL error ", int(fasttab_status_), " (", ncclGetErrorString(fasttab_status_), ") in ",   \
                   #call, " at ", __FILE__, ":", __LINE__);                                                     \
  } while (0)

namespace fasttab {
namespace {

class NcclCommunicator final : public Communicator {
 public:
  // NCCL binds the communicator to the current device: the backend's (its stream's). A rank that cannot set up
  // NCCL ends the whole job with its message (the others would wait in the id's broadcast or in NCCL's bootstrap).
  explicit NcclCommunicator(Backend& backend) : mpi_(make_mpi_communicator()), stream_(cuda_stream(backend)) {
    try {
      CUDA_CHECK(cudaSetDevice(stream_device(stream_)));
      ncclUniqueId id{};
      if (mpi_->rank() == 0) NCCL_CHECK(ncclGetUniqueId(&id));
      mpi_->broadcast(&id, sizeof id, 0);
      NCCL_CHECK(ncclCommInitRank(&comm_, mpi_->size(), id, mpi_->rank()));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rank %d: error: %s\n", mpi_->rank(), e.what());
      std::fflush(stderr);
      abort(1);
    }
  }
  // A communicator with an error pending (a peer failed) is aborted: finalising it would wait for that peer.
  ~NcclCommunicator() override {
    if (!comm_) return;
    ncclResult_t pending = ncclSuccess;
    if (ncclCommGetAsyncError(comm_, &pending) != ncclSuccess || pending != ncclSuccess) {
      ncclCommAbort(comm_);
      return;
    }
    ncclCommFinalize(comm_);
    ncclCommDestroy(comm_);
  }

  const char* kind() const override { return "nccl"; }
  int rank() const override { return mpi_->rank(); }
  int size() const override { return mpi_->size(); }
  void all_reduce_sum(float* values, std::size_t count) override {
    NCCL_CHECK(ncclAllReduce(values, values, count, ncclFloat32, ncclSum, comm_, stream_));
  }
  void all_reduce_sum_host(double* values, std::size_t count) override { mpi_->all_reduce_sum_host(values, count); }
  void all_reduce_sum_host(std::int64_t* values, std::size_t count) override {
    mpi_->all_reduce_sum_host(values, count);
  }
  void broadcast(void* bytes, std::size_t count, int root) override { mpi_->broadcast(bytes, count, root); }
  void barrier() override {
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    mpi_->barrier();
  }
  [[noreturn]] void abort(int code) override {
    if (comm_) ncclCommAbort(comm_);
    comm_ = nullptr;
    mpi_->abort(code);
    std::_Exit(code);  // not reached: MPI_Abort ends the process
  }

 private:
  std::unique_ptr<Communicator> mpi_;
  cudaStream_t stream_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(Backend& backend) {
  return std::make_unique<NcclCommunicator>(backend);
}

}  // namespace fasttab
