// evaluate: metrics of outputs x (rows x width, leading dimension ld) against labels y (rows floats).
//   binary:     loss = mean of max(x,0) - x*y + log1p(exp(-|x|)) (in double); accuracy: predicted positive iff
//               x >= 0 (probability >= 0.5), a label is positive iff y > 0.5; AUC below.
//   multiclass: loss = mean of logsumexp(x_r) - x_r[y_r] (in double); accuracy: argmax (the first maximum) == y_r.
//   regression: loss = MSE = SSE / rows, rmse = sqrt(MSE), mae = sum |x - y| / rows, r2 = 1 - SSE / SST with SST = sum (y - mean y)^2
//               (NaN when SST is 0).
// Sums are deterministic row_reduce passes (row_reduce.cuh).
//
// AUC, exact with ties counted one half: sort the (score = logit, label) pairs by score (CUB radix sort), make one
// group per distinct score (CUB ReduceByKey over the sorted scores: pos_g, neg_g), an exclusive scan over the
// groups gives neg_below_g (negatives with a smaller score), and in 64-bit integers
//   numerator2 = sum over groups of pos_g * (2 * neg_below_g + neg_g),   AUC = numerator2 / (2 P N),
// NaN when P or N is 0. The group array is zeroed first so that the scan and the sum can run over all `rows`
// slots without reading the group count back.
#include "cuda/ops/metrics.cuh"

#include <climits>
#include <cmath>
#include <limits>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_reduce.cuh>
#include <cub/device/device_scan.cuh>

#include "cuda/launch.cuh"
#include "cuda/ops/row_reduce.cuh"
#include "host/backend/class_label.hpp"
#include "host/backend/metrics_from_sums.hpp"

namespace fasttab {
namespace {

constexpr int kThreads = 256;

struct PosNeg {
  unsigned long long pos;
  unsigned long long neg;
};

struct PosNegSum {
  __host__ __device__ PosNeg operator()(const PosNeg& a, const PosNeg& b) const { return PosNeg{a.pos + b.pos, a.neg + b.neg}; }
};

// acc: log loss, correct predictions, positive labels. Also copies the scores into a contiguous array.
struct BinaryStats {
  const float* x;
  const float* y;
  int ld;
  float* scores;
  __device__ void operator()(std::int64_t r, double* acc) const {
    const float score = x[r * ld];
    scores[r] = score;
    const double v = score, t = y[r];
    acc[0] += fmax(v, 0.0) - v * t + log1p(exp(-fabs(v)));
    const bool positive = y[r] > 0.5f;
    acc[1] += ((score >= 0.0f) == positive) ? 1.0 : 0.0;
    acc[2] += positive ? 1.0 : 0.0;
  }
};

// acc: log loss, correct argmax predictions.
struct MulticlassStats {
  const float* x;
  const float* y;
  int ld;
  int width;
  __device__ void operator()(std::int64_t r, double* acc) const {
    const float* row = x + r * ld;
    int best = 0;
    for (int k = 1; k < width; ++k)
      if (row[k] > row[best]) best = k;
    const double top = row[best];
    double sum = 0.0;
    for (int k = 0; k < width; ++k) sum += exp(static_cast<double>(row[k]) - top);
    const int label = class_label(y[r], width);
    const double picked = label >= 0 ? static_cast<double>(row[label]) : top;
    acc[0] += log(sum) + top - picked;
    acc[1] += best == label ? 1.0 : 0.0;
  }
};

// acc: squared error, label, absolute error.
struct RegressionStats {
  const float* x;
  const float* y;
  int ld;
  __device__ void operator()(std::int64_t r, double* acc) const {
    const double d = static_cast<double>(x[r * ld]) - static_cast<double>(y[r]);
    acc[0] += d * d;
    acc[1] += y[r];
    acc[2] += fabs(d);
  }
};

// acc: (y - mean)^2, mean = label_sum[0] / rows read on the device (no round trip to the host).
struct RegressionSpread {
  const float* y;
  const double* label_sum;
  double rows;
  __device__ void operator()(std::int64_t r, double* acc) const {
    const double d = static_cast<double>(y[r]) - label_sum[0] / rows;
    acc[0] += d * d;
  }
};

__global__ void __launch_bounds__(kThreads) label_counts_kernel(const float* __restrict__ sorted_labels, int n,
                                                                PosNeg* __restrict__ counts) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const bool positive = sorted_labels[i] > 0.5f;
  counts[i] = PosNeg{positive ? 1ull : 0ull, positive ? 0ull : 1ull};
}

// terms[g] = pos_g * (2 * neg_below_g + neg_g); the zeroed slots past the last group give 0.
__global__ void __launch_bounds__(kThreads) auc_terms_kernel(const PosNeg* __restrict__ groups,
                                                             const PosNeg* __restrict__ below, int n,
                                                             unsigned long long* __restrict__ terms) {
  const int g = blockIdx.x * blockDim.x + threadIdx.x;
  if (g >= n) return;
  terms[g] = groups[g].pos * (2ull * below[g].neg + groups[g].neg);
}

struct AucBuffers {
  float* sorted_scores;
  float* sorted_labels;
  PosNeg* counts;  // per sorted row; reused for the exclusive scan over the groups
  float* unique_scores;
  PosNeg* groups;
  unsigned long long* terms;
  long long* group_count;
  unsigned long long* numerator2;
  void* temp;
  std::size_t temp_bytes;
};

std::size_t auc_temp_bytes(int n, cudaStream_t stream) {
  std::size_t most = 0, bytes = 0;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const float*>(nullptr),
                                             static_cast<float*>(nullptr), static_cast<const float*>(nullptr),
                                             static_cast<float*>(nullptr), n, 0, 32, stream));
  most = bytes > most ? bytes : most;
  bytes = 0;
  CUDA_CHECK(cub::DeviceReduce::ReduceByKey(nullptr, bytes, static_cast<const float*>(nullptr),
                                            static_cast<float*>(nullptr), static_cast<const PosNeg*>(nullptr),
                                            static_cast<PosNeg*>(nullptr), static_cast<long long*>(nullptr),
                                            PosNegSum{}, n, stream));
  most = bytes > most ? bytes : most;
  bytes = 0;
  CUDA_CHECK(cub::DeviceScan::ExclusiveScan(nullptr, bytes, static_cast<const PosNeg*>(nullptr),
                                            static_cast<PosNeg*>(nullptr), PosNegSum{}, PosNeg{0ull, 0ull}, n, stream));
  most = bytes > most ? bytes : most;
  bytes = 0;
  CUDA_CHECK(cub::DeviceReduce::Sum(nullptr, bytes, static_cast<const unsigned long long*>(nullptr),
                                    static_cast<unsigned long long*>(nullptr), n, stream));
  return bytes > most ? bytes : most;
}

