// The communicators behind make_communicator (include/fasttab/communicator.hpp).
#pragma once

#include <memory>

#include "fasttab/communicator.hpp"

namespace fasttab {

// MPI over MPI_COMM_WORLD (MPI_Init if not yet initialised, MPI_Finalize when destroyed); float buffers in host
// memory (the CPU backend).
std::unique_ptr<Communicator> make_mpi_communicator();
// NCCL for the CUDA backend: gradients reduced by ncclAllReduce on the backend's stream; host collectives and the
// ncclUniqueId's broadcast over MPI.
std::unique_ptr<Communicator> make_nccl_communicator(Backend& backend);

}  // namespace fasttab
