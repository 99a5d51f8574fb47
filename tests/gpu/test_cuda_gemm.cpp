// gemm on the CUDA backend (row-major through cuBLAS) against OpenBLAS on the CPU backend:
// ||C_gpu - C_cpu|| / ||C_cpu|| <= 1e-5 in fp32 and <= 5e-3 with tf32 tensor cores; the padding of C untouched.
#include "gpu_test_support.hpp"

using namespace fasttab;
using namespace fasttab::gpu_test;

namespace {

struct Shape {
  int m, n, k;
  bool trans_a, trans_b;
  int pad;  // added to every leading dimension
};

void check_gemm(Backends& b, const Shape& s, Precision precision, float beta, double bound, std::uint32_t seed) {
  const int lda = (s.trans_a ? s.m : s.k) + s.pad, ldb = (s.trans_b ? s.k : s.n) + s.pad, ldc = s.n + s.pad;
  const int a_rows = s.trans_a ? s.k : s.m, b_rows = s.trans_b ? s.n : s.k;
  const std::vector<float> a = random_floats(static_cast<std::size_t>(a_rows) * lda, seed);
  const std::vector<float> bm = random_floats(static_cast<std::size_t>(b_rows) * ldb, seed + 1);
  const std::vector<float> c0 = random_floats(static_cast<std::size_t>(s.m) * ldc, seed + 2);
  const float alpha = 1.25f;

  auto ca = upload(*b.cpu, a), cb = upload(*b.cpu, bm), cc = upload(*b.cpu, c0);
  b.cpu->gemm(s.trans_a, s.trans_b, s.m, s.n, s.k, alpha, ca.data(), lda, cb.data(), ldb, beta, cc.data(), ldc);
  const std::vector<float> want = download(*b.cpu, cc);

  auto ga = upload(*b.gpu, a), gb = upload(*b.gpu, bm), gc = upload(*b.gpu, c0);
  if (beta == 0.0f) {  // C is not read: poison its valid region to see that every element is written
    std::vector<float> poisoned = c0;
    for (int r = 0; r < s.m; ++r)
      for (int c = 0; c < s.n; ++c) poisoned[static_cast<std::size_t>(r) * ldc + c] = kNaN;
    gc = upload(*b.gpu, poisoned);
  }
  b.gpu->set_precision(precision);
  b.gpu->gemm(s.trans_a, s.trans_b, s.m, s.n, s.k, alpha, ga.data(), lda, gb.data(), ldb, beta, gc.data(), ldc);
  b.gpu->set_precision(Precision::fp32);
  const std::vector<float> got = download(*b.gpu, gc);

  INFO("m=" << s.m << " n=" << s.n << " k=" << s.k << " trans_a=" << s.trans_a << " trans_b=" << s.trans_b
            << " pad=" << s.pad << " beta=" << beta << " tf32=" << (precision == Precision::tf32));
  const std::vector<float> got_region = region(got, s.m, s.n, ldc);
  CHECK(count_nan(got_region) == 0);
  CHECK(relative_error(got_region, region(want, s.m, s.n, ldc)) <= bound);
  CHECK(same_bits(padding(got, s.m, s.n, ldc), padding(c0, s.m, s.n, ldc)));
}

}  // namespace

TEST_CASE("cuda gemm: fp32 and tf32 against the CPU, all transpositions, odd sizes, padded leading dimensions") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto b = make_backends();
  const Shape shapes[] = {{37, 301, 19, false, false, 0}, {37, 301, 19, true, false, 3}, {37, 301, 19, false, true, 1},
                          {37, 301, 19, true, true, 5},   {256, 128, 512, false, true, 0}, {1, 1, 1, false, false, 0},
                          {1000, 7, 24, false, false, 8}, {24, 64, 1000, true, false, 0}};
  std::uint32_t seed = 100;
  for (const Shape& s : shapes) {
    for (float beta : {0.0f, 0.5f}) {
      check_gemm(b, s, Precision::fp32, beta, 1e-5, seed);
      check_gemm(b, s, Precision::tf32, beta, 5e-3, seed);
      seed += 3;
    }
  }
}
