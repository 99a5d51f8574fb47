// Communicator: the ranks of a data-parallel run and the collectives the trainer needs.
//
// One process per rank, started by a launcher (mpirun). make_communicator() picks the implementation from the
// launcher's environment: OMPI_COMM_WORLD_SIZE (or PMI_SIZE) present and > 1 -> MPI for the CPU backend, NCCL
// for the CUDA backend (its unique id sent by MPI_Bcast); otherwise a single rank, where every collective is a
// no-op. MPI_Init is called only when a launcher started the process, so `build/train` alone runs as before.
//
// Collectives are called by every rank in the same order with the same counts (what MPI and NCCL require).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fasttab/backend.hpp"

namespace fasttab {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual const char* kind() const = 0;  // "single", "mpi" or "nccl"
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // In place: values[i] = sum over ranks of values[i]. `values` is in the backend's memory (device memory for
  // CUDA), enqueued in stream order there; on the CPU it returns when done.
  virtual void all_reduce_sum(float* values, std::size_t count) = 0;
  // In place, host memory; returns when done.
  virtual void all_reduce_sum_host(double* values, std::size_t count) = 0;
  virtual void all_reduce_sum_host(std::int64_t* values, std::size_t count) = 0;
  // root's bytes copied into every rank's `bytes` (host memory).
  virtual void broadcast(void* bytes, std::size_t count, int root) = 0;
  virtual void barrier() = 0;
  // Ends every rank of the job with `code` (MPI_Abort); the single rank just exits.
  [[noreturn]] virtual void abort(int code) = 0;
};

// The communicator for this process and backend (see above). Call once, before anything else collective.
std::unique_ptr<Communicator> make_communicator(Backend& backend);
// The single-rank communicator (also what make_communicator returns without a launcher).
std::unique_ptr<Communicator> make_single_communicator();

// The launcher's view of this process, read from the environment (OpenMPI's OMPI_COMM_WORLD_*, else PMI_*):
// 1 and 0 when not launched by mpirun.
int launcher_world_size();
int launcher_local_rank();

}  // namespace fasttab
