// NCCL inside the training loop, one rank (no mpirun needed: MPI starts as a singleton): the data-parallel path
// (the whole batch as rank 0's slice, the gradients, batch losses and evaluation outputs all-reduced by NCCL on
// the backend's stream) gives the same losses, bit for bit, as the run without a communicator. Runs on a GPU
// machine only; the runs over several GPUs need mpirun (docs/scaling.md).
#include <cstring>

#include "fasttab/communicator.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/synthetic.hpp"
#include "fasttab/trainer.hpp"
#include "gpu_test_support.hpp"
#include "host/comm/communicators.hpp"

using namespace fasttab;

TEST_CASE("NCCL with one rank inside the training loop: the same losses as without a communicator") {
#if defined(FASTTAB_GPU_TESTS_ON_CPU)
  std::cout << "FASTTAB_TEST_SKIPPED: NCCL needs the CUDA backend" << std::endl;
  return;
#endif
  FASTTAB_REQUIRE_CUDA_DEVICE();
  SyntheticSpec spec;
  spec.rows = 40000;
  SyntheticData data = make_synthetic(spec);
  const Dataset d = split_train_test(std::move(data.table), 4000, "synthetic");
  TrainConfig c;
  c.model.hidden = {64, 64};
  c.model.dropout = 0.2f;
  c.batch_size = 1024;
  c.epochs = 2;
  c.shuffle = true;
  c.eval_every = 10;
  auto backend = make_cuda_backend(0);
  const TrainResult plain = train(*backend, c, d);
  std::unique_ptr<Communicator> nccl = make_nccl_communicator(*backend);
  REQUIRE(std::strcmp(nccl->kind(), "nccl") == 0);
  REQUIRE(nccl->size() == 1);
  const TrainResult through_nccl = train(*backend, c, d, nullptr, nccl.get());
  REQUIRE(plain.epochs.size() == through_nccl.epochs.size());
  for (std::size_t e = 0; e < plain.epochs.size(); ++e) {
    CHECK(plain.epochs[e].train_loss == through_nccl.epochs[e].train_loss);
    CHECK(plain.epochs[e].test.loss == through_nccl.epochs[e].test.loss);
    CHECK(plain.epochs[e].test.auc == through_nccl.epochs[e].test.auc);
  }
  CHECK(plain.parameters == through_nccl.parameters);
}
