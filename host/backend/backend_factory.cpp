#include <cstdio>

#include "fasttab/backend.hpp"
#include "fasttab/communicator.hpp"
#include "fasttab/error.hpp"

namespace fasttab {
namespace {

// Under mpirun each local rank takes the GPU of its local rank, counted modulo the GPUs it sees (a launcher that
// gives each rank one GPU by CUDA_VISIBLE_DEVICES leaves each one device 0). Two ranks that end up on one GPU are
// refused by NCCL ("duplicate GPU"), which the communicator reports before it ends the job.
int local_device() { return launcher_local_rank() % cuda_device_count(); }

}  // namespace

std::unique_ptr<Backend> make_backend(DeviceChoice choice) {
  switch (choice) {
    case DeviceChoice::cpu: return make_cpu_backend();
    case DeviceChoice::cuda:
      if (cuda_device_count() == 0)
        FASTTAB_FAIL("--device cuda: no CUDA device is visible (no driver or no GPU); use --device cpu or auto");
      return make_cuda_backend(local_device());
    case DeviceChoice::automatic:
      if (cuda_device_count() > 0) return make_cuda_backend(local_device());
      return make_cpu_backend();
  }
  return make_cpu_backend();
}

}  // namespace fasttab
