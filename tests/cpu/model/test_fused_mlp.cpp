// The fused bf16 MLP passes (Mlp with `fused`, --fused-mlp; host/backend/fused_mlp.hpp) on the CPU backend, which
// runs the CUDA kernels' block code with scalar tiles for every block, warp and lane, against the engine's
// per-layer bf16 passes on the same backend (the same Mlp without `fused`): the outputs, the training pass's dropout
// masks and activations, the parameter gradients, and whole training runs.
//
// The two differ only in the order of float32 sums (each product sum, the bias sums), which can move a bfloat16
// activation or gradient by one step (2^-8 relative) here and there. Measured on this machine (2026-11-30): outputs
// identical (4e-5 apart when the engine ran in 64-row chunks), every weight gradient identical (each bfloat16 the
// same), bias gradients within 3e-7; after three epochs of training, parameters 1e-5 apart.
// Bounds: outputs 2e-3, gradients 1e-3 per layer (another CPU's OpenBLAS order can move a bfloat16 value by a step,
// about 1e-5 of a layer's gradient each). Mutations tried in the block code: the bias read at the wrong column
// (outputs 0.15-0.52 apart), one row tile left out of the bias sums (db 1.4), the derivative without dropout's
// 1 - p (dW 1.2).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fasttab/backend.hpp"
#include "fasttab/checkpoint.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/error.hpp"
#include "fasttab/metrics.hpp"
#include "fasttab/model.hpp"
#include "fasttab/predictor.hpp"
#include "fasttab/trainer.hpp"
#include "host/backend/fused_mlp.hpp"
#include "host/backend/reference_math.hpp"
#include "test_support.hpp"

using namespace fasttab;

namespace {

struct Case {
  const char* name;
  int inputs;
  std::vector<int> hidden;
  int outputs;
  Activation activation;
  float dropout;
  int rows;
  std::vector<EmbeddingSpec> embeddings = {};
};

// The shapes: the seed's (over two blocks and a partial one), odd widths with relu, widths at the tile edges with
// three outputs, one row, and two categorical columns (embedded in 4 and 3: a first layer of 17 inputs).
const Case kCases[] = {
    {"the seed's model, a partial last block", 21, {300, 300, 300}, 1, Activation::tanh, 0.5f, 150},
    {"odd widths, relu", 7, {45, 300, 17}, 1, Activation::relu, 0.3f, 97},
    {"three outputs, widths at the tile edges", 16, {16, 320, 33}, 3, Activation::tanh, 0.0f, 64},
    {"one hidden layer, one row", 2, {5}, 1, Activation::tanh, 0.0f, 1},
    {"two categorical columns, relu", 12, {64, 40}, 1, Activation::relu, 0.3f, 130,
     {EmbeddingSpec{2, 7, 4}, EmbeddingSpec{9, 5, 3}}}};

MlpSpec spec_of(const Case& k) {
  MlpSpec spec;
  spec.inputs = k.inputs;
  spec.hidden = k.hidden;
  spec.outputs = k.outputs;
  spec.activation = k.activation;
  spec.dropout = k.dropout;
  spec.embeddings = k.embeddings;
  return spec;
}

// The engine's per-layer model and the fused one, with the same parameters (biases drawn, so that their path
// shows), and rows of standard normal features (leading dimension wider than a row; a categorical column's codes
// cycle through its categories).
struct Pair {
  std::unique_ptr<Backend> backend = make_cpu_backend();
  MlpSpec spec;
  int rows, ld_x;
  std::vector<float> x;
  Mlp engine, fused;
  Pair(const MlpSpec& s, int r, std::uint64_t seed)
      : spec(s), rows(r), ld_x(s.inputs + 3), engine(*backend, s, r, Precision::bf16),
        fused(*backend, s, r, Precision::bf16, 1, true) {
    std::vector<float> parameters = initial_parameters(spec, seed);
    std::mt19937_64 random(seed + 1);
    std::uniform_real_distribution<float> uniform(-0.2f, 0.2f);
    for (int l = 0; l < spec.layers(); ++l)
      for (int o = 0; o < spec.out_width(l); ++o) parameters[spec.bias_offset(l) + std::size_t(o)] = uniform(random);
    engine.set_parameters(parameters);
    fused.set_parameters(parameters);
    x.assign(std::size_t(rows) * ld_x, 1e30f);  // the padding past a row's inputs is never read
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int row = 0; row < rows; ++row)
      for (int c = 0; c < spec.inputs; ++c) x[std::size_t(row) * ld_x + c] = normal(random);
    for (const EmbeddingSpec& e : spec.embeddings)
      for (int row = 0; row < rows; ++row) x[std::size_t(row) * ld_x + e.column] = float((row * 3) % e.cardinality);
  }
  std::vector<float> logits(const float* out) const {
    return std::vector<float>(out, out + std::size_t(rows) * spec.outputs);
  }
};

