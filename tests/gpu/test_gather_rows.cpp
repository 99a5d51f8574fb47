// gather_rows (cuda/ops/gather_rows.cu) on the CUDA backend against the CPU backend:
//   bit-identical (memcmp) rows and labels, for the float4 path (ld % 4 == 0, aligned), the scalar path
//   (odd ld, or a misaligned source), with NaN payloads, -0 and subnormals in the data;
#include <algorithm>
#include <cstdint>

#include "gpu_test_support.hpp"

using namespace fasttab;
using namespace fasttab::gpu_test;

namespace {

std::vector<float> odd_floats(std::size_t n, std::uint32_t seed) {
  std::vector<float> v = random_floats(n, seed, -100.0f, 100.0f);
  const std::uint32_t specials[] = {0x7fc01234u, 0xffc00001u, 0x80000000u, 0x00000001u, 0x007fffffu, 0x7f800000u};
  for (std::size_t i = 0; i < n; i += 97) std::memcpy(&v[i], &specials[(i / 97) % 6], sizeof(float));
  return v;
}

}  // namespace

TEST_CASE("cuda gather_rows is a bit-exact copy equal to the CPU's") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto b = make_backends();
  struct Case {
    int rows, ld;
    std::int64_t count;
    int offset;  // floats the source starts past the buffer start (1: misaligned, scalar path)
  };
  const Case cases[] = {{5000, 24, 16384, 0}, {5000, 24, 16384, 1}, {3001, 7, 1000, 0}, {100, 25, 37, 0},
                        {1, 4, 1, 0},         {70000, 8, 70001, 0}, {50, 1, 333, 0}};
  std::uint32_t seed = 800;
  for (const Case& c : cases) {
    ++seed;
    INFO("rows=" << c.rows << " ld=" << c.ld << " count=" << c.count << " offset=" << c.offset);
    const std::vector<float> features = odd_floats(static_cast<std::size_t>(c.rows) * c.ld + c.offset, seed);
    const std::vector<float> labels = odd_floats(static_cast<std::size_t>(c.rows), seed + 1);
    std::mt19937 gen(seed + 2);
    std::uniform_int_distribution<std::uint32_t> pick(0, static_cast<std::uint32_t>(c.rows - 1));
    std::vector<std::uint32_t> indices(static_cast<std::size_t>(c.count));
    for (auto& i : indices) i = pick(gen);

    std::vector<std::vector<float>> rows_out, labels_out;
    for (Backend* backend : {b.cpu.get(), b.gpu.get()}) {
      auto f = upload(*backend, features), l = upload(*backend, labels);
      auto idx = upload(*backend, indices);
      BackendBuffer<float> out(*backend, static_cast<std::size_t>(c.count) * c.ld, "rows");
      BackendBuffer<float> out_labels(*backend, static_cast<std::size_t>(c.count), "labels");
      backend->fill(out.data(), kNaN, out.size());
      backend->fill(out_labels.data(), kNaN, out_labels.size());
      backend->gather_rows(f.data() + c.offset, c.ld, l.data(), idx.data(), c.count, out.data(), out_labels.data());
      rows_out.push_back(download(*backend, out));
      labels_out.push_back(download(*backend, out_labels));
    }
    CHECK(same_bits(rows_out[1], rows_out[0]));
    CHECK(same_bits(labels_out[1], labels_out[0]));
    // and against the definition
    bool exact = true;
    for (std::int64_t i = 0; i < c.count && exact; ++i)
      exact = std::memcmp(&rows_out[1][static_cast<std::size_t>(i) * c.ld],
                          &features[static_cast<std::size_t>(indices[i]) * c.ld + c.offset], sizeof(float) * c.ld) == 0;
    CHECK(exact);
  }
}
