// Padded hidden widths (Mlp's pad_multiple, --pad-hidden, padded_spec): the layout, the passes against the
// unpadded model's, the padding held at exactly zero through training (parameters, gradients, optimiser state),
// and what leaves the engine (results, checkpoints, resume, predict) in the user's model's layout.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fasttab/backend.hpp"
#include "fasttab/checkpoint.hpp"
#include "fasttab/dataset.hpp"
#include "fasttab/error.hpp"
#include "fasttab/metrics.hpp"
#include "fasttab/model.hpp"
#include "fasttab/names.hpp"
#include "fasttab/optimizer.hpp"
#include "fasttab/predictor.hpp"
#include "fasttab/synthetic.hpp"
#include "fasttab/trainer.hpp"
#include "test_support.hpp"

using namespace fasttab;

namespace {

// 20 input columns (two of them categorical when `embeddings`), hidden 45 and 30 (padded to 48 and 32 by 8, to 64
// and 64 by 64), 3 outputs: no width is a multiple of 8 but the padded ones.
MlpSpec small_spec(bool embeddings) {
  MlpSpec spec;
  spec.inputs = 20;
  spec.hidden = {45, 30};
  spec.outputs = 3;
  spec.dropout = 0.5f;
  if (embeddings) spec.embeddings = {EmbeddingSpec{2, 7, 4}, EmbeddingSpec{9, 5, 3}};
  return spec;
}

struct Inputs {
  int rows = 40, ld = 24;
  std::vector<float> x, labels;
};

Inputs make_inputs(const MlpSpec& spec) {
  Inputs in;
  in.x = test::random_vector(std::size_t(in.rows) * in.ld, 21, -2.0f, 2.0f);
  for (const EmbeddingSpec& e : spec.embeddings)
    for (int r = 0; r < in.rows; ++r) in.x[std::size_t(r) * in.ld + e.column] = float((r * 3) % e.cardinality);
  for (int r = 0; r < in.rows; ++r) in.labels.push_back(float(r % spec.outputs));
  return in;
}

// The raw contents of a backend vector of the model's flat (padded) layout.
std::vector<float> raw(Backend& backend, const float* values, std::size_t count) {
  std::vector<float> host(count);
  backend.copy_to_host(host.data(), values, count * sizeof(float));
  return host;
}

// 1 where layout()'s flat vector holds a parameter of the user's model, 0 in the padding.
std::vector<float> parameter_mask(const Mlp& mlp) {
  return mlp.pad_parameters(std::vector<float>(mlp.spec().parameter_count(), 1.0f));
}

// Every padded position of `values` (the model's flat layout) is exactly zero.
bool padding_is_zero(const Mlp& mlp, const std::vector<float>& values) {
  const std::vector<float> mask = parameter_mask(mlp);
  for (std::size_t i = 0; i < values.size(); ++i)
    if (mask[i] == 0.0f && values[i] != 0.0f) return false;
  return true;
}

struct Pass {
  std::vector<float> outputs, gradients;  // gradients in the user's layout
};

// One training pass (dropout on) through a multiclass loss.
Pass forward_backward(Backend& backend, Mlp& mlp, const Inputs& in) {
  const DropoutKey key{13, 2, 0};
  const int width = mlp.spec().outputs;
  const float* out = mlp.forward(in.x.data(), in.ld, in.rows, true, key);
  Pass p;
  p.outputs.assign(out, out + std::size_t(in.rows) * width);
  std::vector<float> grad_out(std::size_t(in.rows) * width);
  float loss = 0;
  backend.loss_forward_backward(Task::multiclass, out, in.rows, width, width, in.labels.data(), grad_out.data(), &loss);
  mlp.backward(in.x.data(), in.ld, in.rows, grad_out.data(), key);
  p.gradients = mlp.unpad_parameters(raw(backend, mlp.gradients(), mlp.parameter_count()));
  return p;
}

}  // namespace