// numerator2 of the AUC into b.numerator2 (device), from the scores and labels of n rows.
void auc_numerator(const float* scores, const float* labels, int n, const AucBuffers& b, cudaStream_t stream) {
  std::size_t bytes = b.temp_bytes;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(b.temp, bytes, scores, b.sorted_scores, labels, b.sorted_labels, n, 0,
                                             32, stream));
  const unsigned blocks = static_cast<unsigned>(ceil_div(n, kThreads));
  label_counts_kernel<<<blocks, kThreads, 0, stream>>>(b.sorted_labels, n, b.counts);
  CUDA_CHECK_LAUNCH();
  CUDA_CHECK(cudaMemsetAsync(b.groups, 0, static_cast<std::size_t>(n) * sizeof(PosNeg), stream));
  bytes = b.temp_bytes;
  CUDA_CHECK(cub::DeviceReduce::ReduceByKey(b.temp, bytes, b.sorted_scores, b.unique_scores, b.counts, b.groups,
                                            b.group_count, PosNegSum{}, n, stream));
  bytes = b.temp_bytes;
  CUDA_CHECK(cub::DeviceScan::ExclusiveScan(b.temp, bytes, b.groups, b.counts, PosNegSum{}, PosNeg{0ull, 0ull}, n,
                                            stream));
  auc_terms_kernel<<<blocks, kThreads, 0, stream>>>(b.groups, b.counts, n, b.terms);
  CUDA_CHECK_LAUNCH();
  bytes = b.temp_bytes;
  CUDA_CHECK(cub::DeviceReduce::Sum(b.temp, bytes, b.terms, b.numerator2, n, stream));
}

// The scratch of one evaluation, carved from the workspace block.
struct EvaluatePieces {
  double* partials;
  double* sums;  // [0..4): the first pass, [4]: the second (regression)
  float* scores;
  AucBuffers auc;
};