// The largest over layers of the relative L2 difference of dW_l and of db_l (user layout vectors).
double worst_layer_difference(const MlpSpec& spec, const std::vector<float>& got, const std::vector<float>& want) {
  double worst = 0;
  for (int l = 0; l < spec.layers(); ++l) {
    const std::size_t w = spec.weight_offset(l), b = spec.bias_offset(l), end = b + std::size_t(spec.out_width(l));
    const double dw = test::relative_error(std::vector<float>(got.begin() + w, got.begin() + b),
                                           std::vector<float>(want.begin() + w, want.begin() + b));
    const double db = test::relative_error(std::vector<float>(got.begin() + b, got.begin() + end),
                                           std::vector<float>(want.begin() + b, want.begin() + end));
    MESSAGE("layer " << l << ": dW " << dw << ", db " << db);
    worst = std::max({worst, dw, db, std::isnan(dw) || std::isnan(db) ? INFINITY : 0.0});
  }
  if (!spec.embeddings.empty()) {  // the embedding tables' gradient, after the layers
    const std::size_t e = spec.embedding_offset(0);
    const double de = test::relative_error(std::vector<float>(got.begin() + e, got.end()),
                                           std::vector<float>(want.begin() + e, want.end()));
    MESSAGE("embedding tables: " << de);
    worst = std::max(worst, std::isnan(de) ? INFINITY : de);
  }
  return worst;
}

}  // namespace

TEST_CASE("fused MLP: the forward pass gives the engine's bf16 outputs") {
  for (const Case& k : kCases) {
    const std::string name = k.name;
    CAPTURE(name);
    Pair p(spec_of(k), k.rows, 7);
    std::vector<float> want(std::size_t(k.rows) * k.outputs), got(want.size(), std::nanf(""));
    p.engine.forward_rows(p.x.data(), p.ld_x, k.rows, want.data());
    p.fused.forward_rows(p.x.data(), p.ld_x, k.rows, got.data());
    std::size_t nan = 0;
    for (float v : got) nan += std::isnan(v) ? 1 : 0;
    CHECK(nan == 0);  // every output written
    const double relative = test::relative_error(got, want);
    MESSAGE(name << ": outputs " << relative);
    CHECK(relative <= 2e-3);
  }
}

