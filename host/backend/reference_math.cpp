#include "host/backend/reference_math.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "host/backend/class_label.hpp"
#include "host/backend/philox.hpp"

namespace fasttab::reference {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

double loss_and_gradient(Task task, const float* outputs, int rows, int width, int ld, const float* labels,
                         float* grad) {
  double total = 0;
  const double inv_rows = 1.0 / rows;
  for (int r = 0; r < rows; ++r) {
    const float* x = outputs + static_cast<std::size_t>(r) * ld;
    float* g = grad + static_cast<std::size_t>(r) * ld;
    const double y = labels[r];
    switch (task) {
      case Task::binary: {
        total += bce_with_logit(x[0], y);
        const double sigmoid = 1.0 / (1.0 + std::exp(-static_cast<double>(x[0])));
        g[0] = static_cast<float>((sigmoid - y) * inv_rows);
        break;
      }
      case Task::regression: {
        const double diff = x[0] - y;
        total += diff * diff;
        g[0] = static_cast<float>(2.0 * diff * inv_rows);
        break;
      }
      case Task::multiclass: {
        const int label = class_label(labels[r], width);
        double max_x = x[0];
        for (int k = 1; k < width; ++k) max_x = std::max(max_x, static_cast<double>(x[k]));
        double sum = 0;
        for (int k = 0; k < width; ++k) sum += std::exp(x[k] - max_x);
        const double lse = max_x + std::log(sum);
        total += lse - (label >= 0 ? static_cast<double>(x[label]) : max_x);
        for (int k = 0; k < width; ++k) {
          const double softmax = std::exp(x[k] - lse);
          g[k] = static_cast<float>((softmax - (k == label ? 1.0 : 0.0)) * inv_rows);
        }
        break;
      }
    }
  }
  return total * inv_rows;
}

void random_permutation(std::uint64_t seed, std::uint32_t epoch, std::uint32_t n, std::uint32_t* out) {
  std::vector<std::uint64_t> keys(n);
  for (std::uint32_t i = 0; i < n; ++i) keys[i] = permutation_key(seed, epoch, i);
  std::iota(out, out + n, 0u);
  std::stable_sort(out, out + n, [&](std::uint32_t a, std::uint32_t b) { return keys[a] < keys[b]; });
}

double roc_auc(const float* scores, const float* labels, std::int64_t rows, int stride) {
  // A NaN score has no rank: the AUC is undefined. (Sorting NaN with < is undefined behaviour, and NaN == NaN is
  // false, so the tie groups below would never advance.)
  for (std::int64_t r = 0; r < rows; ++r)
    if (std::isnan(scores[r * stride])) return kNaN;
  std::vector<std::int64_t> order(static_cast<std::size_t>(rows));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::int64_t a, std::int64_t b) { return scores[a * stride] < scores[b * stride]; });
  // Over groups of equal scores: 2 * (pairs ranked right) = sum of pos_g * (2 * negatives below + neg_g).
  std::uint64_t numerator2 = 0, positives = 0, negatives = 0;
  for (std::int64_t begin = 0; begin < rows;) {
    std::int64_t end = begin;
    std::uint64_t pos_g = 0, neg_g = 0;
    while (end < rows && scores[order[end] * stride] == scores[order[begin] * stride]) {
      (labels[order[end]] > 0.5f ? pos_g : neg_g) += 1;
      ++end;
    }
    numerator2 += pos_g * (2 * negatives + neg_g);
    positives += pos_g;
    negatives += neg_g;
    begin = end;
  }
  if (positives == 0 || negatives == 0) return kNaN;
  return static_cast<double>(numerator2) / (2.0 * static_cast<double>(positives) * static_cast<double>(negatives));
}

Metrics evaluate(Task task, const float* outputs, std::int64_t rows, int width, int ld, const float* labels) {
  Metrics m;
  m.rows = rows;
  m.auc = m.accuracy = m.rmse = m.mae = m.r2 = kNaN;
  double loss = 0;
  switch (task) {
    case Task::binary: {
      std::int64_t correct = 0;
      for (std::int64_t r = 0; r < rows; ++r) {
        const float x = outputs[r * ld];
        loss += bce_with_logit(x, labels[r]);
        correct += (x >= 0.0f) == (labels[r] > 0.5f);
      }
      m.accuracy = static_cast<double>(correct) / rows;
      m.auc = roc_auc(outputs, labels, rows, ld);
      break;
    }
    case Task::multiclass: {
      std::int64_t correct = 0;
      for (std::int64_t r = 0; r < rows; ++r) {
        const float* x = outputs + r * ld;
        int best = 0;
        double max_x = x[0];
        for (int k = 1; k < width; ++k)
          if (x[k] > max_x) { max_x = x[k]; best = k; }
        double sum = 0;
        for (int k = 0; k < width; ++k) sum += std::exp(x[k] - max_x);
        const int label = class_label(labels[r], width);
        loss += max_x + std::log(sum) - (label >= 0 ? static_cast<double>(x[label]) : max_x);
        correct += best == label;
      }
      m.accuracy = static_cast<double>(correct) / rows;
      break;
    }
    case Task::regression: {
      double mean_y = 0;
      for (std::int64_t r = 0; r < rows; ++r) mean_y += labels[r];
      mean_y /= rows;
      double sst = 0, absolute = 0;
      for (std::int64_t r = 0; r < rows; ++r) {
        const double d = static_cast<double>(outputs[r * ld]) - labels[r];
        loss += d * d;
        absolute += std::fabs(d);
        sst += (labels[r] - mean_y) * (labels[r] - mean_y);
      }
      m.rmse = std::sqrt(loss / rows);
      m.mae = absolute / rows;
      m.r2 = sst > 0 ? 1.0 - loss / sst : kNaN;
      break;
    }
  }
  m.loss = loss / rows;
  return m;
}

void column_moments(const float* table, std::int64_t rows, int cols, int ld, double* mean, double* stddev) {
  // Two passes over the rows (row-major reads), the centred second pass for accuracy.
  std::vector<double> sum(static_cast<std::size_t>(cols), 0.0), sq(static_cast<std::size_t>(cols), 0.0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) sum[c] += table[r * ld + c];
  for (int c = 0; c < cols; ++c) mean[c] = rows ? sum[c] / rows : 0.0;
  for (std::int64_t r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const double d = table[r * ld + c] - mean[c];
      sq[c] += d * d;
    }
  for (int c = 0; c < cols; ++c) stddev[c] = rows ? std::sqrt(sq[c] / rows) : 0.0;
}

}  // namespace fasttab::reference

#include "fasttab/metrics.hpp"

namespace fasttab {
double roc_auc(const float* scores, const float* labels, std::int64_t rows) {
  return reference::roc_auc(scores, labels, rows);
}
Metrics evaluate_on_host(Task task, const float* outputs, std::int64_t rows, int width, int ld, const float* labels) {
  return reference::evaluate(task, outputs, rows, width, ld, labels);
}
}  // namespace fasttab
