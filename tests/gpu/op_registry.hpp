// The registry of Backend op cases (ggml test-backend-ops style): one table of (op, shape, parameters,
// tolerance) rows in test_op_registry.cpp; each row runs on the CPU reference backend and on the CUDA backend
// with the same inputs, and their outputs (every output of the op, padding included, as doubles) are compared
// by the normalised error ||gpu - cpu|| / ||cpu|| (relative_error in gpu_test_support.hpp) against the row's
// tolerance. A tolerance of 0 means bit-for-bit equal.
#pragma once

#include <string>
#include <vector>

#include "gpu_test_support.hpp"

namespace fasttab::gpu_test {

struct OpCase {
  const char* op;  // the Backend op (its name in backend.hpp)
  int rows, cols, ld;
  double tolerance;  // the largest normalised error accepted, and why, in the table's comments
  Activation act = Activation::tanh;
  float dropout = 0.0f;
  Task task = Task::binary;
  OptimizerKind optimizer = OptimizerKind::adam;
};

// Runs `c` on `backend` with inputs that depend only on the case, returns every output of the op.
using OpRunner = std::vector<double> (*)(Backend& backend, const OpCase& c);

inline std::string describe(const OpCase& c) {
  return std::string(c.op) + " " + std::to_string(c.rows) + "x" + std::to_string(c.cols) + " ld " +
         std::to_string(c.ld) + " act " + std::to_string(static_cast<int>(c.act)) + " p " +
         std::to_string(c.dropout) + " task " + std::to_string(static_cast<int>(c.task)) + " optimizer " +
         std::to_string(static_cast<int>(c.optimizer));
}

template <typename T>
void append(std::vector<double>& out, const std::vector<T>& values) {
  for (const T& v : values) out.push_back(static_cast<double>(v));
}

}  // namespace fasttab::gpu_test
