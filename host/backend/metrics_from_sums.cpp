#include "host/backend/metrics_from_sums.hpp"

#include <cmath>
#include <limits>

namespace fasttab {

Metrics metrics_from_sums(Task task, const MetricSums& s, Metrics m) {
  const double count = static_cast<double>(m.rows);
  const double* sums = s.sums;
  switch (task) {
    case Task::binary: {
      m.loss = sums[0] / count;
      m.accuracy = sums[1] / count;
      const double positives = sums[2], negatives = count - sums[2];
      if (positives > 0 && negatives > 0) m.auc = static_cast<double>(s.auc_numerator2) / (2.0 * positives * negatives);
      break;
    }
    case Task::multiclass:
      m.loss = sums[0] / count;
      m.accuracy = sums[1] / count;
      break;
    case Task::regression:
      m.loss = sums[0] / count;
      m.rmse = std::sqrt(m.loss);
      m.mae = sums[2] / count;
      m.r2 = sums[4] > 0 ? 1.0 - sums[0] / sums[4] : std::numeric_limits<double>::quiet_NaN();
      break;
  }
  return m;
}

}  // namespace fasttab
