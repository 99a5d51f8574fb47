// CudaBackend basics: identity, memory errors, copies (incl. the padded upload), fill, cuda_stream.
#include <string>

#include "cuda/cuda_backend.hpp"
#include "gpu_test_support.hpp"

using namespace fasttab;
using namespace fasttab::gpu_test;

TEST_CASE("cuda backend: kind, device name, memory sizes") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto gpu = make_cuda_backend(0);
  CHECK(std::string(gpu->kind()) == "cuda");
  CHECK(!gpu->device_name().empty());
  CHECK(gpu->total_bytes() > 0);
  CHECK(gpu->free_bytes() <= gpu->total_bytes());
  CHECK(cuda_stream(*gpu) != nullptr);
  auto cpu = make_cpu_backend();
  CHECK_THROWS_AS(cuda_stream(*cpu), Error);
  CHECK_THROWS_AS(make_cuda_backend(cuda_device_count()), Error);
}

TEST_CASE("cuda backend: an allocation larger than the free memory throws an Error naming the bytes") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto gpu = make_cuda_backend(0);
  const std::size_t too_many = gpu->total_bytes() + (std::size_t{1} << 30);
  try {
    gpu->allocate(too_many, "huge table");
    FAIL("allocate did not throw");
  } catch (const Error& e) {
    const std::string message = e.what();
    CHECK(message.find(std::to_string(too_many)) != std::string::npos);
    CHECK(message.find("huge table") != std::string::npos);
    CHECK(message.find("free") != std::string::npos);
  }
  // Still usable afterwards.
  BackendBuffer<float> ok(*gpu, 1000, "small");
  gpu->fill(ok.data(), 2.5f, 1000);
  CHECK(download(*gpu, ok) == std::vector<float>(1000, 2.5f));
}

TEST_CASE("cuda backend: copies, fill and copy_within") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto gpu = make_cuda_backend(0);
  const std::vector<float> host = random_floats(12345, 11);
  auto buffer = upload(*gpu, host);
  CHECK(same_bits(download(*gpu, buffer), host));

  BackendBuffer<float> copy(*gpu, host.size(), "copy");
  gpu->fill(copy.data(), kNaN, host.size());
  gpu->copy_within(copy.data(), buffer.data(), host.size() * sizeof(float));
  CHECK(same_bits(download(*gpu, copy), host));

  gpu->fill(copy.data() + 5, -3.0f, 7);
  const std::vector<float> filled = download(*gpu, copy);
  for (int i = 0; i < 20; ++i) CHECK(filled[i] == ((i >= 5 && i < 12) ? -3.0f : host[i]));
}

TEST_CASE("cuda backend: copy_rows_to_backend zeroes the padding as the CPU backend does") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  auto b = make_backends();
  const int rows = 37, cols = 5, src_ld = 7, dst_ld = 8;
  const std::vector<float> host = random_floats(static_cast<std::size_t>(rows) * src_ld, 12);
  std::vector<std::vector<float>> results;
  for (Backend* backend : {b.cpu.get(), b.gpu.get()}) {
    BackendBuffer<float> dst(*backend, static_cast<std::size_t>(rows) * dst_ld, "padded");
    backend->fill(dst.data(), kNaN, dst.size());
    backend->copy_rows_to_backend(dst.data(), dst_ld * sizeof(float), host.data(), src_ld * sizeof(float),
                                  cols * sizeof(float), rows);
    results.push_back(download(*backend, dst));
  }
  CHECK(same_bits(results[1], results[0]));
  CHECK(count_nan(results[1]) == 0);
}

