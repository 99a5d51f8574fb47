#include <cstdio>

#include "fasttab/backend.hpp"
#include "fasttab/communicator.hpp"
#include "fasttab/error.hpp"

namespace fasttab {
namespace {

// Under mpirun each local rank takes its own GPU. NCCL refuses two ranks of one job on one GPU, so a machine given
// more ranks than it has GPUs is refused here, saying so.
int local_device() {
  const int local_rank = launcher_local_rank(), devices = cuda_device_count();
  FASTTAB_REQUIRE(launcher_world_size() <= 1 || local_rank < devices, "local rank ", local_rank, " of this machine "
                  "has no GPU of its own: it has ", devices, " visible GPU(s), and NCCL runs one rank per GPU. Start "
                  "at most ", devices, " rank(s) on it (mpirun -np ", devices, ", or -H host:", devices, "), or train "
                  "on the CPU backend (--device cpu)");
  return launcher_world_size() <= 1 ? 0 : local_rank;
}

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
