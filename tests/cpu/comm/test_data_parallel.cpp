// The pieces of data-parallel training that one process can check: the ranks' slices of a batch cover it once,
// a slice's dropout masks (DropoutKey::first_row) are the global batch's, the single-rank communicator changes
// nothing. The runs over several ranks are tests/mpi (mpirun).
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "fasttab/backend.hpp"
#include "fasttab/communicator.hpp"
#include "host/train/training_run.hpp"

using namespace fasttab;

TEST_CASE("rank slices cover every row of a batch exactly once, in order") {
  for (int ranks = 1; ranks <= 5; ++ranks)
    for (std::int64_t rows : {1, 2, 3, 7, 500, 512, 16384}) {
      std::int64_t next = 0;
      for (int r = 0; r < ranks; ++r) {
        const RowSlice s = rank_slice(rows, r, ranks);
        CHECK(s.begin == next);
        CHECK(s.begin % 4 == 0);
        CHECK(s.end >= s.begin);
        next = s.end;
      }
      CHECK(next == rows);
    }
  CHECK(rank_slice(16384, 1, 2).begin == 8192);
  CHECK(rank_slice(500, 1, 2).begin == 248);
}

TEST_CASE("a slice of the batch with first_row draws the global batch's dropout masks, forward and backward") {
  auto backend = make_cpu_backend();
  const int rows = 10, cols = 6;
  std::vector<float> z(rows * cols), bias(cols, 0.0f);
  for (std::size_t i = 0; i < z.size(); ++i) z[i] = 0.1f * float(i % 7) - 0.3f;
  const DropoutKey key{7, 3, 1};
  std::vector<float> whole = z;
  backend->bias_activation_dropout_forward(whole.data(), rows, cols, cols, bias.data(), Activation::tanh, 0.5f, key);
  std::vector<float> grad_whole(z.size(), 1.0f);
  backend->activation_dropout_backward(grad_whole.data(), whole.data(), rows, cols, cols, Activation::tanh, 0.5f, key);
  for (int first : {0, 3, 7}) {
    const int count = rows - first;
    DropoutKey slice_key = key;
    slice_key.first_row = std::uint64_t(first);
    std::vector<float> part(z.begin() + first * cols, z.end());
    backend->bias_activation_dropout_forward(part.data(), count, cols, cols, bias.data(), Activation::tanh, 0.5f,
                                             slice_key);
    CHECK(std::memcmp(part.data(), whole.data() + first * cols, part.size() * sizeof(float)) == 0);
    std::vector<float> grad(part.size(), 1.0f);
    backend->activation_dropout_backward(grad.data(), part.data(), count, cols, cols, Activation::tanh, 0.5f,
                                         slice_key);
    CHECK(std::memcmp(grad.data(), grad_whole.data() + first * cols, grad.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("the single-rank communicator is rank 0 of 1 and leaves every buffer as it is") {
  auto comm = make_single_communicator();
  CHECK(comm->rank() == 0);
  CHECK(comm->size() == 1);
  std::vector<float> f{1.5f, -2.0f};
  std::vector<double> d{3.25};
  std::vector<std::int64_t> i{42};
  comm->all_reduce_sum(f.data(), f.size());
  comm->all_reduce_sum_host(d.data(), d.size());
  comm->all_reduce_sum_host(i.data(), i.size());
  comm->barrier();
  CHECK(f == std::vector<float>{1.5f, -2.0f});
  CHECK(d[0] == 3.25);
  CHECK(i[0] == 42);
}

TEST_CASE("the CPU backend's scale multiplies in place") {
  auto backend = make_cpu_backend();
  std::vector<float> v{1.0f, -2.0f, 0.5f};
  backend->scale(v.data(), 0.25f, v.size());
  CHECK(v == std::vector<float>{0.25f, -0.5f, 0.125f});
}
