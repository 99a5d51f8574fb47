// loss_forward_backward: per row r of the outputs x (rows x width, leading dimension ld) and the label y_r,
//   binary (width 1):     loss = softplus(x) - y*x = max(x, 0) - x*y + log1p(exp(-|x|)),  dx = (sigmoid(x) - y) / rows
//   multiclass (width K): loss = logsumexp(x_r) - x_r[y_r],  dx_r = (softmax(x_r) - onehot(y_r)) / rows
//                         (y_r a float holding the class 0..K-1; the max is subtracted before exp)
//   regression (width 1): loss = (x - y)^2,  dx = 2 (x - y) / rows
// One thread per row writes the row's gradient and adds its loss (in double) into a deterministic row_reduce;
// *loss = the mean over rows, rounded to float.
#include "cuda/loss.cuh"

#include <cstdint>

#include "cuda/cuda_check.cuh"
#include "cuda/row_reduce.cuh"

namespace fasttab {
namespace {

struct BinaryLoss {
  const float* x;
  const float* y;
  float* grad;
  int ld;
  float rows_f;  // the row count as a float: the gradient is divided by it
  __device__ void operator()(std::int64_t r, double* acc) const {
    const float v = x[r * ld];
    const float t = y[r];
    const float e = expf(-fabsf(v));  // in (0, 1]: no overflow
    acc[0] += static_cast<double>(fmaxf(v, 0.0f) - v * t + log1pf(e));
    const float sigmoid = v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    grad[r * ld] = (sigmoid - t) / rows_f;
  }
};

struct MulticlassLoss {
  const float* x;
  const float* y;
  float* grad;
  int ld;
  int width;
  float rows_f;  // the row count as a float: the gradient is divided by it
  __device__ void operator()(std::int64_t r, double* acc) const {
    const float* row = x + r * ld;
    float* g = grad + r * ld;
    float top = row[0];
    for (int k = 1; k < width; ++k) top = fmaxf(top, row[k]);
    float sum = 0.0f;
    for (int k = 0; k < width; ++k) sum += expf(row[k] - top);
    const int label = static_cast<int>(y[r]);
    const float log_sum = logf(sum);
    const float picked = (label >= 0 && label < width) ? row[label] : top;
    acc[0] += static_cast<double>(log_sum + top - picked);
    const float inv_sum = 1.0f / sum;
    for (int k = 0; k < width; ++k) {
      const float softmax = expf(row[k] - top) * inv_sum;
      g[k] = (softmax - (k == label ? 1.0f : 0.0f)) / rows_f;
    }
  }
};

struct RegressionLoss {
  const float* x;
  const float* y;
  float* grad;
  int ld;
  float rows_f;  // the row count as a float: the gradient is divided by it
  __device__ void operator()(std::int64_t r, double* acc) const {
    const float d = x[r * ld] - y[r];
    acc[0] += static_cast<double>(d * d);
    grad[r * ld] = 2.0f * d / rows_f;
  }
};

}  // namespace

void loss_forward_backward(Task task, const float* outputs, int rows, int width, int ld, const float* labels,
                           float* grad, float* loss, double* partials, cudaStream_t stream) {
  FASTTAB_REQUIRE(rows > 0, "loss_forward_backward: no rows");
  FASTTAB_REQUIRE(width >= 1 && ld >= width, "loss_forward_backward: width ", width, " with leading dimension ", ld);
  FASTTAB_REQUIRE(task == Task::multiclass || width == 1, "loss_forward_backward: binary and regression need width 1, got ",
                  width);
  const float rows_f = static_cast<float>(rows);
  const double scale = 1.0 / static_cast<double>(rows);
  switch (task) {
    case Task::binary:
      row_reduce<1>(rows, BinaryLoss{outputs, labels, grad, ld, rows_f}, partials, scale, nullptr, loss, stream);
      break;
    case Task::multiclass:
      row_reduce<1>(rows, MulticlassLoss{outputs, labels, grad, ld, width, rows_f}, partials, scale, nullptr, loss,
                    stream);
      break;
    case Task::regression:
      row_reduce<1>(rows, RegressionLoss{outputs, labels, grad, ld, rows_f}, partials, scale, nullptr, loss, stream);
      break;
  }
}

}  // namespace fasttab