TEST_CASE("fused MLP: the training pass draws the engine's dropout masks and gives its activations and logits") {
  // The same Philox decisions (the same zeros exactly: tanh is 0 only at 0), a kept activation within one bfloat16
  // step (2^-7 relative) plus 1e-3 near 0 (where the sums' orders are a large part of a small value), the logits
  // within 2e-3. first_row 32: a rank's slice, whose draws' index includes it.
  MlpSpec spec;
  spec.inputs = 13;
  spec.hidden = {300, 40};
  spec.outputs = 2;
  spec.dropout = 0.5f;  // after the first hidden layer (MlpSpec::dropout_after)
  Pair p(spec, 150, 9);
  DropoutKey key;
  key.seed = 11;
  key.step = 4;
  key.first_row = 32;
  const std::vector<float> want = p.logits(p.engine.forward(p.x.data(), p.ld_x, p.rows, true, key));
  const std::vector<float> got = p.logits(p.fused.forward(p.x.data(), p.ld_x, p.rows, true, key));
  CHECK(test::relative_error(got, want) <= 2e-3);
  for (int l = 0; l + 1 < spec.layers(); ++l) {
    CAPTURE(l);
    const int ld = p.engine.activation_ld(l), units = spec.out_width(l);
    REQUIRE(p.fused.activation_ld(l) == ld);
    std::size_t zeros = 0, pattern_mismatches = 0, far = 0;
    for (int r = 0; r < p.rows; ++r)
      for (int c = 0; c < units; ++c) {
        const float e = reference::bf16_value(p.engine.bf16_activations(l)[std::size_t(r) * ld + c]);
        const float f = reference::bf16_value(p.fused.bf16_activations(l)[std::size_t(r) * ld + c]);
        zeros += e == 0.0f;
        pattern_mismatches += (e == 0.0f) != (f == 0.0f);
        far += e != 0.0f && std::fabs(double(f) - e) > std::fabs(double(e)) / 128 + 1e-3;
      }
    CHECK(pattern_mismatches == 0);
    CHECK(far == 0);
    if (l == 0) CHECK(zeros > std::size_t(p.rows) * units / 3);  // p = 0.5: the masks are really compared
    else CHECK(zeros == 0);                                      // no dropout after the second layer
  }
}

TEST_CASE("fused MLP: the backward pass gives the engine's bf16 parameter gradients") {
  for (const Case& k : kCases) {
    const std::string name = k.name;
    CAPTURE(name);
    const MlpSpec spec = spec_of(k);
    Pair p(spec, k.rows, 5);
    DropoutKey key;
    key.seed = 21;
    key.step = 6;
    key.first_row = 64;
    std::vector<float> loss_gradient(std::size_t(k.rows) * k.outputs);
    std::mt19937_64 random(3);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& g : loss_gradient) g = normal(random) / float(k.rows);  // a mean's gradient, both signs
    std::vector<std::vector<float>> gradients;
    for (Mlp* mlp : {&p.engine, &p.fused}) {
      std::vector<float> g = loss_gradient;  // Mlp::backward may overwrite it
      mlp->forward(p.x.data(), p.ld_x, p.rows, true, key);
      mlp->backward(p.x.data(), p.ld_x, p.rows, g.data(), key);
      gradients.push_back(mlp->download(mlp->gradients()));
    }
    std::size_t nan = 0;
    for (float v : gradients[1]) nan += std::isnan(v) ? 1 : 0;
    CHECK(nan == 0);
    CHECK(worst_layer_difference(spec, gradients[1], gradients[0]) <= 1e-3);
  }
}

TEST_CASE("fused MLP: a step counter (a captured step's) draws as the same step given by value") {
  MlpSpec spec;
  spec.inputs = 9;
  spec.hidden = {64, 32};
  spec.dropout = 0.5f;
  Pair p(spec, 70, 8);
  std::vector<float> loss_gradient(70, 0.0f);
  for (int r = 0; r < 70; ++r) loss_gradient[std::size_t(r)] = float(r % 3 - 1) * 0.1f;
  auto step = [&](DropoutKey key) {
    std::vector<float> g = loss_gradient;
    p.fused.forward(p.x.data(), p.ld_x, p.rows, true, key);
    p.fused.backward(p.x.data(), p.ld_x, p.rows, g.data(), key);
    return p.fused.download(p.fused.gradients());
  };
  DropoutKey by_value;
  by_value.seed = 3;
  by_value.step = 2;
  std::uint32_t counter = 2;  // the CPU backend's memory is host memory
  DropoutKey counted = by_value;
  counted.step_counter = &counter;
  const std::vector<float> a = step(by_value), b = step(counted);
  CHECK(a == b);
  counter = 3;
  CHECK(step(counted) != a);
}

