#include <cstdio>

#include "fasttab/backend.hpp"
#include "fasttab/error.hpp"

namespace fasttab {

std::unique_ptr<Backend> make_backend(DeviceChoice choice) {
  switch (choice) {
    case DeviceChoice::cpu: return make_cpu_backend();
    case DeviceChoice::cuda:
      if (cuda_device_count() == 0)
        FASTTAB_FAIL("--device cuda: no CUDA device is visible (no driver or no GPU); use --device cpu or auto");
      return make_cuda_backend(0);
    case DeviceChoice::automatic:
      if (cuda_device_count() > 0) return make_cuda_backend(0);
      return make_cpu_backend();
  }
  return make_cpu_backend();
}

}  // namespace fasttab
