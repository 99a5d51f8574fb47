// The MLP's analytic gradients against central finite differences of the loss, on the CPU backend.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "fasttab/backend.hpp"
#include "fasttab/model.hpp"
#include "test_support.hpp"

using namespace fasttab;

namespace {

struct Problem {
  MlpSpec spec;
  Task task;
  int rows = 12;
  int ld = 0;
  std::vector<float> x, y;
};

double loss_at(Backend& backend, Mlp& mlp, const Problem& p, const std::vector<float>& params, DropoutKey key) {
  mlp.set_parameters(params);
  const float* out = mlp.forward(p.x.data(), p.ld, p.rows, true, key);
  std::vector<float> grad(std::size_t(p.rows) * p.spec.outputs);
  float loss = 0;
  backend.loss_forward_backward(p.task, out, p.rows, p.spec.outputs, p.spec.outputs, p.y.data(), grad.data(), &loss);
  return loss;
}

// Returns ||analytic - numeric|| / ||numeric|| over all parameters.
double gradient_error(const Problem& p) {
  auto backend = make_cpu_backend(1);
  Mlp mlp(*backend, p.spec, p.rows);
  std::vector<float> params = initial_parameters(p.spec, 99);
  for (auto& w : params) w *= 2.0f;  // larger weights: activations away from the linear regime
  const DropoutKey key{77, 3, 0};

  mlp.set_parameters(params);
  const float* out = mlp.forward(p.x.data(), p.ld, p.rows, true, key);
  std::vector<float> grad_out(std::size_t(p.rows) * p.spec.outputs);
  float loss = 0;
  backend->loss_forward_backward(p.task, out, p.rows, p.spec.outputs, p.spec.outputs, p.y.data(), grad_out.data(), &loss);
  mlp.backward(p.x.data(), p.ld, p.rows, grad_out.data(), key);
  std::vector<float> analytic(params.size());
  backend->copy_to_host(analytic.data(), mlp.gradients(), analytic.size() * sizeof(float));

  std::vector<double> numeric(params.size());
  const float h = 1e-2f;
  for (std::size_t i = 0; i < params.size(); ++i) {
    std::vector<float> plus = params, minus = params;
    plus[i] += h;
    minus[i] -= h;
    numeric[i] = (loss_at(*backend, mlp, p, plus, key) - loss_at(*backend, mlp, p, minus, key)) / (2.0 * h);
  }
  return test::relative_error(analytic, numeric);
}

Problem make_problem(Task task, Activation act, float dropout, int outputs) {
  Problem p;
  p.task = task;
  p.spec.inputs = 5;
  p.spec.hidden = {7, 6};
  p.spec.outputs = outputs;
  p.spec.activation = act;
  p.spec.dropout = dropout;
  p.ld = 8;  // padded rows, as the loaders give them
  p.x = test::random_vector(std::size_t(p.rows) * p.ld, 5, -1.5f, 1.5f);
  p.y.resize(p.rows);
  for (int r = 0; r < p.rows; ++r)
    p.y[r] = task == Task::regression ? std::sin(float(r)) : float(r % (task == Task::multiclass ? outputs : 2));
  return p;
}

}  // namespace

TEST_CASE("gradients match central finite differences: binary, tanh, dropout 0.5") {
  CHECK(gradient_error(make_problem(Task::binary, Activation::tanh, 0.5f, 1)) < 2e-3);
}
TEST_CASE("gradients match central finite differences: binary, tanh, no dropout") {
  CHECK(gradient_error(make_problem(Task::binary, Activation::tanh, 0.0f, 1)) < 2e-3);
}
TEST_CASE("gradients match central finite differences: multiclass, tanh, dropout 0.3") {
  CHECK(gradient_error(make_problem(Task::multiclass, Activation::tanh, 0.3f, 4)) < 2e-3);
}
TEST_CASE("gradients match central finite differences: regression, relu") {
  // ReLU's kink can sit inside the +-h interval for a few units: a looser bound.
  CHECK(gradient_error(make_problem(Task::regression, Activation::relu, 0.0f, 1)) < 2e-2);
}

// Categorical inputs: columns 1 and 3 of x hold codes (0 missing, 1 unseen, 2..); every embedding row that some
// row of the batch uses gets a gradient, checked like the weights'. Rows absent from the batch must get exactly 0.
TEST_CASE("gradients match central finite differences: embeddings of two categorical columns") {
  Problem p = make_problem(Task::binary, Activation::tanh, 0.3f, 1);
  p.spec.embeddings = {EmbeddingSpec{1, 6, 3}, EmbeddingSpec{3, 4, 2}};
  for (int r = 0; r < p.rows; ++r) {
    p.x[std::size_t(r) * p.ld + 1] = float(r % 5);  // code 5 of column 1 is never used
    p.x[std::size_t(r) * p.ld + 3] = r == 7 ? std::nanf("") : float((r * 3) % 4);  // a NaN reads row 0
  }
  CHECK(p.spec.input_width() == 5 - 2 + 3 + 2);
  CHECK(gradient_error(p) < 2e-3);

  auto backend = make_cpu_backend(1);
  Mlp mlp(*backend, p.spec, p.rows);
  mlp.set_parameters(initial_parameters(p.spec, 5));
  const float* out = mlp.forward(p.x.data(), p.ld, p.rows, true, DropoutKey{1, 1, 0});
  std::vector<float> grad_out(std::size_t(p.rows)), g(p.spec.parameter_count());
  float loss = 0;
  backend->loss_forward_backward(p.task, out, p.rows, 1, 1, p.y.data(), grad_out.data(), &loss);
  mlp.backward(p.x.data(), p.ld, p.rows, grad_out.data(), DropoutKey{1, 1, 0});
  backend->copy_to_host(g.data(), mlp.gradients(), g.size() * sizeof(float));
  const std::size_t unused_row = p.spec.embedding_offset(0) + 5 * 3;
  for (int k = 0; k < 3; ++k) CHECK(g[unused_row + k] == 0.0f);
  CHECK(g[p.spec.embedding_offset(0) + 2 * 3] != 0.0f);
}