namespace {

// The emulation's own inputs, built by hand: bfloat16 weights in whole 16x16 tiles (zeros past each layer's rows
// and columns, 32-byte aligned), biases, rows of features, a loss gradient; and every buffer the two passes write.
struct FusedBuffers {
  std::vector<std::vector<__nv_bfloat16>> weights;
  std::vector<std::vector<float>> biases;
  FusedMlp mlp;
  int rows, ld_x;
  std::vector<float> x, loss_gradient, out, input_grad;
  std::vector<__nv_bfloat16> input16;
  std::vector<std::vector<__nv_bfloat16>> activations, grad16;
  std::vector<std::vector<float>> bias_partials;
  FusedTraining training;
  FusedGradients gradients;

  FusedBuffers(const Case& k, std::uint64_t seed) : rows(k.rows), ld_x(k.inputs + 3) {
    std::vector<int> widths = {k.inputs};
    widths.insert(widths.end(), k.hidden.begin(), k.hidden.end());
    widths.push_back(k.outputs);
    const int layers = int(widths.size()) - 1;
    std::mt19937_64 random(seed);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    weights.resize(std::size_t(layers));
    biases.resize(std::size_t(layers));
    activations.resize(std::size_t(layers));
    grad16.resize(std::size_t(layers));
    bias_partials.resize(std::size_t(layers));
    mlp.count = layers;
    mlp.inputs = k.inputs;
    mlp.activation = k.activation;
    for (int l = 0; l < layers; ++l) {
      const int in = widths[std::size_t(l)], units = widths[std::size_t(l) + 1];
      const int in_padded = padded_to_tile(in), out_padded = padded_to_tile(units);
      auto& w = weights[std::size_t(l)];
      w.assign(std::size_t(in_padded) * out_padded + 16, __float2bfloat16_rn(0.0f));
      std::size_t skip = 0;  // to the first 32-byte boundary
      while ((reinterpret_cast<std::uintptr_t>(w.data() + skip) & 31u) != 0) ++skip;
      for (int o = 0; o < units; ++o)
        for (int i = 0; i < in; ++i)
          w[skip + std::size_t(o) * in_padded + i] = __float2bfloat16_rn(uniform(random) / std::sqrt(float(in)));
      biases[std::size_t(l)].resize(std::size_t(units));
      for (float& b : biases[std::size_t(l)]) b = 0.2f * uniform(random);
      mlp.layers[l] = FusedLayer{w.data() + skip, biases[std::size_t(l)].data(), in_padded, out_padded, units};
      if (l + 1 < layers) {
        activations[std::size_t(l)].assign(std::size_t(rows) * units, __float2bfloat16_rn(0.0f));
        training.activations[l] = activations[std::size_t(l)].data();
        training.ld_activations[l] = units;
        training.dropout[l] = k.dropout;
      }
      grad16[std::size_t(l)].assign(std::size_t(rows) * units, __float2bfloat16_rn(0.0f));
      gradients.grad16[l] = grad16[std::size_t(l)].data();
      gradients.ld_grad16[l] = units;
      bias_partials[std::size_t(l)].assign(std::size_t(fused_blocks(rows)) * units, 0.0f);
      gradients.bias_partials[l] = bias_partials[std::size_t(l)].data();
    }
    x.assign(std::size_t(rows) * ld_x, 0.0f);
    for (float& v : x) v = 2.0f * uniform(random);
    loss_gradient.resize(std::size_t(rows) * k.outputs);
    for (float& g : loss_gradient) g = uniform(random) / float(rows);
    out.assign(std::size_t(rows) * k.outputs, 0.0f);
    input16.assign(std::size_t(rows) * k.inputs, __float2bfloat16_rn(0.0f));
    training.input16 = input16.data();
    training.ld_input16 = k.inputs;
    training.key.seed = 17;
    training.key.step = 4;
    training.key.first_row = 192;
    input_grad.assign(std::size_t(rows) * k.inputs, 0.0f);
    gradients.input_grad = input_grad.data();
    gradients.ld_input_grad = k.inputs;
  }

  void run(std::uint32_t adversarial_seed) {
    FusedHostScratch scratch;
    scratch.adversarial_seed = adversarial_seed;
    fused_mlp_forward_emulated(mlp, x.data(), ld_x, rows, out.data(), training, scratch);
    fused_mlp_backward_emulated(mlp, training, loss_gradient.data(), rows, gradients, scratch);
  }
};

template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

}  // namespace