TEST_CASE("padded_spec rounds the hidden widths up and keeps the inputs, outputs and embeddings") {
  MlpSpec spec = small_spec(true);
  spec.hidden = {45, 30, 1, 64};
  const MlpSpec by8 = padded_spec(spec, 8), by64 = padded_spec(spec, 64);
  CHECK(by8.hidden == std::vector<int>{48, 32, 8, 64});
  CHECK(by64.hidden == std::vector<int>{64, 64, 64, 64});
  CHECK(padded_spec(spec, 1).hidden == spec.hidden);
  for (const MlpSpec& p : {by8, by64}) {
    CHECK(p.inputs == spec.inputs);
    CHECK(p.outputs == spec.outputs);
    CHECK(p.input_width() == spec.input_width());
    CHECK(p.embeddings == spec.embeddings);
    CHECK(p.dropout == spec.dropout);
  }
  auto backend = make_cpu_backend(1);
  for (int bad : {0, -8, 257}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(padded_spec(spec, bad), doctest::Contains("--pad-hidden"), Error);
    CHECK_THROWS_WITH_AS(Mlp(*backend, spec, 8, Precision::fp32, bad), doctest::Contains("--pad-hidden"), Error);
  }
}

TEST_CASE("pad_parameters places every weight, bias and embedding row, zeros the padding, and unpad_parameters inverts it") {
  const MlpSpec spec = small_spec(true);
  auto backend = make_cpu_backend(1);
  Mlp mlp(*backend, spec, 8, Precision::fp32, 8);
  const MlpSpec& layout = mlp.layout();
  CHECK(layout.hidden == std::vector<int>{48, 32});
  CHECK(mlp.parameter_count() == layout.parameter_count());
  CHECK(mlp.parameter_count() > spec.parameter_count());
  const std::vector<float> user = initial_parameters(spec, 5);
  const std::vector<float> padded = mlp.pad_parameters(user);
  REQUIRE(padded.size() == layout.parameter_count());
  for (int l = 0; l < spec.layers(); ++l) {
    CAPTURE(l);
    for (int r = 0; r < layout.out_width(l); ++r) {
      for (int c = 0; c < layout.in_width(l); ++c) {
        const float got = padded[layout.weight_offset(l) + std::size_t(r) * layout.in_width(l) + c];
        const bool inside = r < spec.out_width(l) && c < spec.in_width(l);
        REQUIRE(got == (inside ? user[spec.weight_offset(l) + std::size_t(r) * spec.in_width(l) + c] : 0.0f));
      }
      const float bias = padded[layout.bias_offset(l) + r];
      REQUIRE(bias == (r < spec.out_width(l) ? user[spec.bias_offset(l) + r] : 0.0f));
    }
  }
  for (std::size_t i = 0; i < spec.parameter_count() - spec.embedding_offset(0); ++i)
    REQUIRE(padded[layout.embedding_offset(0) + i] == user[spec.embedding_offset(0) + i]);
  CHECK(mlp.unpad_parameters(padded) == user);
  mlp.set_parameters(user);
  CHECK(mlp.get_parameters() == user);
  CHECK(raw(*backend, mlp.parameters(), mlp.parameter_count()) == padded);
  CHECK_THROWS_AS(mlp.set_parameters(padded), Error);  // the padded vector is not the user's model
  CHECK_THROWS_AS(mlp.unpad_parameters(user), Error);
}

