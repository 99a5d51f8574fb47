// gemm and gemm_bf16 on the CUDA backend (row-major through cuBLAS, or through cuBLASLt plans under --gemm cublaslt
// and cublaslt-timed: cuda/lt_matmul.cuh) against OpenBLAS on the CPU backend, every transposition, odd sizes,
// padded leading dimensions, operands 4 bytes off alignment: ||C_gpu - C_cpu|| / ||C_cpu|| <= 1e-5 in fp32, 5e-3
// with tf32 tensor cores, 1e-5 in bf16 (the same bfloat16 inputs on both sides: exact products, float32 sums in
// another order); the padding of C untouched, every element of C written (beta 0 over NaN), and a second call the
// same bits (cuBLASLt: the plan reused).
#include <string>
#include <vector>

#include "fasttab/names.hpp"
#include "gpu_test_support.hpp"
#include "host/backend/reference_math.hpp"

using namespace fasttab;
using namespace fasttab::gpu_test;

namespace {

struct Shape {
  int m, n, k;
  bool trans_a, trans_b;
  int pad;     // added to every leading dimension
  int offset;  // elements each operand starts past its allocation (1 float: 4-byte aligned only)
};

// The float32 values of `values` rounded to bfloat16, and the bfloat16s themselves.
std::vector<bfloat16> to_bf16(const std::vector<float>& values) {
  std::vector<bfloat16> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) out[i] = reference::bf16_bits(values[i]);
  return out;
}
std::vector<float> widened(const std::vector<bfloat16>& values) {
  std::vector<float> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) out[i] = reference::bf16_value(values[i]);
  return out;
}

// C = alpha op(A) op(B) + beta C on `backend` from host operands (bf16: A and B as bfloat16), C's result downloaded.
std::vector<float> run_gemm(Backend& backend, const Shape& s, Precision precision, const std::vector<float>& a,
                            const std::vector<float>& b, const std::vector<float>& c0, float beta, int lda, int ldb,
                            int ldc) {
  const float alpha = 1.25f;
  const std::size_t off = std::size_t(s.offset);
  BackendBuffer<float> c(backend, c0.size() + off, "C");
  backend.copy_to_backend(c.data() + off, c0.data(), c0.size() * sizeof(float));
  if (precision == Precision::bf16) {
    const std::vector<bfloat16> a16 = to_bf16(a), b16 = to_bf16(b);
    BackendBuffer<bfloat16> da(backend, a16.size() + off, "A"), db(backend, b16.size() + off, "B");
    backend.copy_to_backend(da.data() + off, a16.data(), a16.size() * sizeof(bfloat16));
    backend.copy_to_backend(db.data() + off, b16.data(), b16.size() * sizeof(bfloat16));
    backend.gemm_bf16(s.trans_a, s.trans_b, s.m, s.n, s.k, alpha, da.data() + off, lda, db.data() + off, ldb, beta,
                      c.data() + off, ldc);
  } else {
    BackendBuffer<float> da(backend, a.size() + off, "A"), db(backend, b.size() + off, "B");
    backend.copy_to_backend(da.data() + off, a.data(), a.size() * sizeof(float));
    backend.copy_to_backend(db.data() + off, b.data(), b.size() * sizeof(float));
    backend.set_precision(precision);
    backend.gemm(s.trans_a, s.trans_b, s.m, s.n, s.k, alpha, da.data() + off, lda, db.data() + off, ldb, beta,
                 c.data() + off, ldc);
    backend.set_precision(Precision::fp32);
  }
  std::vector<float> out(c0.size());
  backend.copy_to_host(out.data(), c.data() + off, out.size() * sizeof(float));
  return out;
}

