// column_moments and standardize_columns (cuda/ops/column_stats.cu) on the CUDA backend against the CPU backend:
//   standardize_columns: <= 1e-6; column_moments: see the case.
#include "gpu_test_support.hpp"

using namespace fasttab;
using namespace fasttab::gpu_test;

namespace {

struct Shape {
  int rows, cols, ld;
};

}  // namespace

TEST_CASE("cuda standardize_columns matches the CPU") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto b = make_backends();
  const Shape shapes[] = {{37, 301, 304}, {100003, 7, 9}, {1, 1, 1}};
  std::uint32_t seed = 400;
  for (const Shape& s : shapes) {
    ++seed;
    INFO("rows=" << s.rows << " cols=" << s.cols << " ld=" << s.ld);
    const std::vector<float> table = random_floats(static_cast<std::size_t>(s.rows) * s.ld, seed, -5.0f, 20.0f);
    const std::vector<float> mean = random_floats(static_cast<std::size_t>(s.cols), seed + 1, 0.0f, 10.0f);
    const std::vector<float> inv_std = random_floats(static_cast<std::size_t>(s.cols), seed + 2, 0.1f, 2.0f);
    std::vector<std::vector<float>> results;
    for (Backend* backend : {b.cpu.get(), b.gpu.get()}) {
      auto t = upload(*backend, table), m = upload(*backend, mean), is = upload(*backend, inv_std);
      backend->standardize_columns(t.data(), s.rows, s.cols, s.ld, m.data(), is.data());
      results.push_back(download(*backend, t));
    }
    CHECK(relative_error(region(results[1], s.rows, s.cols, s.ld), region(results[0], s.rows, s.cols, s.ld)) <= 1e-6);
    CHECK(same_bits(padding(results[1], s.rows, s.cols, s.ld), padding(table, s.rows, s.cols, s.ld)));
  }
}

TEST_CASE("cuda column_moments matches the CPU") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto b = make_backends();
  const Shape shapes[] = {{37, 301, 304}, {100003, 7, 9}, {1, 1, 1}, {5000, 24, 24}};
  std::uint32_t seed = 500;
  for (const Shape& s : shapes) {
    ++seed;
    INFO("rows=" << s.rows << " cols=" << s.cols << " ld=" << s.ld);
    const std::vector<float> table = random_floats(static_cast<std::size_t>(s.rows) * s.ld, seed, -5.0f, 20.0f);
    std::vector<double> mean_cpu(s.cols), std_cpu(s.cols), mean_gpu(s.cols, -1.0), std_gpu(s.cols, -1.0);
    auto ct = upload(*b.cpu, table);
    b.cpu->column_moments(ct.data(), s.rows, s.cols, s.ld, mean_cpu.data(), std_cpu.data());
    auto gt = upload(*b.gpu, table);
    b.gpu->column_moments(gt.data(), s.rows, s.cols, s.ld, mean_gpu.data(), std_gpu.data());
    CHECK(relative_error(mean_gpu, mean_cpu) <= 1e-9);
    CHECK(relative_error(std_gpu, std_cpu) <= 1e-9);
  }
}
