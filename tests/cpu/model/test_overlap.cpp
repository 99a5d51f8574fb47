// The side queue (Backend::on_side_queue) and the weight gradients on it (Mlp::set_overlap_weight_gradients,
// --overlap-weight-gradients). The CPU backend runs side work at the join, after every main-queue op enqueued
// since: the latest a second stream could run it. A backward pass that let a later op overwrite what a weight
// gradient reads (a gradient buffer shared between layers, say) would then give other gradients than without
// overlap, which the tests below compare bit for bit.
#include <doctest/doctest.h>

#include <vector>

#include "fasttab/backend.hpp"
#include "fasttab/model.hpp"
#include "fasttab/names.hpp"
#include "fasttab/trainer.hpp"
#include "test_support.hpp"

using namespace fasttab;

TEST_CASE("the CPU backend's side queue runs its work at the join, after the main-queue work enqueued since") {
  auto backend = make_cpu_backend(1);
  BackendBuffer<float> value(*backend, 1, "value");
  backend->fill(value.data(), 1.0f, 1);
  float seen = 0;
  const float* at = value.data();
  backend->on_side_queue([at, &seen] { seen = *at; });
  backend->fill(value.data(), 5.0f, 1);  // main queue, after the side work was enqueued
  CHECK(seen == 0.0f);                   // not run yet
  backend->join_side_queue();
  CHECK(seen == 5.0f);
  backend->on_side_queue([&seen] { seen = -1.0f; });
  backend->synchronize();  // waits for the side queue too
  CHECK(seen == -1.0f);
  backend->join_side_queue();  // nothing left: no second run
  CHECK(seen == -1.0f);
}

TEST_CASE("weight gradients on the side queue: the same gradients bit for bit, every precision, padded or not") {
  for (Precision precision : {Precision::fp32, Precision::tf32, Precision::bf16}) {
    for (int pad : {1, 8}) {
      for (bool embeddings : {false, true}) {
        CAPTURE(std::string(name_of(precision)));
        CAPTURE(pad);
        CAPTURE(embeddings);
        MlpSpec spec;
        spec.inputs = 12;
        spec.hidden = {30, 21, 17};
        spec.outputs = 2;
        spec.dropout = 0.3f;
        if (embeddings) spec.embeddings = {EmbeddingSpec{4, 6, 3}};
        const int rows = 33, ld = 12;
        std::vector<float> x = test::random_vector(std::size_t(rows) * ld, 5, -2.0f, 2.0f), labels;
        for (int r = 0; r < rows; ++r) {
          if (embeddings) x[std::size_t(r) * ld + 4] = float(r % 6);
          labels.push_back(float(r % 2));
        }
        auto pass = [&](bool overlap) {
          auto backend = make_cpu_backend(1);
          Mlp mlp(*backend, spec, rows, precision, pad);
          mlp.set_overlap_weight_gradients(overlap);
          mlp.set_parameters(initial_parameters(spec, 8));
          const DropoutKey key{2, 7, 0};
          const float* out = mlp.forward(x.data(), ld, rows, true, key);
          std::vector<float> grad(std::size_t(rows) * spec.outputs);
          float loss = 0;
          backend->loss_forward_backward(Task::multiclass, out, rows, spec.outputs, spec.outputs, labels.data(),
                                         grad.data(), &loss);
          mlp.backward(x.data(), ld, rows, grad.data(), key);
          std::vector<float> gradients(mlp.parameter_count());
          backend->copy_to_host(gradients.data(), mlp.gradients(), gradients.size() * sizeof(float));
          return gradients;
        };
        const std::vector<float> plain = pass(false), overlapped = pass(true);
        CHECK(test::relative_error(plain, std::vector<float>(plain.size(), 0.0f)) > 0);  // not vacuous
        CHECK(overlapped == plain);
      }
    }
  }
}

TEST_CASE("--overlap-weight-gradients trains the same run bit for bit, op by op and captured") {
  auto run = [](bool overlap, bool graphs) {
    Dataset d = test::synthetic_split(6'000, 1'000, 4);
    TrainConfig c;
    c.model.hidden = {40, 24};
    c.model.dropout = 0.2f;
    c.batch_size = 300;
    c.epochs = 2;
    c.eval_every = 7;
    c.shuffle = true;
    c.overlap_weight_gradients = overlap;
    c.cuda_graphs = graphs;
    auto backend = make_cpu_backend();
    return train(*backend, c, d);
  };
  const TrainResult plain = run(false, false), overlapped = run(true, false), captured = run(true, true);
  REQUIRE(plain.evals.size() == overlapped.evals.size());
  for (std::size_t i = 0; i < plain.evals.size(); ++i) {
    CAPTURE(i);
    CHECK(overlapped.evals[i].train_loss == plain.evals[i].train_loss);
    CHECK(captured.evals[i].train_loss == plain.evals[i].train_loss);
  }
  CHECK(overlapped.parameters == plain.parameters);
  CHECK(captured.parameters == plain.parameters);
}
