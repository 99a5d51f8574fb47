// The op registry (op_registry.hpp): every row of kCases runs on the CPU backend and on the CUDA backend with the
// same inputs, and the outputs are compared by normalised error ||gpu - cpu|| / ||cpu|| against the row's
// tolerance. Tolerances, by why the two backends may differ:
//   0      copies and integer results (fill, gather_rows, random_permutation, find_nonfinite, embed_inputs), and
//          sums in the same order on both backends (embedding_gradient: row order per code): bit for bit;
//   1e-6   float arithmetic in the CPU's order up to nvcc's FMA contractions (optimizer, standardize_columns);
//   1e-5   tanhf against std::tanh and float sums in another order (element-wise ops, bias gradients), and double
//          per-row losses rounded to float (loss_forward_backward);
//   1e-9   double sums in another order (column_moments, evaluate: loss, accuracy, AUC, RMSE, R^2 in double);
//   0      convert_to_bf16: the same rounding of the same floats;
//   1e-5   gemm_bf16: exact products of bfloat16s summed in float32 in another order (cuBLAS's tensor-core
//          reduction against OpenBLAS's), k <= 2048;
//   1e-4   the element-wise ops that store bfloat16: a float32 value one ulp away (tanhf against std::tanh, sums in
//          another order) rounds to the neighbouring bfloat16 (2^-8 relative) in a small fraction of elements.
// Sizes cover the scalar and float4 paths (cols % 4, ld % 4), the fused backward's fallback (> 1024 columns), one
// element, and grids larger than one wave.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "fasttab/model.hpp"
#include "host/backend/reference_math.hpp"
#include "op_registry.hpp"

using namespace fasttab;
using namespace fasttab::gpu_test;