TEST_CASE("a padded model's pass gives the unpadded model's outputs and gradients, with the same dropout masks") {
  // The padded units contribute exact zeros; what differs is only the order of a GEMM's sums over the longer
  // rows (k = 48 instead of 45), in float32: measured normalised differences are about 1e-7 (fp32), and at most
  // 1e-8 in bf16 here (its outputs came out identical). In bf16 a float32 value that moves by an ulp can round to
  // the neighbouring bfloat16, which a GPU's different summation order makes likelier. Bounds: 1e-5 (fp32) and
  // 2e-3 (bf16). A different dropout mask would differ by O(1).
  for (Precision precision : {Precision::fp32, Precision::bf16}) {
    for (bool embeddings : {false, true}) {
      for (int multiple : {8, 64}) {
        CAPTURE(std::string(name_of(precision)));
        CAPTURE(embeddings);
        CAPTURE(multiple);
        const MlpSpec spec = small_spec(embeddings);
        const Inputs in = make_inputs(spec);
        const std::vector<float> params = initial_parameters(spec, 4);
        auto backend = make_cpu_backend(1);
        Mlp plain(*backend, spec, in.rows, precision), padded(*backend, spec, in.rows, precision, multiple);
        plain.set_parameters(params);
        padded.set_parameters(params);
        const Pass a = forward_backward(*backend, plain, in), b = forward_backward(*backend, padded, in);
        const double out_error = test::relative_error(b.outputs, a.outputs);
        const double grad_error = test::relative_error(b.gradients, a.gradients);
        MESSAGE(std::string(name_of(precision)) << " pad " << multiple << (embeddings ? " embeddings" : "") << ": outputs "
                                   << out_error << ", gradients " << grad_error);
        const double bound = precision == Precision::bf16 ? 2e-3 : 1e-5;
        CHECK(out_error < bound);
        CHECK(grad_error < bound);
        // The padding of the gradient vector is exactly zero; so are the padded units' activations.
        CHECK(padding_is_zero(padded, raw(*backend, padded.gradients(), padded.parameter_count())));
        const int width = padded.layout().out_width(0), units = spec.out_width(0), ld = padded.activation_ld(0);
        REQUIRE(width > units);
        bool activations_zero = true;
        for (int r = 0; r < in.rows; ++r)
          for (int c = units; c < width; ++c) {
            const std::size_t at = std::size_t(r) * ld + c;
            const float v = precision == Precision::bf16 ? float(padded.bf16_activations(0)[at].bits)
                                                         : padded.activations(0)[at];
            activations_zero = activations_zero && v == 0.0f;
          }
        CHECK(activations_zero);
      }
    }
  }
}

TEST_CASE("training keeps the padding of the parameters, the gradients and the optimiser state at zero") {
  // Adam with decoupled weight decay for 20 steps on fresh batches: a padded weight that moved once would feed
  // the next layer and the check below would see it.
  for (Precision precision : {Precision::fp32, Precision::bf16}) {
    CAPTURE(std::string(name_of(precision)));
    const MlpSpec spec = small_spec(true);
    const Inputs in = make_inputs(spec);
    auto backend = make_cpu_backend(1);
    Mlp mlp(*backend, spec, in.rows, precision, 64);
    mlp.set_parameters(initial_parameters(spec, 9));
    OptimizerConfig adamw;
    adamw.kind = OptimizerKind::adamw;
    adamw.weight_decay = 0.1f;
    adamw.lr = 1e-2f;
    Optimizer optimizer(*backend, adamw, ScheduleConfig{}, mlp.parameter_count(), 20);
    const std::vector<float> before = mlp.get_parameters();
    for (std::uint32_t step = 0; step < 20; ++step) {
      const DropoutKey key{3, step, 0};
      const float* out = mlp.forward(in.x.data(), in.ld, in.rows, true, key);
      std::vector<float> grad(std::size_t(in.rows) * spec.outputs);
      float loss = 0;
      backend->loss_forward_backward(Task::multiclass, out, in.rows, spec.outputs, spec.outputs, in.labels.data(),
                                     grad.data(), &loss);
      mlp.backward(in.x.data(), in.ld, in.rows, grad.data(), key);
      optimizer.step(mlp.parameters(), mlp.gradients());
    }
    CHECK(test::relative_error(mlp.get_parameters(), before) > 1e-3);  // it trained
    CHECK(padding_is_zero(mlp, raw(*backend, mlp.parameters(), mlp.parameter_count())));
    CHECK(padding_is_zero(mlp, raw(*backend, mlp.gradients(), mlp.parameter_count())));
    CHECK(padding_is_zero(mlp, raw(*backend, optimizer.state1().data(), optimizer.state1().size())));
    CHECK(padding_is_zero(mlp, raw(*backend, optimizer.state2().data(), optimizer.state2().size())));
    // The state does move inside the model (the check above is not vacuous).
    CHECK(test::relative_error(raw(*backend, optimizer.state2().data(), optimizer.state2().size()),
                               std::vector<float>(optimizer.state2().size(), 0.0f)) > 0);
  }
}