// What the CPU's emulation cannot show by itself, since it runs the warps in turn on memory it cleared: the kernels
// read no shared memory that nothing wrote, and no warp depends on another's work between two barriers. Run with
// the shared memory full of NaN at each block and the warps in shuffled orders, every output, activation, gradient,
// bias partial and input gradient must be the same bits (and finite). Mutations tried: the padding columns past the
// inputs left unwritten in fused_load_rows (NaN in the outputs), a layer written in place (its input overwritten
// while other warps read it). What it cannot see: two warps sharing one staging tile (the emulation runs each warp's
// phase whole, so their uses never interleave): the kernels give each warp its own (fused_mlp.cu).
TEST_CASE("fused MLP emulation: shared memory full of NaN and the warps in any order change no bit") {
  for (const Case& k : kCases) {
    const std::string name = k.name;
    CAPTURE(name);
    FusedBuffers plain(k, 9);
    plain.run(0);
    std::size_t nonfinite = 0;
    for (float v : plain.out) nonfinite += std::isfinite(v) ? 0 : 1;
    for (float v : plain.input_grad) nonfinite += std::isfinite(v) ? 0 : 1;
    CHECK(nonfinite == 0);
    for (std::uint32_t seed : {1u, 2u, 3u}) {
      CAPTURE(seed);
      FusedBuffers adversarial(k, 9);
      adversarial.run(seed);
      CHECK(same_bits(adversarial.out, plain.out));
      CHECK(same_bits(adversarial.input16, plain.input16));
      CHECK(same_bits(adversarial.input_grad, plain.input_grad));
      for (std::size_t l = 0; l < plain.grad16.size(); ++l) {
        CAPTURE(l);
        CHECK(same_bits(adversarial.activations[l], plain.activations[l]));
        CHECK(same_bits(adversarial.grad16[l], plain.grad16[l]));
        CHECK(same_bits(adversarial.bias_partials[l], plain.bias_partials[l]));
      }
    }
  }
}

TEST_CASE("fused MLP: what the kernels cannot run is refused, naming the flag and the reason") {
  auto backend = make_cpu_backend();
  MlpSpec spec;
  spec.inputs = 4;
  spec.hidden = {32};
  CHECK_THROWS_WITH_AS(Mlp(*backend, spec, 8, Precision::fp32, 1, true), doctest::Contains("give --precision bf16"),
                       Error);
  CHECK_THROWS_WITH_AS(Mlp(*backend, spec, 8, Precision::bf16, 8, true), doctest::Contains("leave out --pad-hidden"),
                       Error);
  spec.hidden = {321};
  CHECK_THROWS_WITH_AS(Mlp(*backend, spec, 8, Precision::bf16, 1, true), doctest::Contains("at most 320"), Error);
  spec.hidden = {32};
  spec.activation = Activation::identity;
  CHECK_THROWS_WITH_AS(Mlp(*backend, spec, 8, Precision::bf16, 1, true), doctest::Contains("tanh or relu"), Error);
  spec.activation = Activation::tanh;
  spec.inputs = 300;  // 299 features and one categorical column of 30 embedded in 22: a first layer of 321 inputs
  spec.embeddings = {EmbeddingSpec{1, 30, 22}};
  CHECK_THROWS_WITH_AS(Mlp(*backend, spec, 8, Precision::bf16, 1, true), doctest::Contains("layer 0 is 321 -> 32"),
                       Error);
  TrainConfig c;
  c.fused_mlp = true;
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("--fused-mlp runs the bf16 passes"), Error);
  c.precision = Precision::bf16;
  c.pad_hidden = 8;
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("leave out --pad-hidden"), Error);
}

namespace {

TrainConfig fused_config(bool fused) {
  TrainConfig c;
  c.model.hidden = {45, 30};
  c.model.dropout = 0.2f;
  c.batch_size = 256;
  c.epochs = 3;
  c.eval_every = 0;
  c.shuffle = true;
  c.seed = 3;
  c.precision = Precision::bf16;
  c.fused_mlp = fused;
  return c;
}

TrainResult train_on(const TrainConfig& c) {
  Dataset d = test::synthetic_split(12'000, 3'000, 3);
  auto backend = make_cpu_backend();
  return train(*backend, c, d);
}

}  // namespace

