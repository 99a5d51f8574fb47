// Precision::bf16 on the CPU backend, which stores what the GPU stores in bfloat16 and widens it for OpenBLAS (Mlp,
// Backend::convert_to_bf16, gemm_bf16 and the bf16 element-wise ops): the rounding itself against hand-made cases,
// the ops against their float32 forms, what a bf16 pass stores in bfloat16 and what it leaves in float32, its
// gradients against float32's, training (learns, reproducible, predictions in the model's precision).
// Checkpoint resume under bf16 is in tests/cpu/checkpoint/test_checkpoint_resume.cpp.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "fasttab/backend.hpp"
#include "fasttab/checkpoint.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/metrics.hpp"
#include "fasttab/model.hpp"
#include "fasttab/predictor.hpp"
#include "fasttab/synthetic.hpp"
#include "fasttab/trainer.hpp"
#include "host/backend/reference_math.hpp"
#include "test_support.hpp"

using namespace fasttab;

namespace {

std::uint32_t bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
float from_bits(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
std::uint32_t rounded_bits(std::uint32_t u) { return bits(reference::round_to_bf16(from_bits(u))); }

std::vector<float> widened(const std::vector<bfloat16>& v) {
  std::vector<float> out;
  for (bfloat16 b : v) out.push_back(reference::bf16_value(b));
  return out;
}

std::size_t count_with_low_bits(const std::vector<float>& v) {
  std::size_t n = 0;
  for (float f : v) n += (bits(f) & 0xffffu) != 0;
  return n;
}

}  // namespace

TEST_CASE("round_to_bf16: round-to-nearest-even on hand-made cases") {
  // Exact bfloat16 values are unchanged.
  CHECK(rounded_bits(0x3f800000u) == 0x3f800000u);  // 1
  CHECK(rounded_bits(0x00000000u) == 0x00000000u);  // +0
  CHECK(rounded_bits(0x80000000u) == 0x80000000u);  // -0 keeps its sign
  CHECK(rounded_bits(0xc0490000u) == 0xc0490000u);
  // Below, above and exactly at half an ulp (the dropped 16 bits 0x7fff, 0x8001, 0x8000).
  CHECK(rounded_bits(0x3f807fffu) == 0x3f800000u);
  CHECK(rounded_bits(0x3f808001u) == 0x3f810000u);
  CHECK(rounded_bits(0x3f808000u) == 0x3f800000u);  // tie, 0x3f80 even: down
  CHECK(rounded_bits(0x3f818000u) == 0x3f820000u);  // tie, 0x3f81 odd: up
  CHECK(rounded_bits(0xbf808001u) == 0xbf810000u);  // negative: away from zero above half
  CHECK(rounded_bits(0xbf818000u) == 0xbf820000u);  // negative tie to even
  CHECK(rounded_bits(0x3fffffffu) == 0x40000000u);  // the carry reaches the exponent: 2
  // Subnormals are rounded like any value, not flushed.
  CHECK(rounded_bits(0x00000001u) == 0x00000000u);  // the smallest float subnormal: to +0
  CHECK(rounded_bits(0x80000001u) == 0x80000000u);  // to -0
  CHECK(rounded_bits(0x00010000u) == 0x00010000u);  // the smallest bfloat16 subnormal
  CHECK(rounded_bits(0x00008000u) == 0x00000000u);  // tie, 0x0000 even
  CHECK(rounded_bits(0x00018000u) == 0x00020000u);  // tie, 0x0001 odd
  CHECK(rounded_bits(0x00008001u) == 0x00010000u);
  CHECK(rounded_bits(0x007fffffu) == 0x00800000u);  // the largest float subnormal rounds up to FLT_MIN
  // The top of the range: the largest bfloat16 stays, beyond half an ulp above it is +-Inf.
  CHECK(rounded_bits(0x7f7f0000u) == 0x7f7f0000u);  // 3.3895e38, the largest bfloat16
  CHECK(rounded_bits(0x7f7f7fffu) == 0x7f7f0000u);
  CHECK(rounded_bits(0x7f7f8000u) == 0x7f800000u);  // tie, 0x7f7f odd: up, to Inf
  CHECK(rounded_bits(0x7f7fffffu) == 0x7f800000u);  // FLT_MAX -> +Inf
  CHECK(rounded_bits(0xff7fffffu) == 0xff800000u);  // -FLT_MAX -> -Inf
  CHECK(rounded_bits(0x7f800000u) == 0x7f800000u);  // +Inf
  CHECK(rounded_bits(0xff800000u) == 0xff800000u);  // -Inf
  // Every NaN stays a NaN: the canonical bfloat16 NaN 0x7fff, as __float2bfloat16_rn. A signalling NaN whose
  // payload sits in the dropped bits (0x7f800001) would become Inf under plain rounding.
  for (std::uint32_t nan : {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu, 0x7fc0ffffu}) {
    CAPTURE(nan);
    CHECK(rounded_bits(nan) == 0x7fff0000u);
    CHECK(std::isnan(reference::round_to_bf16(from_bits(nan))));
  }
  CHECK(reference::round_to_bf16(1.0f + 1.0f / 256) == 1.0f);         // 1 + 2^-8: a tie, to even
  CHECK(reference::round_to_bf16(1.0f + 3.0f / 256) == 1.0f + 4.0f / 256);
}

TEST_CASE("convert_to_bf16: the CPU backend's op is the reference bit for bit, within half an ulp, padding untouched") {
  std::mt19937 rng(7);
  const int rows = 256, cols = 255, ld_src = 256, ld_dst = 264;
  std::vector<float> values(std::size_t(rows) * ld_src);
  for (float& v : values) v = from_bits(rng());  // every class of bit pattern: NaN, Inf, subnormal, normal
  values[0] = from_bits(0x7f800001u);
  auto backend = make_cpu_backend(2);
  std::vector<bfloat16> converted(std::size_t(rows) * ld_dst, bfloat16{0x1234u});
  backend->convert_to_bf16(values.data(), rows, cols, ld_src, converted.data(), ld_dst);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < ld_dst; ++c) {
      const bfloat16 b = converted[std::size_t(r) * ld_dst + c];
      if (c >= cols) {  // the padding of each row is not written
        REQUIRE(b.bits == 0x1234u);
        continue;
      }
      const float v = values[std::size_t(r) * ld_src + c];
      CAPTURE(bits(v));
      REQUIRE(b.bits == reference::bf16_bits(v).bits);
      REQUIRE(bits(reference::bf16_value(b)) == bits(reference::round_to_bf16(v)));
      const float w = reference::bf16_value(b);
      if (std::isfinite(v) && std::isfinite(w) && std::fabs(v) >= 1.1754944e-38f) {
        // At most half a bfloat16 ulp (2^-8 relative to the value's binade) away.
        REQUIRE(std::fabs(double(w) - double(v)) <= std::fabs(double(v)) * std::ldexp(1.0, -8));
      }
    }
  }
}

