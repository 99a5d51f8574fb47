// make_communicator: the launcher's environment decides (see communicator.hpp); the single-rank communicator.
#include <cstdlib>
#include <cstring>

#include "fasttab/communicator.hpp"
#include "fasttab/error.hpp"
#include "host/comm/communicators.hpp"

namespace fasttab {
namespace {

int env_int(const char* name, int fallback) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  return (*end == '\0' && value >= 0 && value < (1 << 30)) ? int(value) : fallback;
}

// One rank: every collective leaves the values as they are (the sum over one rank).
class SingleCommunicator final : public Communicator {
 public:
  const char* kind() const override { return "single"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce_sum(float*, std::size_t) override {}
  void all_reduce_sum_host(double*, std::size_t) override {}
  void all_reduce_sum_host(std::int64_t*, std::size_t) override {}
  void broadcast(void*, std::size_t, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
};

}  // namespace

int launcher_world_size() {
  const int ompi = env_int("OMPI_COMM_WORLD_SIZE", -1);
  return ompi >= 1 ? ompi : std::max(1, env_int("PMI_SIZE", 1));
}

int launcher_local_rank() {
  const int ompi = env_int("OMPI_COMM_WORLD_LOCAL_RANK", -1);
  return ompi >= 0 ? ompi : env_int("MPI_LOCALRANKID", 0);
}

std::unique_ptr<Communicator> make_single_communicator() { return std::make_unique<SingleCommunicator>(); }

std::unique_ptr<Communicator> make_communicator(Backend& backend) {
  if (launcher_world_size() <= 1) return make_single_communicator();
  if (std::strcmp(backend.kind(), "cuda") == 0) return make_nccl_communicator(backend);
  return make_mpi_communicator();
}

}  // namespace fasttab
