// random_permutation (cuda/ops/random_permutation.cu, Thrust stable sort) against the CPU backend: a permutation
// of 0..n-1 and equal to the CPU's (stable sort by the Philox keys), n = 1, 1000, 2^20+3.
#include <algorithm>
#include <cstdint>

#include "gpu_test_support.hpp"

using namespace fasttab;
using namespace fasttab::gpu_test;

TEST_CASE("cuda random_permutation is the CPU's permutation") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto b = make_backends();
  for (std::uint32_t n : {1u, 1000u, (1u << 20) + 3u}) {
    for (std::uint32_t epoch : {0u, 7u}) {
      INFO("n=" << n << " epoch=" << epoch);
      const std::uint64_t seed = 0xC0FFEEull + n;
      BackendBuffer<std::uint32_t> cpu_out(*b.cpu, n, "permutation");
      b.cpu->random_permutation(seed, epoch, n, cpu_out.data());
      const std::vector<std::uint32_t> want = download(*b.cpu, cpu_out);

      BackendBuffer<std::uint32_t> gpu_out(*b.gpu, n, "permutation");
      b.gpu->fill(reinterpret_cast<float*>(gpu_out.data()), kNaN, n);
      b.gpu->random_permutation(seed, epoch, n, gpu_out.data());
      const std::vector<std::uint32_t> got = download(*b.gpu, gpu_out);

      std::vector<char> seen(n, 0);
      bool is_permutation = true;
      for (std::uint32_t v : got) {
        if (v >= n || seen[v]) {
          is_permutation = false;
          break;
        }
        seen[v] = 1;
      }
      CHECK(is_permutation);
      CHECK(got == want);
    }
  }
  // A smaller n after a larger one reuses the workspace and is still right.
  BackendBuffer<std::uint32_t> small(*b.gpu, 10, "permutation");
  b.gpu->random_permutation(5, 1, 10, small.data());
  std::vector<std::uint32_t> got = download(*b.gpu, small);
  std::vector<std::uint32_t> want(10);
  b.cpu->random_permutation(5, 1, 10, want.data());
  CHECK(got == want);
}