TEST_CASE("gemm_bf16 is the float32 GEMM of the bfloat16 values, in every transpose form, padding never read") {
  // The CPU widens the bfloat16 operands and calls sgemm: the same bits as gemm() on the widened values (the same
  // code on the same shapes). Every row's padding holds NaN: a read of it would poison the result.
  const int m = 37, n = 29, k = 45;
  auto backend = make_cpu_backend(1);
  for (int form = 0; form < 4; ++form) {
    CAPTURE(form);
    const bool ta = form & 1, tb = form & 2;
    const int a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
    const int lda = Mlp::bf16_ld(a_cols) + 8, ldb = Mlp::bf16_ld(b_cols) + 8;
    const std::vector<float> a = test::random_vector(std::size_t(a_rows) * a_cols, 40 + form, -1.0f, 1.0f);
    const std::vector<float> b = test::random_vector(std::size_t(b_rows) * b_cols, 50 + form, -1.0f, 1.0f);
    std::vector<bfloat16> a16(std::size_t(a_rows) * lda, bfloat16{0x7fc0u}), b16(std::size_t(b_rows) * ldb, bfloat16{0x7fc0u});
    backend->convert_to_bf16(a.data(), a_rows, a_cols, a_cols, a16.data(), lda);
    backend->convert_to_bf16(b.data(), b_rows, b_cols, b_cols, b16.data(), ldb);
    std::vector<float> c16(std::size_t(m) * n, 1.0f), c32(std::size_t(m) * n, 1.0f);
    backend->gemm_bf16(ta, tb, m, n, k, 2.0f, a16.data(), lda, b16.data(), ldb, 0.5f, c16.data(), n);
    // The reference: the rounded operands in float32 rows of the same shapes, unpadded.
    std::vector<float> ar(a.size()), br(b.size());
    for (std::size_t i = 0; i < a.size(); ++i) ar[i] = reference::round_to_bf16(a[i]);
    for (std::size_t i = 0; i < b.size(); ++i) br[i] = reference::round_to_bf16(b[i]);
    backend->gemm(ta, tb, m, n, k, 2.0f, ar.data(), a_cols, br.data(), b_cols, 0.5f, c32.data(), n);
    for (float v : c16) REQUIRE(std::isfinite(v));
    // Bound: the same products summed in float32, perhaps in another blocking for the other leading dimensions.
    CHECK(test::relative_error(c16, c32) < 1e-6);
  }
}