void check_gemm(Backends& b, GemmLibrary library, const Shape& s, Precision precision, float beta, double bound,
                   std::uint32_t seed) {
  const int lda = (s.trans_a ? s.m : s.k) + s.pad, ldb = (s.trans_b ? s.k : s.n) + s.pad, ldc = s.n + s.pad;
  const int a_rows = s.trans_a ? s.k : s.m, b_rows = s.trans_b ? s.n : s.k;
  std::vector<float> a = random_floats(std::size_t(a_rows) * lda, seed);
  std::vector<float> bm = random_floats(std::size_t(b_rows) * ldb, seed + 1);
  if (precision == Precision::bf16) a = widened(to_bf16(a)), bm = widened(to_bf16(bm));  // the CPU gets the same
  const std::vector<float> c0 = random_floats(std::size_t(s.m) * ldc, seed + 2);
  std::vector<float> gpu_c0 = c0;
  if (beta == 0.0f)  // C is not read: NaN in its valid region shows an element left unwritten
    for (int r = 0; r < s.m; ++r)
      for (int c = 0; c < s.n; ++c) gpu_c0[std::size_t(r) * ldc + c] = kNaN;

  const std::vector<float> want = run_gemm(*b.cpu, s, Precision::fp32, a, bm, c0, beta, lda, ldb, ldc);
  b.gpu->set_gemm_library(library);
  const std::vector<float> got = run_gemm(*b.gpu, s, precision, a, bm, gpu_c0, beta, lda, ldb, ldc);
  const std::vector<float> again = run_gemm(*b.gpu, s, precision, a, bm, gpu_c0, beta, lda, ldb, ldc);
  b.gpu->set_gemm_library(GemmLibrary::cublas);

  INFO(name_of(library) << " " << name_of(precision) << " m=" << s.m << " n=" << s.n << " k=" << s.k << " trans_a="
                        << s.trans_a << " trans_b=" << s.trans_b << " pad=" << s.pad << " offset=" << s.offset
                        << " beta=" << beta);
  const std::vector<float> got_region = region(got, s.m, s.n, ldc);
  CHECK(count_nan(got_region) == 0);
  CHECK(relative_error(got_region, region(want, s.m, s.n, ldc)) <= bound);
  CHECK(same_bits(padding(got, s.m, s.n, ldc), padding(c0, s.m, s.n, ldc)));
  CHECK(same_bits(got, again));
}

}  // namespace

TEST_CASE("cuda gemm: fp32 and tf32 against the CPU, all transpositions, odd sizes, padded leading dimensions") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto b = make_backends();
  const Shape shapes[] = {{37, 301, 19, false, false, 0, 0}, {37, 301, 19, true, false, 3, 0},
                          {37, 301, 19, false, true, 1, 0},  {37, 301, 19, true, true, 5, 0},
                          {256, 128, 512, false, true, 0, 0}, {1, 1, 1, false, false, 0, 0},
                          {1000, 7, 24, false, false, 8, 0}, {24, 64, 1000, true, false, 0, 0}};
  std::uint32_t seed = 100;
  for (const Shape& s : shapes) {
    for (float beta : {0.0f, 0.5f}) {
      check_gemm(b, GemmLibrary::cublas, s, Precision::fp32, beta, 1e-5, seed);
      check_gemm(b, GemmLibrary::cublas, s, Precision::tf32, beta, 5e-3, seed);
      seed += 3;
    }
  }
}

TEST_CASE("cuda gemm through cuBLASLt (heuristic and timed): fp32, tf32 and bf16 against the CPU, every "
          "transposition, odd sizes, padded and unaligned operands, a plan's second call the same bits") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto b = make_backends();
  const Shape shapes[] = {{37, 301, 19, false, false, 0, 0}, {37, 301, 19, true, false, 3, 1},
                          {37, 301, 19, false, true, 1, 0},  {37, 301, 19, true, true, 5, 1},
                          {256, 128, 512, false, true, 0, 0}, {1, 1, 1, false, false, 0, 0},
                          {1000, 7, 24, false, false, 8, 1}, {24, 64, 1000, true, false, 0, 0},
                          {64, 48, 4096, true, false, 0, 0}};  // the last: a weight-gradient shape (split-k tried)
  std::uint32_t seed = 300;
  for (GemmLibrary library : {GemmLibrary::cublaslt, GemmLibrary::cublaslt_timed})
    for (const Shape& s : shapes)
      for (float beta : {0.0f, 0.5f}) {
        check_gemm(b, library, s, Precision::fp32, beta, 1e-5, seed);
        check_gemm(b, library, s, Precision::tf32, beta, 5e-3, seed);
        check_gemm(b, library, s, Precision::bf16, beta, 1e-5, seed);
        seed += 3;
      }
}