namespace {

const DropoutKey kKey{1234, 7, 2};

std::size_t elements(const OpCase& c) { return static_cast<std::size_t>(c.rows) * static_cast<std::size_t>(c.ld); }

std::vector<float> labels_for(Task task, int rows, int width, std::uint32_t seed) {
  std::vector<float> u = random_floats(static_cast<std::size_t>(rows), seed, 0.0f, 1.0f);
  for (float& v : u) {
    if (task == Task::binary) v = v < 0.4f ? 0.0f : 1.0f;
    else if (task == Task::multiclass) v = static_cast<float>(static_cast<int>(v * width) % width);
    else v = 4.0f * v - 1.0f;
  }
  return u;
}

std::vector<double> run_fill(Backend& b, const OpCase& c) {
  BackendBuffer<float> dst(b, elements(c), "dst");
  b.fill(dst.data(), -2.5f, dst.size());
  std::vector<double> out;
  append(out, download(b, dst));
  return out;
}

std::vector<double> run_forward(Backend& b, const OpCase& c) {
  auto z = upload(b, random_floats(elements(c), 1, -2.0f, 2.0f));
  auto bias = upload(b, random_floats(static_cast<std::size_t>(c.cols), 2));
  b.bias_activation_dropout_forward(z.data(), c.rows, c.cols, c.ld, bias.data(), c.act, c.dropout, kKey);
  std::vector<double> out;
  append(out, download(b, z));
  return out;
}

std::vector<double> run_backward(Backend& b, const OpCase& c) {
  auto grad = upload(b, random_floats(elements(c), 3));
  auto act_out = upload(b, random_floats(elements(c), 4, -0.99f, 0.99f));
  b.activation_dropout_backward(grad.data(), act_out.data(), c.rows, c.cols, c.ld, c.act, c.dropout, kKey);
  std::vector<double> out;
  append(out, download(b, grad));
  return out;
}

std::vector<double> run_backward_bias_gradient(Backend& b, const OpCase& c) {
  auto grad = upload(b, random_floats(elements(c), 5));
  auto act_out = upload(b, random_floats(elements(c), 6, -0.99f, 0.99f));
  auto bias_grad = upload(b, std::vector<float>(static_cast<std::size_t>(c.cols), kNaN));
  b.activation_dropout_backward_bias_gradient(grad.data(), act_out.data(), c.rows, c.cols, c.ld, c.act, c.dropout,
                                              kKey, bias_grad.data());
  std::vector<double> out;
  append(out, download(b, grad));
  append(out, download(b, bias_grad));
  return out;
}

std::vector<double> run_bias_gradient(Backend& b, const OpCase& c) {
  auto grad = upload(b, random_floats(elements(c), 7));
  auto bias_grad = upload(b, std::vector<float>(static_cast<std::size_t>(c.cols), kNaN));
  b.bias_gradient(grad.data(), c.rows, c.cols, c.ld, bias_grad.data());
  std::vector<double> out;
  append(out, download(b, bias_grad));
  return out;
}

std::vector<double> run_loss(Backend& b, const OpCase& c) {
  auto x = upload(b, random_floats(elements(c), 8, -3.0f, 3.0f));
  auto y = upload(b, labels_for(c.task, c.rows, c.cols, 9));
  auto grad = upload(b, std::vector<float>(elements(c), 0.0f));
  auto loss = upload(b, std::vector<float>(1, kNaN));
  b.loss_forward_backward(c.task, x.data(), c.rows, c.cols, c.ld, y.data(), grad.data(), loss.data());
  std::vector<double> out;
  append(out, region(download(b, grad), c.rows, c.cols, c.ld));
  append(out, download(b, loss));
  return out;
}

std::vector<double> run_optimizer(Backend& b, const OpCase& c) {
  const std::size_t n = elements(c);
  auto params = upload(b, random_floats(n, 10));
  auto grads = upload(b, random_floats(n, 11));
  auto m = upload(b, random_floats(n, 12, -0.1f, 0.1f));
  auto v = upload(b, random_floats(n, 13, 0.0f, 0.01f));
  OptimizerUpdate u;
  u.kind = c.optimizer;
  u.lr = c.optimizer == OptimizerKind::sgd ? 0.05f : 1e-3f;
  u.weight_decay = 0.01f;
  u.momentum = c.optimizer == OptimizerKind::sgd ? 0.9f : 0.0f;
  u.step = 3;
  u.bias_correction1 = 1.0f - 0.9f * 0.9f * 0.9f;
  u.bias_correction2 = 1.0f - 0.999f * 0.999f * 0.999f;
  b.optimizer_update(u, params.data(), grads.data(), m.data(), v.data(), n);
  std::vector<double> out;
  append(out, download(b, params));
  append(out, download(b, m));
  append(out, download(b, v));
  return out;
}

std::vector<double> run_gather(Backend& b, const OpCase& c) {
  auto features = upload(b, random_floats(elements(c), 14, -100.0f, 100.0f));
  auto labels = upload(b, random_floats(static_cast<std::size_t>(c.rows), 15));
  std::vector<std::uint32_t> indices(static_cast<std::size_t>(c.rows));
  for (std::size_t i = 0; i < indices.size(); ++i) indices[i] = static_cast<std::uint32_t>((i * 7919) % indices.size());
  auto idx = upload(b, indices);
  BackendBuffer<float> out_features(b, elements(c), "out features"), out_labels(b, indices.size(), "out labels");
  b.gather_rows(features.data(), c.ld, labels.data(), idx.data(), c.rows, out_features.data(), out_labels.data());
  std::vector<double> out;
  append(out, download(b, out_features));
  append(out, download(b, out_labels));
  return out;
}

std::vector<double> run_permutation(Backend& b, const OpCase& c) {
  BackendBuffer<std::uint32_t> perm(b, static_cast<std::size_t>(c.rows), "permutation");
  b.random_permutation(99, 4, static_cast<std::uint32_t>(c.rows), perm.data());
  std::vector<double> out;
  append(out, download(b, perm));
  return out;
}

std::vector<double> run_column_moments(Backend& b, const OpCase& c) {
  auto table = upload(b, random_floats(elements(c), 16, -5.0f, 7.0f));
  std::vector<double> mean(static_cast<std::size_t>(c.cols)), stddev(mean.size());
  b.column_moments(table.data(), c.rows, c.cols, c.ld, mean.data(), stddev.data());
  std::vector<double> out = mean;
  out.insert(out.end(), stddev.begin(), stddev.end());
  return out;
}

std::vector<double> run_standardize(Backend& b, const OpCase& c) {
  auto table = upload(b, random_floats(elements(c), 17, -5.0f, 7.0f));
  auto mean = upload(b, random_floats(static_cast<std::size_t>(c.cols), 18));
  auto inv_std = upload(b, random_floats(static_cast<std::size_t>(c.cols), 19, 0.5f, 2.0f));
  b.standardize_columns(table.data(), c.rows, c.cols, c.ld, mean.data(), inv_std.data());
  std::vector<double> out;
  append(out, download(b, table));
  return out;
}

std::vector<double> run_evaluate(Backend& b, const OpCase& c) {
  auto x = upload(b, random_floats(elements(c), 20, -3.0f, 3.0f));
  auto y = upload(b, labels_for(c.task, c.rows, c.cols, 21));
  const Metrics m = b.evaluate(c.task, x.data(), c.rows, c.cols, c.ld, y.data());
  std::vector<double> out = {m.loss, m.auc, m.accuracy, m.rmse, m.mae, m.r2, static_cast<double>(m.rows)};
  for (double& v : out)
    if (std::isnan(v)) v = -1.0;  // a field that does not apply: NaN on both backends (checked in test_metrics.cpp)
  return out;
}

// Non-finite values planted at rows / 3 (NaN), rows / 2 (+inf) and the last element (-inf); `cols` selects
// which are planted (bit 0: NaN, bit 1: +inf, bit 2: -inf; 0: all finite). Output: the index found.
std::vector<double> run_find_nonfinite(Backend& b, const OpCase& c) {
  std::vector<float> v = random_floats(elements(c), 22, -1e30f, 1e30f);
  const std::size_t n = v.size();
  if (c.cols & 1) v[n / 3] = kNaN;
  if (c.cols & 2) v[n / 2] = std::numeric_limits<float>::infinity();
  if (c.cols & 4) v[n - 1] = -std::numeric_limits<float>::infinity();
  auto values = upload(b, v);
  return {static_cast<double>(b.find_nonfinite(values.data(), static_cast<std::int64_t>(n)))};
}

// Embedding cases: x has c.cols columns (leading dim c.ld), every other one categorical (cardinality 2..300, dim
// 1..16), codes mostly valid with NaN, out-of-range and non-integer ones mixed in. Tables after a gap of 3 floats.
struct EmbeddingCase {
  std::vector<InputColumn> columns;
  int width = 0;
  std::size_t table_floats = 3;
  std::vector<float> x;
};

EmbeddingCase embedding_case(const OpCase& c) {
  EmbeddingCase ec;
  for (int j = 0; j < c.cols; ++j) {
    InputColumn col;
    col.out_offset = ec.width;
    if (j % 2 == 1) {
      col.cardinality = 2 + (j * 37) % 299;
      col.dim = 1 + (j * 5) % 16;
      col.table_offset = static_cast<std::int64_t>(ec.table_floats);
      ec.table_floats += static_cast<std::size_t>(col.cardinality) * col.dim + 3;
    }
    ec.width += std::max(col.dim, 1);
    ec.columns.push_back(col);
  }
  ec.x = random_floats(elements(c), 23, 0.0f, 1.0f);
  for (int r = 0; r < c.rows; ++r)
    for (int j = 0; j < c.cols; ++j) {
      const InputColumn& col = ec.columns[static_cast<std::size_t>(j)];
      float& v = ec.x[static_cast<std::size_t>(r) * c.ld + j];
      if (col.dim == 0) continue;
      const int roll = (r * 7 + j) % 23;
      if (roll == 0) v = kNaN;
      else if (roll == 1) v = static_cast<float>(col.cardinality);  // out of range
      else if (roll == 2) v = 1.5f;                                  // not an integer
      else v = std::floor(v * v * static_cast<float>(col.cardinality));  // skewed towards small codes
    }
  return ec;
}

std::vector<double> run_embed_inputs(Backend& b, const OpCase& c) {
  const EmbeddingCase ec = embedding_case(c);
  auto columns = upload(b, ec.columns);
  const InputLayout layout{ec.columns.data(), columns.data(), c.cols, ec.width};
  auto x = upload(b, ec.x);
  auto tables = upload(b, random_floats(ec.table_floats, 24));
  const int ld_e = ec.width + 1;
  auto e = upload(b, std::vector<float>(static_cast<std::size_t>(c.rows) * ld_e, -7.0f));
  b.embed_inputs(x.data(), c.ld, c.rows, layout, tables.data(), e.data(), ld_e);
  std::vector<double> out;
  append(out, download(b, e));
  return out;
}

std::vector<double> run_embedding_gradient(Backend& b, const OpCase& c) {
  const EmbeddingCase ec = embedding_case(c);
  auto columns = upload(b, ec.columns);
  const InputLayout layout{ec.columns.data(), columns.data(), c.cols, ec.width};
  auto x = upload(b, ec.x);
  const int ld_g = ec.width + 3;
  auto grad_e = upload(b, random_floats(static_cast<std::size_t>(c.rows) * ld_g, 25));
  auto table_grads = upload(b, std::vector<float>(ec.table_floats, -7.0f));
  b.embedding_gradient(x.data(), c.ld, c.rows, layout, grad_e.data(), ld_g, table_grads.data());
  std::vector<double> out;
  append(out, download(b, table_grads));
  return out;
}

// ---- bfloat16 storage (Precision::bf16) ----
// A bfloat16 buffer's values as doubles (each exact), and a finite pattern (3.140625) in the padding of rows that
// no op may write: it must come back unchanged from both backends.
std::vector<double> bf16_values(Backend& b, const BackendBuffer<bfloat16>& buffer) {
  std::vector<double> out;
  for (bfloat16 v : download(b, buffer)) out.push_back(reference::bf16_value(v));
  return out;
}
BackendBuffer<bfloat16> bf16_buffer(Backend& b, std::size_t n) {
  return upload(b, std::vector<bfloat16>(n, bfloat16{0x4049u}));
}
// c.ld is the bfloat16 leading dimension; the float32 source is c.cols wide plus 1 (a source ld != the result's).
std::vector<double> run_convert_bf16(Backend& b, const OpCase& c) {
  const int ld_src = c.cols + 1;
  std::vector<float> values = random_floats(std::size_t(c.rows) * ld_src, 21, -3.0f, 3.0f);
  for (std::size_t i = 0; i < values.size(); i += 7) values[i] *= 1e30f;  // large, and
  for (std::size_t i = 3; i < values.size(); i += 11) values[i] *= 1e-39f;  // subnormal
  auto src = upload(b, values);
  auto dst = bf16_buffer(b, elements(c));
  b.convert_to_bf16(src.data(), c.rows, c.cols, ld_src, dst.data(), c.ld);
  return bf16_values(b, dst);
}
// m = c.rows, n = c.cols, k = c.ld; the four (trans_a, trans_b) forms, operands in rows padded to 8 bfloat16s.
std::vector<double> run_gemm_bf16(Backend& b, const OpCase& c) {
  const int m = c.rows, n = c.cols, k = c.ld;
  std::vector<double> out;
  for (int form = 0; form < 4; ++form) {
    const bool ta = form & 1, tb = form & 2;
    const int a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
    const int lda = Mlp::bf16_ld(a_cols), ldb = Mlp::bf16_ld(b_cols);
    auto a32 = upload(b, random_floats(std::size_t(a_rows) * a_cols, 22 + form));
    auto b32 = upload(b, random_floats(std::size_t(b_rows) * b_cols, 26 + form));
    auto a16 = bf16_buffer(b, std::size_t(a_rows) * lda), b16 = bf16_buffer(b, std::size_t(b_rows) * ldb);
    b.convert_to_bf16(a32.data(), a_rows, a_cols, a_cols, a16.data(), lda);
    b.convert_to_bf16(b32.data(), b_rows, b_cols, b_cols, b16.data(), ldb);
    auto result = upload(b, random_floats(std::size_t(m) * n, 30));  // beta = 0.5 reads it
    b.gemm_bf16(ta, tb, m, n, k, 1.5f, a16.data(), lda, b16.data(), ldb, 0.5f, result.data(), n);
    append(out, download(b, result));
  }
  return out;
}
// z float32 (leading dim c.cols rounded up to 4), activations bfloat16 (leading dim c.ld).
std::vector<double> run_forward_bf16(Backend& b, const OpCase& c) {
  const int ld_z = (c.cols + 3) / 4 * 4;
  auto z = upload(b, random_floats(std::size_t(c.rows) * ld_z, 1, -2.0f, 2.0f));
  auto bias = upload(b, random_floats(static_cast<std::size_t>(c.cols), 2));
  auto out = bf16_buffer(b, elements(c));
  b.bias_activation_dropout_forward_bf16(z.data(), c.rows, c.cols, ld_z, bias.data(), c.act, c.dropout, kKey,
                                         out.data(), c.ld);
  return bf16_values(b, out);
}
// grad float32 (leading dim c.cols rounded up to 4), the stored output and the result bfloat16 (leading dim c.ld).
std::vector<double> run_backward_bias_gradient_bf16(Backend& b, const OpCase& c) {
  const int ld_grad = (c.cols + 3) / 4 * 4;
  auto grad = upload(b, random_floats(std::size_t(c.rows) * ld_grad, 5));
  auto out32 = upload(b, random_floats(elements(c), 6, -0.99f, 0.99f));
  auto out16 = bf16_buffer(b, elements(c));
  b.convert_to_bf16(out32.data(), c.rows, c.cols, c.ld, out16.data(), c.ld);
  auto bias_grad = upload(b, std::vector<float>(static_cast<std::size_t>(c.cols), kNaN));
  auto grad_z = bf16_buffer(b, elements(c));
  b.activation_dropout_backward_bias_gradient_bf16(grad.data(), ld_grad, out16.data(), c.ld, c.rows, c.cols, c.act,
                                                   c.dropout, kKey, bias_grad.data(), grad_z.data(), c.ld);
  std::vector<double> out = bf16_values(b, grad_z);
  append(out, download(b, bias_grad));
  return out;
}

OpRunner runner_for(const std::string& op) {
  if (op == "fill") return run_fill;
  if (op == "bias_activation_dropout_forward") return run_forward;
  if (op == "activation_dropout_backward") return run_backward;
  if (op == "activation_dropout_backward_bias_gradient") return run_backward_bias_gradient;
  if (op == "bias_gradient") return run_bias_gradient;
  if (op == "loss_forward_backward") return run_loss;
  if (op == "optimizer_update") return run_optimizer;
  if (op == "gather_rows") return run_gather;
  if (op == "random_permutation") return run_permutation;
  if (op == "column_moments") return run_column_moments;
  if (op == "standardize_columns") return run_standardize;
  if (op == "evaluate") return run_evaluate;
  if (op == "find_nonfinite") return run_find_nonfinite;
  if (op == "embed_inputs") return run_embed_inputs;
  if (op == "embedding_gradient") return run_embedding_gradient;
  if (op == "convert_to_bf16") return run_convert_bf16;
  if (op == "gemm_bf16") return run_gemm_bf16;
  if (op == "bias_activation_dropout_forward_bf16") return run_forward_bf16;
  if (op == "activation_dropout_backward_bias_gradient_bf16") return run_backward_bias_gradient_bf16;
  return nullptr;
}

constexpr Activation kTanh = Activation::tanh, kRelu = Activation::relu, kIdentity = Activation::identity;

// clang-format off
const OpCase kCases[] = {
  // op                                        rows    cols  ld    tol    act        p     task
  {"fill",                                     1000,   7,    9,    0.0},
  {"fill",                                     1,      1,    1,    0.0},
  {"bias_activation_dropout_forward",          37,     301,  304,  1e-5, kTanh,     0.0f},
  {"bias_activation_dropout_forward",          37,     301,  304,  1e-5, kTanh,     0.3f},
  {"bias_activation_dropout_forward",          513,    128,  128,  1e-5, kRelu,     0.5f},
  {"bias_activation_dropout_forward",          16384,  300,  300,  1e-5, kTanh,     0.2f},
  {"bias_activation_dropout_forward",          1000,   7,    9,    1e-5, kIdentity, 0.0f},
  {"bias_activation_dropout_forward",          1,      1,    1,    1e-5, kRelu,     0.0f},
  {"activation_dropout_backward",              37,     301,  304,  1e-5, kTanh,     0.3f},
  {"activation_dropout_backward",              513,    128,  128,  1e-5, kRelu,     0.0f},
  {"activation_dropout_backward",              16384,  300,  300,  1e-5, kTanh,     0.2f},
  {"activation_dropout_backward",              1000,   7,    9,    1e-5, kIdentity, 0.5f},
  {"activation_dropout_backward_bias_gradient", 129,   300,  304,  1e-5, kTanh,     0.3f},
  {"activation_dropout_backward_bias_gradient", 16384, 300,  300,  1e-5, kRelu,     0.0f},
  {"activation_dropout_backward_bias_gradient", 4096,  1024, 1024, 1e-5, kTanh,     0.2f},
  {"activation_dropout_backward_bias_gradient", 300,   1028, 1028, 1e-5, kTanh,     0.2f},  // > 1024: fallback
  {"activation_dropout_backward_bias_gradient", 64,    6,    6,    1e-5, kIdentity, 0.0f},  // not float4: fallback
  {"bias_gradient",                            16384,  300,  300,  1e-5},
  {"bias_gradient",                            1000,   7,    9,    1e-5},
  {"bias_gradient",                            1,      1,    1,    1e-5},
  {"loss_forward_backward",                    5000,   1,    1,    1e-5, kTanh, 0.0f, Task::binary},
  {"loss_forward_backward",                    777,    5,    8,    1e-5, kTanh, 0.0f, Task::multiclass},
  {"loss_forward_backward",                    2048,   1,    3,    1e-5, kTanh, 0.0f, Task::regression},
  {"optimizer_update",                         1000,   301,  301,  1e-6, kTanh, 0.0f, Task::binary, OptimizerKind::adam},
  {"optimizer_update",                         1000,   301,  301,  1e-6, kTanh, 0.0f, Task::binary, OptimizerKind::adamw},
  {"optimizer_update",                         1000,   301,  301,  1e-6, kTanh, 0.0f, Task::binary, OptimizerKind::sgd},
  {"gather_rows",                              1000,   300,  300,  0.0},
  {"gather_rows",                              1000,   7,    9,    0.0},
  {"random_permutation",                       1,      1,    1,    0.0},
  {"random_permutation",                       (1 << 20) + 3, 1, 1, 0.0},
  {"column_moments",                           10000,  37,   40,   1e-9},
  {"column_moments",                           1,      3,    3,    1e-9},
  {"standardize_columns",                      1000,   7,    9,    1e-6},
  {"standardize_columns",                      4096,   300,  300,  1e-6},
  {"evaluate",                                 10000,  1,    1,    1e-9, kTanh, 0.0f, Task::binary},
  {"evaluate",                                 3000,   5,    8,    1e-9, kTanh, 0.0f, Task::multiclass},
  {"evaluate",                                 3000,   1,    1,    1e-9, kTanh, 0.0f, Task::regression},
  // find_nonfinite: cols = which non-finite values are planted (see run_find_nonfinite).
  {"find_nonfinite",                           1,      0,    1,    0.0},
  {"find_nonfinite",                           1,      4,    1,    0.0},
  {"find_nonfinite",                           (1 << 20) + 5, 0, 1, 0.0},
  {"find_nonfinite",                           (1 << 20) + 5, 7, 1, 0.0},
  {"find_nonfinite",                           (1 << 20) + 5, 6, 1, 0.0},
  {"find_nonfinite",                           (1 << 20) + 5, 4, 1, 0.0},
  // embed_inputs, embedding_gradient: cols = x's columns (every other one categorical, see embedding_case).
  {"embed_inputs",                             1000,   7,    9,    0.0},
  {"embed_inputs",                             1,      2,    2,    0.0},
  {"embedding_gradient",                       1000,   7,    9,    0.0},
  {"embedding_gradient",                       16384,  12,   13,   0.0},
  {"embedding_gradient",                       1,      2,    2,    0.0},
  // bfloat16 storage. ld: the bfloat16 leading dimension (gemm_bf16: k).
  {"convert_to_bf16",                          1000,   300,  304,  0.0},
  {"convert_to_bf16",                          777,    21,   24,   0.0},
  {"convert_to_bf16",                          1,      1,    8,    0.0},
  {"gemm_bf16",                                2048,   300,  300,  1e-5},
  {"gemm_bf16",                                129,    1,    21,   1e-5},
  {"gemm_bf16",                                300,    300,  2048, 1e-5},
  {"bias_activation_dropout_forward_bf16",     16384,  300,  304,  1e-4, kTanh,     0.5f},
  {"bias_activation_dropout_forward_bf16",     513,    128,  128,  1e-4, kRelu,     0.0f},
  {"bias_activation_dropout_forward_bf16",     37,     301,  304,  1e-4, kTanh,     0.3f},  // not float4: scalar
  {"activation_dropout_backward_bias_gradient_bf16", 16384, 300, 304, 1e-4, kTanh, 0.5f},
  {"activation_dropout_backward_bias_gradient_bf16", 513,   128, 128, 1e-4, kRelu, 0.0f},
  {"activation_dropout_backward_bias_gradient_bf16", 300,  1028, 1032, 1e-4, kTanh, 0.2f},  // > 1024: fallback
  {"activation_dropout_backward_bias_gradient_bf16", 64,    6,    8,   1e-4, kIdentity, 0.0f},  // fallback
};
// clang-format on

}  // namespace

TEST_CASE("op registry: every case on the CPU and the CUDA backend, within the case's normalised error") {
  FASTTAB_REQUIRE_CUDA_DEVICE();
  Backends b = make_backends();
  for (const OpCase& c : kCases) {
    INFO(describe(c));
    const OpRunner run = runner_for(c.op);
    REQUIRE(static_cast<bool>(run));  // every op in the table has a runner
    const std::vector<double> want = run(*b.cpu, c);
    const std::vector<double> got = run(*b.gpu, c);
    const double error = relative_error(got, want);
    INFO("normalised error " << error << ", tolerance " << c.tolerance);
    if (c.tolerance == 0.0) CHECK(got == want);
    else CHECK(error <= c.tolerance);
  }
}