TEST_CASE("the bf16 element-wise ops are the float32 ops rounded once where they store a bfloat16") {
  // Same backend, same element math: the bfloat16 results equal the float32 op's results rounded, bit for bit, and
  // the bias gradient (summed from float32 values) equals the float32 op's bit for bit.
  const int rows = 33, cols = 45, ld32 = 48, ld16 = 56;
  auto backend = make_cpu_backend(1);
  const std::vector<float> z = test::random_vector(std::size_t(rows) * ld32, 61, -2.0f, 2.0f);
  const std::vector<float> bias = test::random_vector(std::size_t(cols), 62, -1.0f, 1.0f);
  for (Activation act : {Activation::tanh, Activation::relu}) {
    for (float p : {0.0f, 0.4f}) {
      CAPTURE(int(act));
      CAPTURE(p);
      const DropoutKey key{5, 3, 1};
      std::vector<bfloat16> a16(std::size_t(rows) * ld16, bfloat16{0x1234u});
      backend->bias_activation_dropout_forward_bf16(z.data(), rows, cols, ld32, bias.data(), act, p, key, a16.data(),
                                                    ld16);
      std::vector<float> a32 = z;
      backend->bias_activation_dropout_forward(a32.data(), rows, cols, ld32, bias.data(), act, p, key);
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < ld16; ++c) {
          const bfloat16 got = a16[std::size_t(r) * ld16 + c];
          REQUIRE(got.bits == (c < cols ? reference::bf16_bits(a32[std::size_t(r) * ld32 + c]).bits : 0x1234u));
        }
      // Backward from the bfloat16 activations: against the float32 op on their widened values.
      std::vector<float> out32(std::size_t(rows) * ld32, 0.0f);
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) out32[std::size_t(r) * ld32 + c] = reference::bf16_value(a16[std::size_t(r) * ld16 + c]);
      const std::vector<float> grad = test::random_vector(std::size_t(rows) * ld32, 63, -1.0f, 1.0f);
      std::vector<float> g16_scratch = grad, g32 = grad;
      std::vector<float> bias16(static_cast<std::size_t>(cols)), bias32(static_cast<std::size_t>(cols));
      std::vector<bfloat16> gz(std::size_t(rows) * ld16, bfloat16{0x1234u});
      backend->activation_dropout_backward_bias_gradient_bf16(g16_scratch.data(), ld32, a16.data(), ld16, rows, cols,
                                                              act, p, key, bias16.data(), gz.data(), ld16);
      backend->activation_dropout_backward_bias_gradient(g32.data(), out32.data(), rows, cols, ld32, act, p, key,
                                                         bias32.data());
      CHECK(bias16 == bias32);
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < ld16; ++c) {
          const bfloat16 got = gz[std::size_t(r) * ld16 + c];
          REQUIRE(got.bits == (c < cols ? reference::bf16_bits(g32[std::size_t(r) * ld32 + c]).bits : 0x1234u));
        }
    }
  }
}

