// The MPI communicator: MPI_COMM_WORLD, collectives in place on host memory (the CPU backend's memory is host
// memory, so its float buffers are reduced directly).
#include <climits>
#include <cstdio>
#include <cstdlib>

#include "host/comm/communicators.hpp"
#include "host/comm/mpi_check.hpp"

namespace fasttab {
namespace {

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialized = 0;
    MPI_CHECK(MPI_Initialized(&initialized));
    if (!initialized) {
      MPI_CHECK(MPI_Init(nullptr, nullptr));
      owns_mpi_ = true;
    }
    // Errors come back as codes (MPI_CHECK turns them into exceptions) instead of aborting inside MPI.
    MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owns_mpi_ && !finalized) MPI_Finalize();
  }

  const char* kind() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void all_reduce_sum(float* values, std::size_t count) override {
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values, checked_count(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
  }
  void all_reduce_sum_host(double* values, std::size_t count) override {
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values, checked_count(count), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
  }
  void all_reduce_sum_host(std::int64_t* values, std::size_t count) override {
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values, checked_count(count), MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD));
  }
  void broadcast(void* bytes, std::size_t count, int root) override {
    MPI_CHECK(MPI_Bcast(bytes, checked_count(count), MPI_BYTE, root, MPI_COMM_WORLD));
  }
  void barrier() override { MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD)); }
  [[noreturn]] void abort(int code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; this only satisfies [[noreturn]]
  }

 private:
  static int checked_count(std::size_t count) {
    FASTTAB_REQUIRE(count <= std::size_t(INT_MAX), "MPI collective of ", count, " elements: more than an int holds");
    return static_cast<int>(count);
  }
  int rank_ = 0, size_ = 1;
  bool owns_mpi_ = false;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

}  // namespace fasttab
