// The weight gradients on a second stream (--overlap-weight-gradients; Backend::on_side_queue on CUDA: a second
// stream with its own cuBLAS handle and workspace, ordered by events). Each GEMM runs on the same operands with
// the same algorithm (every handle has the same fixed workspace), so the bound is 0: the gradients, the losses and
// the weights of a run are the same bits with and without the side stream, op by op and captured as a CUDA Graph
// (the side stream joins the capture through the events). The CPU side: tests/cpu/model/test_overlap.cpp.
#include <string>
#include <vector>

#include "fasttab/names.hpp"
#include "fasttab/trainer.hpp"
#include "gpu_test_support.hpp"
#include "test_support.hpp"

using namespace fasttab;

TEST_CASE("cuda weight gradients on a second stream: the same gradients bit for bit, every precision, padded or not") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto gpu = gpu_test::make_gpu();
  MlpSpec spec;  // the seed's 21-300-300-300-300-1, tanh, dropout 0.5
  const int rows = 4096, ld = 24;
  const std::vector<float> x = gpu_test::random_floats(std::size_t(rows) * ld, 31, -2.0f, 2.0f);
  std::vector<float> y(rows);
  for (int r = 0; r < rows; ++r) y[r] = x[std::size_t(r) * ld + 2] > 0 ? 1.0f : 0.0f;
  const BackendBuffer<float> bx = gpu_test::upload(*gpu, x), by = gpu_test::upload(*gpu, y);
  BackendBuffer<float> grad(*gpu, std::size_t(rows), "output gradients"), loss(*gpu, 1, "loss");
  for (Precision precision : {Precision::fp32, Precision::tf32, Precision::bf16}) {
    for (int pad : {1, 64}) {
      CAPTURE(std::string(name_of(precision)));
      CAPTURE(pad);
      gpu->set_precision(precision);
      std::vector<float> gradients[2];
      for (int overlap = 0; overlap < 2; ++overlap) {
        Mlp mlp(*gpu, spec, rows, precision, pad);
        mlp.set_overlap_weight_gradients(overlap == 1);
        mlp.set_parameters(initial_parameters(spec, 3));
        const DropoutKey key{4, 1, 0};
        for (int pass = 0; pass < 3; ++pass) {  // the same pass again: a late side stream would show as a change
          const float* out = mlp.forward(bx.data(), ld, rows, true, key);
          gpu->loss_forward_backward(Task::binary, out, rows, 1, 1, by.data(), grad.data(), loss.data());
          mlp.backward(bx.data(), ld, rows, grad.data(), key);
        }
        gradients[overlap].resize(mlp.parameter_count());
        gpu->copy_to_host(gradients[overlap].data(), mlp.gradients(), gradients[overlap].size() * sizeof(float));
      }
      CHECK(gradients[1] == gradients[0]);
    }
  }
  gpu->set_precision(Precision::fp32);
}

TEST_CASE("cuda --overlap-weight-gradients: the same run bit for bit, op by op and as a CUDA Graph") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto gpu = gpu_test::make_gpu();
  auto run = [&](Precision precision, bool overlap, bool graphs) {
    Dataset d = test::synthetic_split(20'000, 4'000, 6);
    TrainConfig c;
    c.model.hidden = {256, 256, 128};
    c.batch_size = 1024;
    c.epochs = 2;
    c.shuffle = true;
    c.eval_every = 5;
    c.precision = precision;
    c.overlap_weight_gradients = overlap;
    c.cuda_graphs = graphs;
    return train(*gpu, c, d);
  };
  for (Precision precision : {Precision::fp32, Precision::tf32, Precision::bf16}) {
    CAPTURE(std::string(name_of(precision)));
    const TrainResult plain = run(precision, false, false), overlapped = run(precision, true, false),
                      captured = run(precision, true, true);
    REQUIRE(overlapped.evals.size() == plain.evals.size());
    REQUIRE(captured.evals.size() == plain.evals.size());
    for (std::size_t i = 0; i < plain.evals.size(); ++i) {
      CAPTURE(i);
      CHECK(overlapped.evals[i].train_loss == plain.evals[i].train_loss);
      CHECK(overlapped.evals[i].test.loss == plain.evals[i].test.loss);
      CHECK(captured.evals[i].train_loss == plain.evals[i].train_loss);
    }
    CHECK(overlapped.parameters == plain.parameters);
    CHECK(captured.parameters == plain.parameters);
  }
}