namespace {

struct Net {
  MlpSpec spec;
  int rows = 40;
  int ld = 24;
  std::vector<float> x, y, params;
};

Net make_net(bool embeddings) {
  Net n;
  n.spec.inputs = 20;
  n.spec.hidden = {45, 32};
  n.spec.dropout = 0.5f;
  if (embeddings) n.spec.embeddings = {EmbeddingSpec{2, 7, 4}, EmbeddingSpec{9, 5, 3}};
  n.x = test::random_vector(std::size_t(n.rows) * n.ld, 21, -2.0f, 2.0f);
  if (embeddings)
    for (int r = 0; r < n.rows; ++r) {
      n.x[std::size_t(r) * n.ld + 2] = float(r % 7);
      n.x[std::size_t(r) * n.ld + 9] = float((r * 3) % 5);
    }
  n.y.resize(std::size_t(n.rows));
  for (int r = 0; r < n.rows; ++r) n.y[std::size_t(r)] = float((r * 7) % 3 == 0);
  n.params = initial_parameters(n.spec, 4);
  return n;
}

struct Pass {
  std::vector<float> outputs, gradients;
};

Pass forward_backward(Backend& backend, Mlp& mlp, const Net& n) {
  const DropoutKey key{13, 2, 0};
  const float* out = mlp.forward(n.x.data(), n.ld, n.rows, true, key);
  Pass p;
  p.outputs.assign(out, out + n.rows);
  std::vector<float> grad_out(std::size_t(n.rows));
  float loss = 0;
  backend.loss_forward_backward(Task::binary, out, n.rows, 1, 1, n.y.data(), grad_out.data(), &loss);
  mlp.backward(n.x.data(), n.ld, n.rows, grad_out.data(), key);
  p.gradients.resize(n.spec.parameter_count());
  backend.copy_to_host(p.gradients.data(), mlp.gradients(), p.gradients.size() * sizeof(float));
  return p;
}

}  // namespace

TEST_CASE("a bf16 forward pass stores bfloat16 activations and leaves the master weights and the outputs float32") {
  for (bool embeddings : {false, true}) {
    CAPTURE(embeddings);
    const Net n = make_net(embeddings);
    REQUIRE(count_with_low_bits(n.params) > n.params.size() / 2);  // the check below is not vacuous
    auto backend = make_cpu_backend(1);
    Mlp mlp(*backend, n.spec, n.rows, Precision::bf16);
    CHECK(mlp.precision() == Precision::bf16);
    mlp.set_parameters(n.params);
    const Pass p = forward_backward(*backend, mlp, n);
    for (int l = 0; l + 1 < n.spec.layers(); ++l) {  // hidden activations in bfloat16 rows padded to 8
      CAPTURE(l);
      CHECK(mlp.activations(l) == nullptr);
      CHECK(mlp.bf16_activations(l) != nullptr);
      CHECK(mlp.activation_ld(l) == Mlp::bf16_ld(n.spec.out_width(l)));
      CHECK(mlp.activation_ld(l) % 8 == 0);
    }
    // The master weights keep their float32 bits through forward and backward.
    CHECK(mlp.get_parameters() == n.params);
    // The logits (the loss's input) are float32: not rounded.
    CHECK(count_with_low_bits(p.outputs) > 0);
    // The first hidden layer's bfloat16 activations are the float32 net's within the rounding of its inputs and
    // its own (a few 2^-9 relative), and the float32 net stores float32 ones.
    Mlp fp32(*backend, n.spec, n.rows, Precision::fp32);
    fp32.set_parameters(n.params);
    forward_backward(*backend, fp32, n);
    CHECK(fp32.bf16_activations(0) == nullptr);
    const int w0 = n.spec.out_width(0), ld0 = mlp.activation_ld(0);
    std::vector<float> a16, a32(fp32.activations(0), fp32.activations(0) + std::size_t(n.rows) * w0);
    for (int r = 0; r < n.rows; ++r)
      for (int c = 0; c < w0; ++c) a16.push_back(reference::bf16_value(mlp.bf16_activations(0)[std::size_t(r) * ld0 + c]));
    const double error = test::relative_error(a16, a32);
    MESSAGE("first hidden layer, bf16 vs fp32: " << error);
    CHECK(error > 0);
    CHECK(error < 1e-2);
    CHECK(count_with_low_bits(a32) > a32.size() / 2);
  }
}

