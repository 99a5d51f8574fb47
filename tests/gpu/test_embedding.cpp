// The embedding ops (cuda/ops/embedding.cu) on the CUDA backend against the CPU backend, bit for bit (memcmp):
//   embed_inputs: e, padding included (left as it was), for random layouts of numeric and categorical columns;
//   embedding_gradient: every table's gradient, the floats between tables left as they were, codes absent from
//     the batch 0, a code present in every row and a column of NaN codes (one run of all rows), and a second CUDA
//     run equal to the first.
// Layouts: 1..12 columns, cardinalities 2..5000, dims 1..16, odd leading dimensions, tables apart by a gap;
// codes mostly valid (skewed towards a few values, for long runs) with NaN (several payloads), negative,
// out-of-range, non-integer and infinite values mixed in; rows from 1 to 20000.
#include <algorithm>
#include <cstdint>
#include <string>

#include "gpu_test_support.hpp"
#include "host/backend/embedding_row.hpp"

using namespace fasttab;
using namespace fasttab::gpu_test;

namespace {

constexpr float kSentinel = -7.25f;  // what the ops must not overwrite (e's padding, the gaps between tables)
constexpr int kTableGap = 3;         // floats between two tables (and before the first)

struct Problem {
  int rows = 0, ld_x = 0, ld_e = 0;
  std::vector<InputColumn> columns;
  int width = 0;
  std::vector<float> x;       // [rows, ld_x]
  std::vector<float> tables;  // the tables, kTableGap floats apart
  std::vector<float> grad_e;  // [rows, ld_e]
};

float bits_float(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// A code of a `cardinality`-row column: mostly valid and skewed (half the rows on codes 0..3, for long runs),
// one in ten malformed.
float random_code(std::mt19937& gen, int cardinality) {
  std::uniform_int_distribution<int> pick(0, 99);
  const int roll = pick(gen);
  const float c = static_cast<float>(cardinality);
  if (roll < 10) {
    const float malformed[] = {kNaN, bits_float(0x7fc01234u), bits_float(0xffc00001u), -1.0f, -0.0f, c, c + 0.5f,
                               2.5f, 1.000001f, std::numeric_limits<float>::infinity(),
                               -std::numeric_limits<float>::infinity(), 1e30f, -3.5f};
    return malformed[std::uniform_int_distribution<int>(0, 12)(gen)];
  }
  if (roll < 55) return static_cast<float>(std::uniform_int_distribution<int>(0, std::min(3, cardinality - 1))(gen));
  return static_cast<float>(std::uniform_int_distribution<int>(0, cardinality - 1)(gen));
}

// `column_count` columns, each categorical with probability one half (the last one when none was); with `fixed`,
// every row of the first categorical column holds `fixed_code` (one run of all rows), the others random codes.
Problem make_problem(std::uint32_t seed, int rows, int column_count, float fixed_code = 0.0f, bool fixed = false) {
  std::mt19937 gen(seed);
  Problem p;
  p.rows = rows;
  const int cardinalities[] = {2, 3, 5, 17, 100, 257, 1000, 4999, 5000};
  int out = 0;
  std::int64_t table_at = kTableGap;
  bool any_categorical = false;
  for (int j = 0; j < column_count; ++j) {
    InputColumn c;
    c.out_offset = out;
    const bool categorical =
        std::uniform_int_distribution<int>(0, 1)(gen) == 1 || (j == column_count - 1 && !any_categorical);
    if (categorical) {
      any_categorical = true;
      c.cardinality = cardinalities[std::uniform_int_distribution<int>(0, 8)(gen)];
      c.dim = std::uniform_int_distribution<int>(1, 16)(gen);
      c.table_offset = table_at;
      table_at += static_cast<std::int64_t>(c.cardinality) * c.dim + kTableGap;
    }
    out += std::max(c.dim, 1);
    p.columns.push_back(c);
  }
  p.width = out;
  p.ld_x = column_count + 1 + 2 * std::uniform_int_distribution<int>(0, 2)(gen);  // odd padding
  p.ld_e = p.width + 1 + 2 * std::uniform_int_distribution<int>(0, 2)(gen);

  p.x = random_floats(static_cast<std::size_t>(rows) * p.ld_x, seed + 1, -3.0f, 3.0f);
  bool first_categorical = true;
  for (int j = 0; j < column_count; ++j) {
    const InputColumn& c = p.columns[static_cast<std::size_t>(j)];
    for (int r = 0; r < rows; ++r) {
      float& v = p.x[static_cast<std::size_t>(r) * p.ld_x + j];
      if (c.dim == 0) {
        if (r % 101 == 7) v = bits_float(0x7fc0beefu);  // a numeric NaN with a payload: copied as it is
      } else {
        v = fixed && first_categorical ? fixed_code : random_code(gen, c.cardinality);
      }
    }
    if (c.dim > 0) first_categorical = false;
  }
  p.tables = random_floats(static_cast<std::size_t>(table_at), seed + 2, -1.7f, 1.7f);
  p.grad_e = random_floats(static_cast<std::size_t>(rows) * p.ld_e, seed + 3);
  return p;
}

struct Outputs {
  std::vector<float> e;      // [rows, ld_e], padding included
  std::vector<float> grads;  // the size of the tables, gaps included
};

Outputs run(Backend& b, const Problem& p) {
  auto columns = upload(b, p.columns);
  const InputLayout layout{p.columns.data(), columns.data(), static_cast<int>(p.columns.size()), p.width};
  auto x = upload(b, p.x), tables = upload(b, p.tables), grad_e = upload(b, p.grad_e);
  BackendBuffer<float> e(b, static_cast<std::size_t>(p.rows) * p.ld_e, "e");
  BackendBuffer<float> grads(b, p.tables.size(), "table gradients");
  b.fill(e.data(), kSentinel, e.size());
  b.fill(grads.data(), kSentinel, grads.size());
  b.embed_inputs(x.data(), p.ld_x, p.rows, layout, tables.data(), e.data(), p.ld_e);
  b.embedding_gradient(x.data(), p.ld_x, p.rows, layout, grad_e.data(), p.ld_e, grads.data());
  return Outputs{download(b, e), download(b, grads)};
}

// The CPU's output against the definition's easy parts: the gaps untouched, rows of absent codes 0, e's padding
// untouched.
void check_definition(const Problem& p, const Outputs& o) {
  std::vector<char> table_float(p.tables.size(), 0);
  for (std::size_t j = 0; j < p.columns.size(); ++j) {
    const InputColumn& c = p.columns[j];
    if (c.dim == 0) continue;
    std::vector<char> present(static_cast<std::size_t>(c.cardinality), 0);
    for (int r = 0; r < p.rows; ++r)
      present[static_cast<std::size_t>(embedding_row(p.x[static_cast<std::size_t>(r) * p.ld_x + j], c.cardinality))] = 1;
    bool absent_zero = true;
    for (int v = 0; v < c.cardinality; ++v)
      for (int k = 0; k < c.dim; ++k) {
        const std::size_t at = static_cast<std::size_t>(c.table_offset) + static_cast<std::size_t>(v) * c.dim + k;
        table_float[at] = 1;
        if (!present[static_cast<std::size_t>(v)] && !(o.grads[at] == 0.0f && !std::signbit(o.grads[at])))
          absent_zero = false;
      }
    CHECK(absent_zero);
  }
  bool gaps_kept = true;
  for (std::size_t i = 0; i < p.tables.size(); ++i)
    if (!table_float[i] && o.grads[i] != kSentinel) gaps_kept = false;
  CHECK(gaps_kept);
  CHECK(padding(o.e, p.rows, p.width, p.ld_e) ==
        std::vector<float>(static_cast<std::size_t>(p.rows) * (p.ld_e - p.width), kSentinel));
}

void compare(Backends& b, const Problem& p) {
  const Outputs want = run(*b.cpu, p);
  const Outputs got = run(*b.gpu, p);
  const Outputs again = run(*b.gpu, p);
  check_definition(p, want);
  CHECK(same_bits(got.e, want.e));
  CHECK(same_bits(got.grads, want.grads));
  CHECK(same_bits(again.e, got.e));
  CHECK(same_bits(again.grads, got.grads));
}

std::string describe(const Problem& p) {
  std::string s = "rows " + std::to_string(p.rows) + " ld_x " + std::to_string(p.ld_x) + " ld_e " +
                  std::to_string(p.ld_e) + " columns";
  for (const InputColumn& c : p.columns)
    s += c.dim == 0 ? " num" : " cat(" + std::to_string(c.cardinality) + "x" + std::to_string(c.dim) + ")";
  return s;
}

}  // namespace

TEST_CASE("cuda embed_inputs and embedding_gradient equal the CPU's bit for bit on random layouts") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  Backends b = make_backends();
  const int row_counts[] = {1, 2, 37, 256, 1000, 4097, 20000};
  std::uint32_t seed = 9100;
  for (int rows : row_counts)
    for (int trial = 0; trial < 3; ++trial) {
      seed += 10;
      const int columns = 1 + static_cast<int>(seed / 10 % 12);
      const Problem p = make_problem(seed, rows, columns);
      INFO("seed " << seed << ": " << describe(p));
      compare(b, p);
    }
}

TEST_CASE("cuda embedding_gradient: one code in every row, and every row missing (NaN)") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  Backends b = make_backends();
  for (int rows : {1, 3000, 20000})
    for (float code : {1.0f, 3.0f, kNaN}) {
      const Problem p = make_problem(9700 + static_cast<std::uint32_t>(rows), rows, 5, code, true);
      INFO("code " << code << ": " << describe(p));
      compare(b, p);
    }
}

TEST_CASE("cuda embedding ops: no rows, and numeric columns only") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  Backends b = make_backends();
  // No rows: e untouched, every table's gradient 0.
  compare(b, make_problem(9801, 0, 6));
  // Numeric columns only: e is a copy of x, no table.
  Problem p = make_problem(9802, 500, 4);
  for (InputColumn& c : p.columns) c = InputColumn{c.out_offset, 0, 0, 0};
  int out = 0;
  for (InputColumn& c : p.columns) c.out_offset = out++;
  p.width = out;
  p.ld_e = out + 1;
  p.grad_e.assign(static_cast<std::size_t>(p.rows) * p.ld_e, 0.5f);
  compare(b, p);
}
