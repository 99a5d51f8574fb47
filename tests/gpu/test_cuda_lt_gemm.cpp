// --gemm cublaslt and cublaslt-timed (cuda/lt_matmul.cuh) on the CUDA backend (their GEMMs against the CPU's are in
// test_cuda_gemm.cpp):
// - a plan per GEMM shape, reported (gemm_plans), timed ones with their times;
// - whole training runs: CUDA Graph replays and the second stream give the same bits as op by op, and resume is bit
//   for bit, under both libraries and every precision.
#include <filesystem>
#include <string>
#include <vector>

#include "fasttab/names.hpp"
#include "fasttab/trainer.hpp"
#include "gpu_test_support.hpp"
#include "test_support.hpp"

using namespace fasttab;
using namespace fasttab::gpu_test;

TEST_CASE("cuda cuBLASLt plans: one per GEMM shape and library, reported, timed plans say what they timed") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto gpu = make_gpu();
  CHECK(gpu->gemm_plans().empty());  // cublas: none
  const int m = 300, n = 300, k = 16384;  // the seed's weight gradient: dW[300, 300] = g^T x over the batch
  BackendBuffer<float> a(*gpu, std::size_t(k) * m, "A"), bm(*gpu, std::size_t(k) * n, "B"), c(*gpu, std::size_t(m) * n, "C");
  gpu->fill(a.data(), 0.5f, a.size());
  gpu->fill(bm.data(), 0.25f, bm.size());
  for (GemmLibrary library : {GemmLibrary::cublaslt, GemmLibrary::cublaslt_timed}) {
    gpu->set_gemm_library(library);
    for (int call = 0; call < 3; ++call)
      gpu->gemm(true, false, m, n, k, 1.0f, a.data(), m, bm.data(), n, 0.0f, c.data(), n);
  }
  gpu->set_gemm_library(GemmLibrary::cublas);
  std::vector<float> result(c.size());
  gpu->copy_to_host(result.data(), c.data(), c.bytes());
  CHECK(result.front() == 0.5f * 0.25f * k);  // exact: sums of a power of two
  CHECK(result.back() == 0.5f * 0.25f * k);
  const std::vector<GemmPlan> plans = gpu->gemm_plans();
  if (std::string(gpu->kind()) != "cuda") return;  // the CPU stand-in (FASTTAB_GPU_TESTS_ON_CPU) makes no plans
  REQUIRE(plans.size() == 2);  // one shape, two libraries: three calls each made one plan
  for (const GemmPlan& p : plans) {
    CAPTURE(p.gemm);
    CAPTURE(p.algorithm);
    CHECK(p.gemm.find("C[300 x 300]") != std::string::npos);
    CHECK(p.candidates >= 1);
    CHECK(p.chosen >= 0);
    CHECK(p.chosen < p.candidates);
    if (p.timed) {
      CHECK(p.ms > 0);
      CHECK(p.ms <= p.heuristic_first_ms);
      MESSAGE("timed: " << p.candidates << " candidates, chose #" << p.chosen << " (" << p.algorithm << ") at "
                        << p.ms << " ms against " << p.heuristic_first_ms << " ms for the heuristic's first");
    } else {
      CHECK(p.chosen == 0);
    }
  }
}

TEST_CASE("cuda --gemm cublaslt and cublaslt-timed: graphs, the second stream and resume give the same bits") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto gpu = make_gpu();
  const std::filesystem::path dir = test::temp_dir("lt_resume");
  auto config = [&](Precision precision, GemmLibrary library) {
    TrainConfig c;
    c.model.hidden = {256, 256, 128};
    c.batch_size = 1024;
    c.epochs = 4;
    c.shuffle = true;
    c.eval_every = 5;
    c.precision = precision;
    c.gemm = library;
    return c;
  };
  const Dataset d = test::synthetic_split(20'000, 4'000, 6);
  for (GemmLibrary library : {GemmLibrary::cublaslt, GemmLibrary::cublaslt_timed})
    for (Precision precision : {Precision::fp32, Precision::tf32, Precision::bf16}) {
      CAPTURE(std::string(name_of(library)));
      CAPTURE(std::string(name_of(precision)));
      // One backend for all: a timed plan is chosen once per backend, so every run here uses the same algorithms.
      TrainConfig c = config(precision, library);
      const TrainResult plain = train(*gpu, c, d);
      c.cuda_graphs = true;
      c.overlap_weight_gradients = true;
      const TrainResult captured = train(*gpu, c, d);
      REQUIRE(captured.evals.size() == plain.evals.size());
      for (std::size_t i = 0; i < plain.evals.size(); ++i) {
        CAPTURE(i);
        CHECK(captured.evals[i].train_loss == plain.evals[i].train_loss);
        CHECK(captured.evals[i].test.loss == plain.evals[i].test.loss);
      }
      CHECK(captured.parameters == plain.parameters);

      TrainConfig first = config(precision, library);
      first.epochs = 2;
      first.save_path = (dir / (std::string(name_of(library)) + "_" + name_of(precision) + ".ckpt")).string();
      train(*gpu, first, d);
      TrainConfig rest = config(precision, library);
      rest.resume_path = first.save_path;
      const TrainResult resumed = train(*gpu, rest, d);
      CHECK(resumed.parameters == plain.parameters);
      CHECK(resumed.final_test.loss == plain.final_test.loss);
      if (std::string(gpu->kind()) == "cuda") CHECK_FALSE(plain.gemm_plans.empty());
    }
}
