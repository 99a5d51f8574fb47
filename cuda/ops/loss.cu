// loss_forward_backward: per row r of the outputs x (rows x width, leading dimension ld) and the label y_r,
//   binary (width 1):     loss = softplus(x) - y*x = max(x, 0) - x*y + log1p(exp(-|x|)),  dx = (sigmoid(x) - y) / rows
//   multiclass (width K): loss = logsumexp(x_r) - x_r[y_r],  dx_r = (softmax(x_r) - onehot(y_r)) / rows
//                         (y_r a float holding the class 0..K-1; the max is subtracted before exp)
//   regression (width 1): loss = (x - y)^2,  dx = 2 (x - y) / rows
// One thread per row computes in double, writes the row's gradient and adds its loss into a deterministic row_reduce;
// *loss = the mean over rows, rounded to float.
#include "cuda/ops/loss.cuh"

#include <cstdint>

#include "cuda/launch.cuh"
#include "cuda/ops/row_reduce.cuh"
#include "host/backend/class_label.hpp"

namespace fasttab {
namespace {

// The per-row math is the CPU backend's (host/reference_math.cpp), in double, so that the two agree to rounding.
struct BinaryLoss {
  const float* x;
  const float* y;
  float* grad;
  int ld;
  double inv_rows;
  __device__ void operator()(std::int64_t r, double* acc) const {
    const double v = x[r * ld];
    const double t = y[r];
    acc[0] += fmax(v, 0.0) - v * t + log1p(exp(-fabs(v)));
    const double sigmoid = 1.0 / (1.0 + exp(-v));
    grad[r * ld] = static_cast<float>((sigmoid - t) * inv_rows);
  }
};

struct MulticlassLoss {
  const float* x;
  const float* y;
  float* grad;
  int ld;
  int width;
  double inv_rows;
  __device__ void operator()(std::int64_t r, double* acc) const {
    const float* row = x + r * ld;
    float* g = grad + r * ld;
    double top = row[0];
    for (int k = 1; k < width; ++k) top = fmax(top, static_cast<double>(row[k]));
    double sum = 0.0;
    for (int k = 0; k < width; ++k) sum += exp(row[k] - top);
    const double lse = top + log(sum);
    const int label = class_label(y[r], width);
    const double picked = label >= 0 ? static_cast<double>(row[label]) : top;
    acc[0] += lse - picked;
    for (int k = 0; k < width; ++k) {
      const double softmax = exp(row[k] - lse);
      g[k] = static_cast<float>((softmax - (k == label ? 1.0 : 0.0)) * inv_rows);
    }
  }
};

struct RegressionLoss {
  const float* x;
  const float* y;
  float* grad;
  int ld;
  double inv_rows;
  __device__ void operator()(std::int64_t r, double* acc) const {
    const double d = static_cast<double>(x[r * ld]) - static_cast<double>(y[r]);
    acc[0] += d * d;
    grad[r * ld] = static_cast<float>(2.0 * d * inv_rows);
  }
};

}  // namespace

void loss_forward_backward(Task task, const float* outputs, int rows, int width, int ld, const float* labels,
                           float* grad, float* loss, double* partials, cudaStream_t stream) {
  FASTTAB_REQUIRE(rows > 0, "loss_forward_backward: no rows");
  FASTTAB_REQUIRE(width >= 1 && ld >= width, "loss_forward_backward: width ", width, " with leading dimension ", ld);
  FASTTAB_REQUIRE(task == Task::multiclass || width == 1, "loss_forward_backward: binary and regression need width 1, got ",
                  width);
  const double inv_rows = 1.0 / static_cast<double>(rows);
  switch (task) {
    case Task::binary:
      row_reduce<1>(rows, BinaryLoss{outputs, labels, grad, ld, inv_rows}, partials, inv_rows, nullptr, loss, stream);
      break;
    case Task::multiclass:
      row_reduce<1>(rows, MulticlassLoss{outputs, labels, grad, ld, width, inv_rows}, partials, inv_rows, nullptr, loss,
                    stream);
      break;
    case Task::regression:
      row_reduce<1>(rows, RegressionLoss{outputs, labels, grad, ld, inv_rows}, partials, inv_rows, nullptr, loss, stream);
      break;
  }
}

}  // namespace fasttab
