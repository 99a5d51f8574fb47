// Support for the GPU tests: each test case runs an op on the CPU reference backend and on the CUDA backend with
// the same inputs and compares. Without a CUDA device a test case prints the skip marker that CTest maps to
// "skipped" (SKIP_REGULAR_EXPRESSION in tests/CMakeLists.txt) and returns.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "fasttab/backend.hpp"
#include "fasttab/error.hpp"
#include "fasttab/model.hpp"
#include "fasttab/optimizer.hpp"

// First statement of every GPU test case. FASTTAB_GPU_TESTS_ON_CPU (a self-check of the tests on a machine
// without a GPU) runs them with a second CPU backend in place of the CUDA one.
#if defined(FASTTAB_GPU_TESTS_ON_CPU)
#define FASTTAB_REQUIRE_CUDA_DEVICE() \
  do {                                \
  } while (0)
#else
#define FASTTAB_REQUIRE_CUDA_DEVICE()                                           \
  do {                                                                          \
    if (::fasttab::cuda_device_count() == 0) {                                  \
      std::cout << "FASTTAB_TEST_SKIPPED: no CUDA device" << std::endl;         \
      return;                                                                   \
    }                                                                           \
  } while (0)
#endif

namespace fasttab::gpu_test {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Backends {
  std::unique_ptr<Backend> cpu;
  std::unique_ptr<Backend> gpu;
};
#if defined(FASTTAB_GPU_TESTS_ON_CPU)
inline std::unique_ptr<Backend> make_gpu() { return make_cpu_backend(); }
#else
inline std::unique_ptr<Backend> make_gpu() { return make_cuda_backend(0); }
#endif
inline Backends make_backends() { return Backends{make_cpu_backend(), make_gpu()}; }

inline std::vector<float> random_floats(std::size_t n, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

template <typename T>
BackendBuffer<T> upload(Backend& backend, const std::vector<T>& host) {
  BackendBuffer<T> buffer(backend, host.size(), "test data");
  backend.copy_to_backend(buffer.data(), host.data(), host.size() * sizeof(T));
  return buffer;
}

template <typename T>
std::vector<T> download(Backend& backend, const BackendBuffer<T>& buffer) {
  std::vector<T> host(buffer.size());
  backend.copy_to_host(host.data(), buffer.data(), buffer.bytes());
  return host;
}

// The rows x cols elements of a row-major matrix with leading dimension ld, packed.
inline std::vector<float> region(const std::vector<float>& m, int rows, int cols, int ld) {
  std::vector<float> out;
  out.reserve(static_cast<std::size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) out.push_back(m[static_cast<std::size_t>(r) * ld + c]);
  return out;
}
// The padding elements (columns cols..ld-1) of each row, packed.
inline std::vector<float> padding(const std::vector<float>& m, int rows, int cols, int ld) {
  std::vector<float> out;
  for (int r = 0; r < rows; ++r)
    for (int c = cols; c < ld; ++c) out.push_back(m[static_cast<std::size_t>(r) * ld + c]);
  return out;
}

inline std::size_t count_nan(const std::vector<float>& v) {
  std::size_t n = 0;
  for (float x : v) n += std::isnan(x) ? 1 : 0;
  return n;
}

// ||got - want|| / ||want|| (2-norms, in double); ||got - want|| when want is all zeros. Infinite on a NaN.
template <typename T>
double relative_error(const std::vector<T>& got, const std::vector<T>& want) {
  REQUIRE(got.size() == want.size());
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = static_cast<double>(got[i]) - static_cast<double>(want[i]);
    if (std::isnan(d)) return std::numeric_limits<double>::infinity();
    diff += d * d;
    norm += static_cast<double>(want[i]) * static_cast<double>(want[i]);
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// The outputs, loss, gradients and updated parameters of one training step (forward with dropout, BCE, backward,
// one Adam step) of `spec` from its initial weights (seed 21) on the batch x [rows, ld], y, in `precision`.
struct StepOutputs {
  std::vector<float> outputs, gradients, parameters;  // gradients and parameters: the user's model's layout
  float loss = 0;
  // pad_multiple > 1: whether the padding of the parameters, the gradients and both optimiser state vectors (the
  // model's flat layout) held exact zeros after the step.
  bool padding_zero = true;
};

// One training step (forward, BCE, backward, Adam) of `spec` from initial_parameters(spec, 21), with dropout, its
// hidden widths padded to multiples of pad_multiple inside the engine; `fused`: Mlp's fused bf16 passes.
inline StepOutputs one_step(Backend& backend, const MlpSpec& spec, const std::vector<float>& x,
                            const std::vector<float>& y, int rows, int ld, Precision precision = Precision::fp32,
                            int pad_multiple = 1, bool fused = false) {
  backend.set_precision(precision);
  Mlp mlp(backend, spec, rows, precision, pad_multiple, fused);
  mlp.set_parameters(initial_parameters(spec, 21));
  Optimizer opt(backend, OptimizerConfig{}, ScheduleConfig{}, mlp.parameter_count(), 10);
  BackendBuffer<float> bx(backend, x.size(), "x"), by(backend, y.size(), "y"), grad(backend, std::size_t(rows), "g"),
      loss(backend, 1, "loss");
  backend.copy_to_backend(bx.data(), x.data(), bx.bytes());
  backend.copy_to_backend(by.data(), y.data(), by.bytes());
  const DropoutKey key{5, 3, 0};
  const float* out = mlp.forward(bx.data(), ld, rows, true, key);
  StepOutputs s;
  s.outputs.resize(std::size_t(rows));
  backend.copy_to_host(s.outputs.data(), out, s.outputs.size() * sizeof(float));
  backend.loss_forward_backward(Task::binary, out, rows, 1, 1, by.data(), grad.data(), loss.data());
  mlp.backward(bx.data(), ld, rows, grad.data(), key);
  opt.step(mlp.parameters(), mlp.gradients());
  backend.copy_to_host(&s.loss, loss.data(), sizeof(float));
  const std::vector<float> mask = mlp.pad_parameters(std::vector<float>(spec.parameter_count(), 1.0f));
  auto flat = [&](const float* values) {
    std::vector<float> host(mlp.parameter_count());
    backend.copy_to_host(host.data(), values, host.size() * sizeof(float));
    for (std::size_t i = 0; i < host.size(); ++i) s.padding_zero = s.padding_zero && (mask[i] != 0.0f || host[i] == 0.0f);
    return host;
  };
  s.gradients = mlp.unpad_parameters(flat(mlp.gradients()));
  s.parameters = mlp.unpad_parameters(flat(mlp.parameters()));
  flat(opt.state1().data());
  flat(opt.state2().data());
  backend.set_precision(Precision::fp32);
  return s;
}

}  // namespace fasttab::gpu_test