namespace {

TrainConfig small_config(int pad_hidden) {
  TrainConfig c;
  c.model.hidden = {45, 30};
  c.model.dropout = 0.2f;
  c.batch_size = 256;
  c.epochs = 4;
  c.eval_every = 0;
  c.shuffle = true;
  c.seed = 3;
  c.pad_hidden = pad_hidden;
  return c;
}

TrainResult train_on(const TrainConfig& c) {
  Dataset d = test::synthetic_split(20'000, 4'000, 3);
  auto backend = make_cpu_backend();
  return train(*backend, c, d);
}

}  // namespace

TEST_CASE("training with padded hidden widths is the unpadded run within a bound, and bit-reproducible") {
  // Four epochs of 62 steps: the float32 reordering of the padded GEMMs' sums (about 1e-7 a pass) grows through
  // training; measured here: parameters 1e-7 apart, the same test loss to 6 digits. Bounds: 1e-3 and 1e-4.
  const TrainResult plain = train_on(small_config(1)), padded = train_on(small_config(8)),
                    again = train_on(small_config(8));
  REQUIRE(padded.parameters.size() == plain.parameters.size());  // the user's model, not the padded one
  const double parameter_error = test::relative_error(padded.parameters, plain.parameters);
  MESSAGE("pad 8 against none after 4 epochs: parameters " << parameter_error << ", test loss "
          << padded.final_test.loss << " vs " << plain.final_test.loss);
  CHECK(parameter_error < 1e-3);
  REQUIRE(padded.epochs.size() == plain.epochs.size());
  for (std::size_t i = 0; i < plain.epochs.size(); ++i) {
    CAPTURE(i);
    CHECK(std::abs(padded.epochs[i].train_loss - plain.epochs[i].train_loss) < 1e-4 * plain.epochs[i].train_loss);
    CHECK(padded.epochs[i].train_loss == again.epochs[i].train_loss);
    CHECK(padded.epochs[i].test.loss == again.epochs[i].test.loss);
  }
  CHECK(padded.parameters == again.parameters);
}

TEST_CASE("a padded run saves the user's model, resumes bit for bit with its padding, refuses another, and predicts with it") {
  const std::string first_path = (test::temp_dir("padding") / "padded_2.ckpt").string(), resumed_path =
      (test::temp_dir("padding") / "padded_4.ckpt").string();
  TrainConfig whole = small_config(8);
  const TrainResult uninterrupted = train_on(whole);
  TrainConfig first = small_config(8);
  first.epochs = 2;
  first.save_path = first_path;
  const TrainResult half = train_on(first);
  CHECK(half.parameters != uninterrupted.parameters);  // the comparison below is not vacuous
  const SavedModel saved = load_saved_model(first_path);
  CHECK(saved.pad_hidden == 8);
  CHECK(saved.parameters.size() == saved.spec.parameter_count());
  CHECK(saved.spec.hidden == std::vector<int>{45, 30});

  TrainConfig second = small_config(8);
  second.resume_path = first_path;
  second.save_path = resumed_path;
  const TrainResult resumed = train_on(second);
  REQUIRE(resumed.epochs.size() == uninterrupted.epochs.size());
  for (std::size_t i = 0; i < uninterrupted.epochs.size(); ++i) {
    CAPTURE(i);
    CHECK(resumed.epochs[i].epoch == uninterrupted.epochs[i].epoch);
    CHECK(resumed.epochs[i].train_loss == uninterrupted.epochs[i].train_loss);
    CHECK(resumed.epochs[i].test.loss == uninterrupted.epochs[i].test.loss);
  }
  CHECK(resumed.parameters == uninterrupted.parameters);

  TrainConfig other = small_config(1);
  other.resume_path = first_path;
  CHECK_THROWS_WITH_AS(train_on(other), doctest::Contains("--pad-hidden"), Error);

  // predict runs the model with its padding: the trainer's evaluation, bit for bit, at the trainer's chunking.
  Dataset d = test::synthetic_split(20'000, 4'000, 3);
  const SavedModel model = load_saved_model(resumed_path);
  auto backend = make_cpu_backend();
  const std::vector<float> outputs = predict_outputs(*backend, model, d.test, whole.batch_size);
  const Metrics m = evaluate_on_host(Task::binary, outputs.data(), d.test.rows, 1, 1, d.test.labels.data());
  CHECK(m.loss == uninterrupted.final_test.loss);
}