// Takes the pieces from `c`; run on a measuring carver (nullptr) first, then on the real block, to take the
// same pieces. `auc_rows` and `temp_bytes` are 0 but for binary tasks.
EvaluatePieces carve_evaluate_pieces(WorkspaceCarver& c, std::size_t auc_rows, std::size_t temp_bytes) {
  EvaluatePieces p{};
  p.partials = c.take<double>(kRowReducePartials);
  p.sums = c.take<double>(kMetricSums);
  p.scores = c.take<float>(auc_rows);
  p.auc.sorted_scores = c.take<float>(auc_rows);
  p.auc.sorted_labels = c.take<float>(auc_rows);
  p.auc.counts = c.take<PosNeg>(auc_rows);
  p.auc.unique_scores = c.take<float>(auc_rows);
  p.auc.groups = c.take<PosNeg>(auc_rows);
  p.auc.terms = c.take<unsigned long long>(auc_rows);
  p.auc.group_count = c.take<long long>(1);
  p.auc.numerator2 = c.take<unsigned long long>(1);
  p.auc.temp = c.take<char>(temp_bytes);
  p.auc.temp_bytes = temp_bytes;
  return p;
}

void check_evaluate_args(Task task, std::int64_t rows, int width, int ld) {
  FASTTAB_REQUIRE(rows >= 0, "evaluate: negative row count ", rows);
  FASTTAB_REQUIRE(width >= 1 && ld >= width, "evaluate: width ", width, " with leading dimension ", ld);
  FASTTAB_REQUIRE(task == Task::multiclass || width == 1, "evaluate: binary and regression need width 1, got ", width);
  FASTTAB_REQUIRE(rows <= INT_MAX, "evaluate: ", rows, " rows is more than the ", INT_MAX, " that one evaluation takes");
}

// Launches the task's reductions into p.sums (and, for binary tasks, the AUC numerator into
// *numerator2, copied asynchronously); the caller synchronises `stream`.
void launch_metric_reductions(Task task, const float* outputs, std::int64_t rows, int width, int ld,
                              const float* labels, const EvaluatePieces& p, unsigned long long* numerator2,
                              cudaStream_t stream) {
  const int n = static_cast<int>(rows);
  switch (task) {
    case Task::binary:
      row_reduce<3>(rows, BinaryStats{outputs, labels, ld, p.scores}, p.partials, 1.0, p.sums, nullptr, stream);
      auc_numerator(p.scores, labels, n, p.auc, stream);
      CUDA_CHECK(cudaMemcpyAsync(numerator2, p.auc.numerator2, sizeof *numerator2, cudaMemcpyDeviceToHost, stream));
      break;
    case Task::multiclass:
      row_reduce<2>(rows, MulticlassStats{outputs, labels, ld, width}, p.partials, 1.0, p.sums, nullptr, stream);
      break;
    case Task::regression:
      row_reduce<3>(rows, RegressionStats{outputs, labels, ld}, p.partials, 1.0, p.sums, nullptr, stream);
      row_reduce<1>(rows, RegressionSpread{labels, p.sums + 1, static_cast<double>(rows)}, p.partials, 1.0,
                    p.sums + 4, nullptr, stream);
      break;
  }
}

}  // namespace

Metrics evaluate(Task task, const float* outputs, std::int64_t rows, int width, int ld, const float* labels,
                 MetricsWorkspace& workspace, cudaStream_t stream) {
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  Metrics m;
  m.loss = m.auc = m.accuracy = m.rmse = m.mae = m.r2 = nan;
  m.rows = rows;
  check_evaluate_args(task, rows, width, ld);
  if (rows == 0) return m;
  const int n = static_cast<int>(rows);

  // Carve the scratch: first measure, then take the same pieces from the real block.
  const std::size_t temp_bytes = task == Task::binary ? auc_temp_bytes(n, stream) : 0;
  const std::size_t auc_rows = task == Task::binary ? static_cast<std::size_t>(n) : 0;
  WorkspaceCarver measure(nullptr);
  carve_evaluate_pieces(measure, auc_rows, temp_bytes);
  WorkspaceCarver real(workspace.block.ensure(measure.bytes(), stream));
  const EvaluatePieces p = carve_evaluate_pieces(real, auc_rows, temp_bytes);

  MetricSums sums;
  launch_metric_reductions(task, outputs, rows, width, ld, labels, p, &sums.auc_numerator2, stream);
  CUDA_CHECK(cudaMemcpyAsync(sums.sums, p.sums, sizeof sums.sums, cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));

  return metrics_from_sums(task, sums, m);
}

}  // namespace fasttab
