// The MLP's backward pass (weights and biases, through tanh / relu and dropout: the element-wise ops of
// cuda/ops/bias_activation.cu and backward_bias_gradient.cu, the loss of cuda/ops/loss.cu and the cuBLAS GEMMs)
// against central finite differences of the loss, on each backend: the CPU and the CUDA one.
//
// Float32 finite differences need care: the loss is a float (the mean of double per-row losses, rounded), so a
// difference of two losses carries about 2 ulp(loss) ~ 1e-7 of rounding, i.e. ~5e-6 in a gradient estimated
// with 2h = 0.02; the truncation error of the central difference is O(h^2) ~ 1e-4 relative. A small model
// (5 -> 7 -> 6 -> outputs, 12 rows) keeps every gradient of order 1e-2 or more, and larger weights keep the
// activations out of the linear regime. Hence ||analytic - numeric|| / ||numeric|| <= 2e-3 (the CPU test's
// bound, tests/cpu/test_gradients.cpp); with ReLU a kink can sit inside +-h for a few units: 2e-2. ReLU with
// dropout is left to the op registry (element-wise against the CPU): its kinks gave 2.5e-2 to 7e-2 here. Dropout
// masks are the same Philox draws in the forward and the backward pass, and on both backends.
// With embeddings (cuda/ops/embedding.cu), two of the five input columns hold category codes (one code absent
// from the batch, one out of range, one NaN): the tables' gradients are checked with the rest.
#include <cmath>

#include "fasttab/model.hpp"
#include "gpu_test_support.hpp"

using namespace fasttab;
using namespace fasttab::gpu_test;

namespace {

struct Problem {
  MlpSpec spec;
  Task task = Task::binary;
  int rows = 12;
  int ld = 8;  // padded rows, as the loaders give them
  std::vector<float> x, y;
};

Problem make_problem(Task task, Activation act, float dropout, int outputs, bool embeddings) {
  Problem p;
  p.task = task;
  p.spec.inputs = 5;
  p.spec.hidden = {7, 6};
  p.spec.outputs = outputs;
  p.spec.activation = act;
  p.spec.dropout = dropout;
  p.x = random_floats(static_cast<std::size_t>(p.rows) * p.ld, 5, -1.5f, 1.5f);
  p.y.resize(static_cast<std::size_t>(p.rows));
  for (int r = 0; r < p.rows; ++r)
    p.y[r] = task == Task::regression ? std::sin(float(r)) : float(r % (task == Task::multiclass ? outputs : 2));
  if (embeddings) {
    // Column 1: codes r % 4 of a 4-row table; column 3: codes (5r) % 7 of an 8-row table (code 7 absent: a zero
    // gradient), row 2's NaN (missing: row 0) and row 7's 9.0 (out of range: row 1, unseen).
    p.spec.embeddings = {{1, 4, 3}, {3, 8, 2}};
    for (int r = 0; r < p.rows; ++r) {
      p.x[static_cast<std::size_t>(r) * p.ld + 1] = static_cast<float>(r % 4);
      p.x[static_cast<std::size_t>(r) * p.ld + 3] = static_cast<float>((5 * r) % 7);
    }
    p.x[2 * static_cast<std::size_t>(p.ld) + 3] = kNaN;
    p.x[7 * static_cast<std::size_t>(p.ld) + 3] = 9.0f;
  }
  return p;
}

// The loss at `params`; with `analytic`, also the backward pass's parameter gradients.
float loss_at(Backend& backend, Mlp& mlp, const Problem& p, const BackendBuffer<float>& x,
              const BackendBuffer<float>& y, const std::vector<float>& params, std::vector<float>* analytic) {
  const DropoutKey key{77, 3, 0};
  mlp.set_parameters(params);
  const float* out = mlp.forward(x.data(), p.ld, p.rows, true, key);
  BackendBuffer<float> grad(backend, static_cast<std::size_t>(p.rows) * p.spec.outputs, "output gradient");
  BackendBuffer<float> loss(backend, 1, "loss");
  backend.loss_forward_backward(p.task, out, p.rows, p.spec.outputs, p.spec.outputs, y.data(), grad.data(),
                                loss.data());
  if (analytic) {
    mlp.backward(x.data(), p.ld, p.rows, grad.data(), key);
    analytic->resize(params.size());
    backend.copy_to_host(analytic->data(), mlp.gradients(), analytic->size() * sizeof(float));
  }
  float host_loss = 0;
  backend.copy_to_host(&host_loss, loss.data(), sizeof host_loss);
  return host_loss;
}

// ||analytic - numeric|| / ||numeric|| over all parameters, on `backend`.
double gradient_error(Backend& backend, const Problem& p) {
  Mlp mlp(backend, p.spec, p.rows);
  const auto x = upload(backend, p.x);
  const auto y = upload(backend, p.y);
  std::vector<float> params = initial_parameters(p.spec, 99);
  for (float& w : params) w *= 2.0f;  // larger weights: activations away from the linear regime
  std::vector<float> analytic;
  loss_at(backend, mlp, p, x, y, params, &analytic);
  std::vector<double> numeric(params.size());
  const float h = 1e-2f;
  for (std::size_t i = 0; i < params.size(); ++i) {
    std::vector<float> plus = params, minus = params;
    plus[i] += h;
    minus[i] -= h;
    numeric[i] = (static_cast<double>(loss_at(backend, mlp, p, x, y, plus, nullptr)) -
                  static_cast<double>(loss_at(backend, mlp, p, x, y, minus, nullptr))) /
                 (2.0 * h);
  }
  std::vector<double> analytic_d(analytic.begin(), analytic.end());
  return relative_error(analytic_d, numeric);
}

struct GradientCase {
  Task task;
  Activation act;
  float dropout;
  int outputs;
  double tolerance;
  bool embeddings = false;
};
const GradientCase kGradientCases[] = {
    {Task::binary, Activation::tanh, 0.5f, 1, 2e-3},
    {Task::binary, Activation::tanh, 0.0f, 1, 2e-3},
    {Task::multiclass, Activation::tanh, 0.3f, 4, 2e-3},
    {Task::regression, Activation::relu, 0.0f, 1, 2e-2},
    {Task::binary, Activation::tanh, 0.0f, 1, 2e-3, true},
    {Task::multiclass, Activation::tanh, 0.3f, 3, 2e-3, true},
};

}  // namespace

TEST_CASE("MLP gradients match central finite differences on the CPU and the CUDA backend") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  Backends b = make_backends();
  for (const GradientCase& c : kGradientCases) {
    INFO("task " << static_cast<int>(c.task) << " act " << static_cast<int>(c.act) << " dropout " << c.dropout
                 << " embeddings " << c.embeddings);
    const Problem p = make_problem(c.task, c.act, c.dropout, c.outputs, c.embeddings);
    CHECK(gradient_error(*b.cpu, p) <= c.tolerance);
    CHECK(gradient_error(*b.gpu, p) <= c.tolerance);
  }
}
