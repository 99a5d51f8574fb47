// find_nonfinite (cuda/ops/find_nonfinite.cu) on the CUDA backend against the CPU backend's loop: the same index,
// exactly, for no element, all finite, each kind of non-finite value (quiet and signalling NaN payloads, -NaN,
// +inf, -inf) at the first, a middle and the last element, and several non-finite values in different threads'
// strides (the smallest index wins whatever order the atomics run in). The registry (test_op_registry.cpp) has
// the large cases too.
#include <cstdint>

#include "gpu_test_support.hpp"

using namespace fasttab;
using namespace fasttab::gpu_test;

namespace {

float from_bits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

std::int64_t both(Backends& b, const std::vector<float>& v) {
  std::int64_t want = -1;
  if (v.empty()) {
    want = b.cpu->find_nonfinite(nullptr, 0);
    CHECK(b.gpu->find_nonfinite(nullptr, 0) == want);
    return want;
  }
  auto on_cpu = upload(*b.cpu, v);
  auto on_gpu = upload(*b.gpu, v);
  want = b.cpu->find_nonfinite(on_cpu.data(), static_cast<std::int64_t>(v.size()));
  CHECK(b.gpu->find_nonfinite(on_gpu.data(), static_cast<std::int64_t>(v.size())) == want);
  CHECK(b.gpu->find_nonfinite(on_gpu.data(), static_cast<std::int64_t>(v.size())) == want);  // again: same
  return want;
}

}  // namespace

TEST_CASE("cuda find_nonfinite: the first NaN or infinite index, as the CPU loop finds it") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  Backends b = make_backends();
  CHECK(both(b, {}) == -1);
  const std::size_t n = 300'001;
  const std::vector<float> finite = random_floats(n, 3, -1e38f, 1e38f);
  CHECK(both(b, finite) == -1);
  const float kinds[] = {from_bits(0x7fc00000u), from_bits(0x7f800001u), from_bits(0xffc01234u),
                         from_bits(0x7f800000u), from_bits(0xff800000u)};
  for (float bad : kinds) {
    for (std::size_t at : {std::size_t{0}, n / 2, n - 1}) {
      std::vector<float> v = finite;
      v[at] = bad;
      CHECK(both(b, v) == static_cast<std::int64_t>(at));
    }
  }
  std::vector<float> several = finite;
  for (std::size_t at : {std::size_t{200'000}, std::size_t{70'001}, std::size_t{70'000}, std::size_t{299'999}})
    several[at] = kinds[at % 5];
  CHECK(both(b, several) == 70'000);
}