TEST_CASE("training with --fused-mlp: the per-layer bf16 run within a bound, bit-reproducible, captured or not") {
  // Three epochs of 36 steps: the passes' float32 reorderings (a bfloat16 step here and there) grow through
  // training. Bounds: parameters 2e-2 relative, the test AUC within 0.003 (issue 9's bound between precisions).
  const TrainResult plain = train_on(fused_config(false)), fused = train_on(fused_config(true)),
                    again = train_on(fused_config(true));
  TrainConfig graphs = fused_config(true);
  graphs.cuda_graphs = true;
  const TrainResult captured = train_on(graphs);
  const double parameter_error = test::relative_error(fused.parameters, plain.parameters);
  MESSAGE("fused against per-layer bf16 after 3 epochs: parameters " << parameter_error << ", test AUC "
          << fused.final_test.auc << " vs " << plain.final_test.auc);
  CHECK(parameter_error < 2e-2);
  CHECK(std::fabs(fused.final_test.auc - plain.final_test.auc) < 0.003);
  CHECK(fused.final_test.auc > 0.7);  // it learned
  REQUIRE(fused.epochs.size() == again.epochs.size());
  REQUIRE(fused.epochs.size() == captured.epochs.size());
  for (std::size_t i = 0; i < fused.epochs.size(); ++i) {
    CAPTURE(i);
    CHECK(fused.epochs[i].train_loss == again.epochs[i].train_loss);
    CHECK(fused.epochs[i].train_loss == captured.epochs[i].train_loss);
    CHECK(fused.epochs[i].test.loss == captured.epochs[i].test.loss);
  }
  CHECK(fused.parameters == again.parameters);
  CHECK(fused.parameters == captured.parameters);
}

TEST_CASE("a --fused-mlp run resumes bit for bit, refuses a resume without it, and predicts with it") {
  const std::string first_path = (test::temp_dir("fused") / "fused_1.ckpt").string();
  const TrainResult uninterrupted = train_on(fused_config(true));
  TrainConfig first = fused_config(true);
  first.epochs = 1;
  first.save_path = first_path;
  train_on(first);
  const SavedModel saved = load_saved_model(first_path);
  CHECK(saved.fused_mlp);

  TrainConfig second = fused_config(true);
  second.resume_path = first_path;
  const TrainResult resumed = train_on(second);
  REQUIRE(resumed.epochs.size() == uninterrupted.epochs.size());
  for (std::size_t i = 0; i < uninterrupted.epochs.size(); ++i) {
    CAPTURE(i);
    CHECK(resumed.epochs[i].train_loss == uninterrupted.epochs[i].train_loss);
    CHECK(resumed.epochs[i].test.loss == uninterrupted.epochs[i].test.loss);
  }
  CHECK(resumed.parameters == uninterrupted.parameters);

  TrainConfig other = fused_config(false);
  other.resume_path = first_path;
  CHECK_THROWS_WITH_AS(train_on(other), doctest::Contains("--fused-mlp"), Error);

  // predict runs the fused forward pass: the trainer's evaluation, bit for bit, at the trainer's chunking.
  const std::string last_path = (test::temp_dir("fused") / "fused_3.ckpt").string();
  TrainConfig whole = fused_config(true);
  whole.save_path = last_path;
  const TrainResult saved_run = train_on(whole);
  Dataset d = test::synthetic_split(12'000, 3'000, 3);
  const SavedModel model = load_saved_model(last_path);
  auto backend = make_cpu_backend();
  const std::vector<float> outputs = predict_outputs(*backend, model, d.test, whole.batch_size);
  const Metrics m = evaluate_on_host(Task::binary, outputs.data(), d.test.rows, 1, 1, d.test.labels.data());
  CHECK(m.loss == saved_run.final_test.loss);
}