TEST_CASE("bf16 outputs and gradients are within a stated bound of float32's") {
  // Finite differences do not apply tightly under bf16 (the rounded forward pass is a step function of the
  // weights at the scale of a bfloat16 ulp). Instead: the bf16 pass against the float32 pass on the same inputs
  // and weights. bfloat16 keeps 8 significant bits (relative rounding <= 2^-9 = 2e-3 per value); with the inputs,
  // weights, activations and pre-activation gradients all stored in bfloat16, the normalised errors measured here
  // are 3.6e-3 to 4.6e-3, for the outputs and the gradients alike. Bounds: 1e-2 (outputs) and 2e-2 (gradients), the
  // issue's bf16 tolerance and twice it.
  for (bool embeddings : {false, true}) {
    CAPTURE(embeddings);
    const Net n = make_net(embeddings);
    auto backend = make_cpu_backend(1);
    Mlp bf16(*backend, n.spec, n.rows, Precision::bf16), fp32(*backend, n.spec, n.rows, Precision::fp32);
    bf16.set_parameters(n.params);
    fp32.set_parameters(n.params);
    const Pass b = forward_backward(*backend, bf16, n), f = forward_backward(*backend, fp32, n);
    const double out_error = test::relative_error(b.outputs, f.outputs);
    const double grad_error = test::relative_error(b.gradients, f.gradients);
    MESSAGE("bf16 vs fp32: outputs " << out_error << ", gradients " << grad_error);
    CHECK(out_error > 0);  // bf16 did round something
    CHECK(out_error < 1e-2);
    CHECK(grad_error > 0);
    CHECK(grad_error < 2e-2);
    // Each layer's weight gradient separately too (a bound on the whole vector could hide one bad layer).
    for (int l = 0; l < n.spec.layers(); ++l) {
      CAPTURE(l);
      const std::size_t begin = n.spec.weight_offset(l), end = n.spec.bias_offset(l);
      const std::vector<float> gb(b.gradients.begin() + begin, b.gradients.begin() + end);
      const std::vector<float> gf(f.gradients.begin() + begin, f.gradients.begin() + end);
      CHECK(test::relative_error(gb, gf) < 2e-2);
    }
  }
}

namespace {

TrainConfig small_config(Precision precision) {
  TrainConfig c;
  c.model.hidden = {64, 64};
  c.model.dropout = 0.1f;
  c.batch_size = 256;
  c.epochs = 3;
  c.eval_every = 0;
  c.optimizer.lr = 3e-3f;
  c.shuffle = true;
  c.seed = 3;
  c.precision = precision;
  return c;
}

}  // namespace

TEST_CASE("bf16 training learns as float32 does and is bit-reproducible") {
  // Bound: bf16's test AUC within 0.005 of fp32's (the issue asks 0.003 after 10 epochs of the full synthetic
  // data on the GPU; this is 3 epochs of 60,000 rows, where two fp32 seeds differ by about as much).
  auto run = [](Precision precision) {
    Dataset d = test::synthetic_split(60'000, 10'000, 3);
    auto backend = make_cpu_backend();
    return train(*backend, small_config(precision), d);
  };
  const TrainResult f = run(Precision::fp32), b = run(Precision::bf16), again = run(Precision::bf16);
  MESSAGE("test AUC: fp32 " << f.final_test.auc << ", bf16 " << b.final_test.auc);
  CHECK(std::abs(b.final_test.auc - f.final_test.auc) < 0.005);
  CHECK(b.epochs.back().train_loss < b.epochs.front().train_loss);
  CHECK(b.parameters != f.parameters);  // bf16 did change the run
  CHECK(count_with_low_bits(b.parameters) > b.parameters.size() / 2);  // master weights are float32
  REQUIRE(b.epochs.size() == again.epochs.size());
  for (std::size_t i = 0; i < b.epochs.size(); ++i) {
    CHECK(b.epochs[i].train_loss == again.epochs[i].train_loss);
    CHECK(b.epochs[i].test.loss == again.epochs[i].test.loss);
  }
  CHECK(b.parameters == again.parameters);
}

TEST_CASE("a bf16 model predicts in bf16 (the checkpoint's precision) unless told otherwise") {
  Dataset d = test::synthetic_split(4'000, 1'000, 2);
  const Table test = d.test;
  TrainConfig c = small_config(Precision::bf16);
  c.model.hidden = {16};
  c.epochs = 2;
  c.save_path = (test::temp_dir("bf16") / "bf16.ckpt").string();
  auto backend = make_cpu_backend();
  const TrainResult r = train(*backend, c, d);
  SavedModel model = load_saved_model(c.save_path);
  CHECK(model.precision == Precision::bf16);
  // The trainer's chunking (the batch size): the same code on the same shapes, bit for bit.
  const std::vector<float> outputs = predict_outputs(*backend, model, test, c.batch_size);
  const Metrics m = evaluate_on_host(Task::binary, outputs.data(), test.rows, 1, 1, test.labels.data());
  CHECK(m.loss == r.final_test.loss);
  CHECK(m.auc == r.final_test.auc);
  model.precision = Precision::fp32;  // predict --precision fp32
  const std::vector<float> fp32 = predict_outputs(*backend, model, test, c.batch_size);
  CHECK(fp32 != outputs);
  CHECK(test::relative_error(fp32, outputs) < 1e-2);
}
