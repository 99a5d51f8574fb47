#include <algorithm>
#include <cmath>

#include "fasttab/error.hpp"
#include "fasttab/model.hpp"
#include "host/backend/fused_mlp.hpp"
#include "host/backend/philox.hpp"

namespace fasttab {

std::size_t MlpSpec::weight_offset(int layer) const {
  std::size_t offset = 0;
  for (int l = 0; l < layer; ++l) offset += std::size_t(out_width(l)) * in_width(l) + out_width(l);
  return offset;
}

int default_embedding_dim(int cardinality) {
  return std::min(16, static_cast<int>(std::ceil(1.6 * std::pow(double(cardinality), 0.56))));
}

int MlpSpec::input_width() const {
  int width = inputs;
  for (const EmbeddingSpec& e : embeddings) width += e.dim - 1;
  return width;
}

std::size_t MlpSpec::embedding_offset(int i) const {
  std::size_t offset = weight_offset(layers());
  for (int k = 0; k < i; ++k) offset += std::size_t(embeddings[k].cardinality) * embeddings[k].dim;
  return offset;
}

std::vector<InputColumn> MlpSpec::input_columns() const {
  std::vector<InputColumn> columns(static_cast<std::size_t>(inputs));
  int out = 0;
  std::size_t next = 0;  // the next embedding, in column order
  for (int j = 0; j < inputs; ++j) {
    InputColumn& c = columns[std::size_t(j)];
    c.out_offset = out;
    if (next < embeddings.size() && embeddings[next].column == j) {
      c.dim = embeddings[next].dim;
      c.cardinality = embeddings[next].cardinality;
      c.table_offset = static_cast<std::int64_t>(embedding_offset(static_cast<int>(next)));
      ++next;
    }
    out += std::max(c.dim, 1);
  }
  return columns;
}

int MlpSpec::max_width() const {
  int width = outputs;
  for (int h : hidden) width = std::max(width, h);
  return std::max({width, inputs, input_width()});
}

void MlpSpec::validate() const {
  FASTTAB_REQUIRE(inputs >= 1, "the model needs at least one input feature (got ", inputs, ")");
  for (std::size_t i = 0; i < hidden.size(); ++i)
    FASTTAB_REQUIRE(hidden[i] >= 1 && hidden[i] <= 65536, "--hidden: width ", hidden[i], " of hidden layer ", i + 1,
                    " is not in [1, 65536]");
  FASTTAB_REQUIRE(outputs >= 1, "the model needs at least one output (got ", outputs, ")");
  FASTTAB_REQUIRE(dropout >= 0.0f && dropout < 1.0f, "--dropout ", dropout, " is not in [0, 1)");
  for (std::size_t i = 0; i < embeddings.size(); ++i) {
    const EmbeddingSpec& e = embeddings[i];
    FASTTAB_REQUIRE(e.column >= 0 && e.column < inputs && (i == 0 || e.column > embeddings[i - 1].column),
                    "embedding ", i, ": column ", e.column, " is not a new input column in [0, ", inputs, ")");
    FASTTAB_REQUIRE(e.cardinality >= 2 && e.cardinality <= (1 << 24), "embedding of input column ", e.column,
                    ": ", e.cardinality, " rows is not in [2, 16777216]");
    FASTTAB_REQUIRE(e.dim >= 1 && e.dim <= 1024, "--embedding-dim ", e.dim, " (input column ", e.column,
                    ") is not in [1, 1024]");
  }
}

MlpSpec padded_spec(const MlpSpec& spec, int multiple) {
  FASTTAB_REQUIRE(multiple >= 1 && multiple <= 256, "--pad-hidden ", multiple, " is not in [1, 256]");
  MlpSpec padded = spec;
  for (int& width : padded.hidden) width = (width + multiple - 1) / multiple * multiple;
  return padded;
}

std::vector<float> initial_parameters(const MlpSpec& spec, std::uint64_t seed) {
  std::vector<float> params(spec.parameter_count());
  // Element i of the flat vector takes word i % 4 of Philox counter block i / 4: a pure function of (seed, i).
  for (std::size_t i = 0; i < params.size(); i += 4) {
    const Philox4x32 r = philox4x32(seed, static_cast<std::uint32_t>(i >> 2), static_cast<std::uint32_t>(i >> 34),
                                    static_cast<std::uint32_t>(RandomStream::init), 0u);
    for (std::size_t j = 0; j < 4 && i + j < params.size(); ++j) params[i + j] = uniform_from_bits(r.v[j]);
  }
  for (int l = 0; l < spec.layers(); ++l) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(spec.in_width(l)));
    const std::size_t begin = spec.weight_offset(l), end = spec.weight_offset(l + 1);
    for (std::size_t i = begin; i < end; ++i) params[i] = (2.0f * params[i] - 1.0f) * bound;
  }
  const float sqrt3 = std::sqrt(3.0f);
  for (std::size_t i = spec.embedding_offset(0); i < params.size(); ++i) params[i] = (2.0f * params[i] - 1.0f) * sqrt3;
  return params;
}

namespace {

// A bfloat16 buffer of `count` values, all zero.
BackendBuffer<bfloat16> zeroed_bf16(Backend& backend, std::size_t count, const char* what) {
  BackendBuffer<bfloat16> buffer(backend, count, what);
  const std::vector<bfloat16> zeros(count, bfloat16{0});
  backend.copy_to_backend(buffer.data(), zeros.data(), buffer.bytes());
  return buffer;
}

}  // namespace

Mlp::Mlp(Backend& backend, const MlpSpec& spec, int max_rows, Precision precision, int pad_multiple, bool fused)
    : backend_(backend), spec_(spec), layout_(padded_spec(spec, pad_multiple)), max_rows_(max_rows),
      precision_(precision), fused_(fused) {
  spec_.validate();
  FASTTAB_REQUIRE(max_rows >= 1, "batch size ", max_rows, " is not >= 1");
  if (fused) {
    const std::string refusal = fused_mlp_settings_error(precision, pad_multiple);
    FASTTAB_REQUIRE(refusal.empty(), refusal);
    const std::string why_not = fused_mlp_unsupported(spec_);
    FASTTAB_REQUIRE(why_not.empty(), "--fused-mlp cannot run this model: ", why_not);
  }
  {
    // All of it checked before any allocation (the trainer checks the whole run first; this covers every user).
    const double needed = bytes_needed(spec_, max_rows, precision, pad_multiple, fused);
    const double free = double(backend.free_bytes());
    FASTTAB_REQUIRE(needed <= free, "the model and its buffers need ", std::int64_t(needed), " bytes of ",
                    backend.kind(), " memory but only ", std::int64_t(free), " are available; use smaller --hidden "
                    "or --batch-size");
  }
  const int last = layout_.layers() - 1;
  parameters_ = BackendBuffer<float>(backend, layout_.parameter_count(), "model parameters");
  gradients_ = BackendBuffer<float>(backend, layout_.parameter_count(), "model gradients");
  // Zero once: the padded biases' gradients are never written (the ops sum each layer's own columns).
  backend.fill(gradients_.data(), 0.0f, gradients_.size());
  outputs_ = BackendBuffer<float>(backend, std::size_t(max_rows) * layout_.outputs, "model outputs");
  const std::size_t max_rows_size = std::size_t(max_rows);
  if (bf16()) {
    weights16_ = zeroed_bf16(backend, weight16_offset(layout_.layers()), "bfloat16 weights");
    input16_ = zeroed_bf16(backend, max_rows_size * bf16_ld(layout_.input_width()), "bfloat16 inputs");
    for (int l = 0; l <= last; ++l) {
      if (l < last)
        activations16_.push_back(zeroed_bf16(backend, max_rows_size * bf16_ld(layout_.out_width(l)),
                                             "bfloat16 activations"));
      grad16_.push_back(zeroed_bf16(backend, max_rows_size * bf16_ld(layout_.out_width(l)), "bfloat16 gradients"));
    }
    if (fused) {  // the bias partials; with embeddings, the input gradient de in the scratch
      bias_partials_ = BackendBuffer<float>(backend, bias_partial_offset(layout_.layers()), "bias partial sums");
      if (assembles_input())
        scratch_ = BackendBuffer<float>(backend, max_rows_size * float_ld(layout_.input_width()), "input gradient");
    } else {
      scratch_ = BackendBuffer<float>(backend, max_rows_size * float_ld(layout_.max_width()), "pre-activations");
    }
  } else {
    for (int l = 0; l < last; ++l) {
      activations_.emplace_back(backend, max_rows_size * layout_.out_width(l), "layer activations");
      grads_.emplace_back(backend, max_rows_size * layout_.out_width(l), "activation gradients");
    }
  }
  if (assembles_input()) {
    embedded_ = BackendBuffer<float>(backend, max_rows_size * layout_.input_width(), "embedded inputs");
    if (!bf16()) grad_embedded_ = BackendBuffer<float>(backend, max_rows_size * layout_.input_width(), "de");
    input_columns_ = layout_.input_columns();  // the embedding tables at their places in the padded layout
    device_input_columns_ = BackendBuffer<InputColumn>(backend, input_columns_.size(), "input columns");
    backend.copy_to_backend(device_input_columns_.data(), input_columns_.data(), device_input_columns_.bytes());
  }
}

double Mlp::bytes_needed(const MlpSpec& user_spec, int max_rows, Precision precision, int pad_multiple, bool fused) {
  const MlpSpec spec = padded_spec(user_spec, pad_multiple);
  const int last = spec.layers() - 1;
  const double rows = max_rows;
  double floats = 2.0 * double(spec.parameter_count()) + rows * spec.outputs;  // parameters, gradients, outputs
  if (!spec.embeddings.empty()) floats += rows * spec.input_width();
  double halves = 0;  // bfloat16s
  if (precision == Precision::bf16) {
    if (fused) {  // the bias partial sums instead of the float32 scratch, which holds only de with embeddings
      for (int l = 0; l <= last; ++l) floats += double(fused_blocks(max_rows)) * spec.out_width(l);
      if (!spec.embeddings.empty()) floats += rows * float_ld(spec.input_width());
    } else {
      floats += rows * float_ld(spec.max_width());
    }
    for (int l = 0; l <= last; ++l) {
      const auto [w_rows, w_ld] = weight16_shape(spec, l, fused);
      halves += double(w_rows) * w_ld;
    }
    halves += rows * bf16_ld(spec.input_width());
    for (int l = 0; l <= last; ++l) halves += rows * bf16_ld(spec.out_width(l)) * (l < last ? 2.0 : 1.0);
  } else {
    for (int l = 0; l < last; ++l) floats += rows * 2.0 * spec.out_width(l);  // activations, gradients
    if (!spec.embeddings.empty()) floats += rows * spec.input_width();       // de
  }
  return sizeof(float) * floats + sizeof(bfloat16) * halves;
}

namespace {

// Layer l's weight-gradient GEMM reads dL/dz_l and layer l's input, which the rest of the backward pass leaves
// alone (one gradient buffer per layer), and writes dW_l, which nothing reads before the pass ends: so it may run
// on the side queue beside the rest, joined at the end of the pass (`gemm` holds its operands by value, inline in
// a SideWork: nothing is allocated). Called directly otherwise.
template <typename Gemm>
void weight_gradient(Backend& backend, bool on_side_queue, const Gemm& gemm) {
  if (on_side_queue) backend.on_side_queue(gemm);
  else gemm();
}

}  // namespace

InputLayout Mlp::input_layout() const {
  return InputLayout{input_columns_.data(), device_input_columns_.data(), layout_.inputs, layout_.input_width()};
}

std::pair<int, int> Mlp::weight16_shape(const MlpSpec& layout, int layer, bool fused) {
  if (fused) return {padded_to_tile(layout.out_width(layer)), padded_to_tile(layout.in_width(layer))};
  return {layout.out_width(layer), bf16_ld(layout.in_width(layer))};
}

// Fused: every layer's W16 is a whole number of 16 x 16 tiles (512 bytes), so each starts 32-byte aligned.
std::size_t Mlp::weight16_offset(int layer) const {
  std::size_t offset = 0;
  for (int l = 0; l < layer; ++l) {
    const auto [rows, ld] = weight16_shape(layout_, l, fused_);
    offset += std::size_t(rows) * ld;
  }
  return offset;
}

std::size_t Mlp::bias_partial_offset(int layer) const {
  std::size_t offset = 0;
  for (int l = 0; l < layer; ++l) offset += std::size_t(fused_blocks(max_rows_)) * layout_.out_width(l);
  return offset;
}

FusedMlp Mlp::fused_model() const {
  FusedMlp m;
  m.count = layout_.layers();
  m.inputs = layout_.input_width();
  m.activation = spec_.activation;
  for (int l = 0; l < layout_.layers(); ++l) {
    FusedLayer& layer = m.layers[l];
    layer.weights = reinterpret_cast<const __nv_bfloat16*>(weights16_.data() + weight16_offset(l));
    layer.bias = parameters_.data() + layout_.bias_offset(l);
    layer.in_padded = padded_to_tile(layout_.in_width(l));
    layer.out_padded = padded_to_tile(layout_.out_width(l));
    layer.units = layout_.out_width(l);
  }
  return m;
}

FusedTraining Mlp::fused_training(bool training, DropoutKey key) {
  FusedTraining t;
  if (!training) return t;
  t.key = key;
  t.input16 = reinterpret_cast<__nv_bfloat16*>(input16_.data());
  t.ld_input16 = bf16_ld(layout_.input_width());
  for (int l = 0; l + 1 < layout_.layers(); ++l) {
    t.dropout[l] = spec_.dropout_after(l);
    t.activations[l] = reinterpret_cast<__nv_bfloat16*>(activations16_[std::size_t(l)].data());
    t.ld_activations[l] = bf16_ld(layout_.out_width(l));
  }
  return t;
}

const float* Mlp::activations(int layer) const {
  return bf16() ? nullptr : activations_[std::size_t(layer)].data();
}
const bfloat16* Mlp::bf16_activations(int layer) const {
  return bf16() ? activations16_[std::size_t(layer)].data() : nullptr;
}
int Mlp::activation_ld(int layer) const {
  return bf16() ? bf16_ld(layout_.out_width(layer)) : layout_.out_width(layer);
}

void Mlp::convert_layout(const float* src, float* dst, bool to_layout) const {
  const MlpSpec& from = to_layout ? spec_ : layout_;
  const MlpSpec& to = to_layout ? layout_ : spec_;
  for (int l = 0; l < spec_.layers(); ++l) {  // W_l row by row (rows of in_l values), then b_l
    const int out = spec_.out_width(l), in = spec_.in_width(l);
    for (int r = 0; r < out; ++r)
      std::copy_n(src + from.weight_offset(l) + std::size_t(r) * from.in_width(l), in,
                  dst + to.weight_offset(l) + std::size_t(r) * to.in_width(l));
    std::copy_n(src + from.bias_offset(l), out, dst + to.bias_offset(l));
  }
  std::copy(src + from.embedding_offset(0), src + from.parameter_count(), dst + to.embedding_offset(0));
}

std::vector<float> Mlp::pad_parameters(const std::vector<float>& user) const {
  FASTTAB_REQUIRE(user.size() == spec_.parameter_count(), "parameter vector has ", user.size(),
                  " values; the model has ", spec_.parameter_count());
  std::vector<float> padded(layout_.parameter_count(), 0.0f);
  convert_layout(user.data(), padded.data(), true);
  return padded;
}

std::vector<float> Mlp::unpad_parameters(const std::vector<float>& padded) const {
  FASTTAB_REQUIRE(padded.size() == layout_.parameter_count(), "internal: padded parameter vector has ",
                  padded.size(), " values, not ", layout_.parameter_count());
  std::vector<float> user(spec_.parameter_count());
  convert_layout(padded.data(), user.data(), false);
  return user;
}

std::vector<float> Mlp::download(const float* values) const {
  std::vector<float> host(parameter_count());
  backend_.copy_to_host(host.data(), values, host.size() * sizeof(float));
  return unpad_parameters(host);
}

void Mlp::upload(const std::vector<float>& user, float* values) const {
  const std::vector<float> padded = pad_parameters(user);
  backend_.copy_to_backend(values, padded.data(), padded.size() * sizeof(float));
}

void Mlp::set_parameters(const std::vector<float>& host_parameters) { upload(host_parameters, parameters_.data()); }
std::vector<float> Mlp::get_parameters() const { return download(parameters_.data()); }

const float* Mlp::forward(const float* x, int ld_x, int rows, bool training, DropoutKey key, float* outputs) {
  if (bf16()) convert_weights();
  return forward_pass(x, ld_x, rows, training, key, outputs);
}

// bf16: this pass's bfloat16 weights, the master weights as they are now (each layer's rows padded to 8).
void Mlp::convert_weights() {
  for (int l = 0; l < layout_.layers(); ++l)
    backend_.convert_to_bf16(parameters_.data() + layout_.weight_offset(l), layout_.out_width(l),
                             layout_.in_width(l), layout_.in_width(l), weights16_.data() + weight16_offset(l),
                             weight16_shape(layout_, l, fused_).second);
}

const float* Mlp::forward_pass(const float* x, int ld_x, int rows, bool training, DropoutKey key, float* outputs) {
  FASTTAB_REQUIRE(rows >= 1 && rows <= max_rows_, "forward pass of ", rows, " rows; the model holds at most ",
                  max_rows_);
  const float* input = x;
  int ld_in = ld_x;
  if (assembles_input()) {  // e[rows, input_width] = x with each code replaced by its embedding row
    backend_.embed_inputs(x, ld_x, rows, input_layout(), parameters_.data(), embedded_.data(), layout_.input_width());
    input = embedded_.data();
    ld_in = layout_.input_width();
  }
  float* z_last = outputs ? outputs : outputs_.data();
  if (bf16()) forward_bf16(input, ld_in, rows, training, key, z_last);
  else forward_fp32(input, ld_in, rows, training, key, z_last);
  return z_last;
}

// Widths: `out` and `in` are layout_'s (the GEMMs' and the buffers'), `units` the layer's own (spec_'s): the
// element-wise op covers the first `units` columns of rows `out` wide, so a padded unit's z (an exact zero, from
// its zero weights) is never given its bias or drawn for dropout, and stays zero.
void Mlp::forward_fp32(const float* input, int ld_in, int rows, bool training, DropoutKey key, float* z_last) {
  const int last = layout_.layers() - 1;
  for (int l = 0; l <= last; ++l) {
    const int in = layout_.in_width(l), out = layout_.out_width(l), units = spec_.out_width(l);
    float* z = l == last ? z_last : activations_[l].data();
    const float* w = parameters_.data() + layout_.weight_offset(l);
    const float* b = parameters_.data() + layout_.bias_offset(l);
    // z[rows, out] = input[rows, in] W^T
    backend_.gemm(false, true, rows, out, in, 1.0f, input, ld_in, w, in, 0.0f, z, out);
    DropoutKey layer_key = key;
    layer_key.layer = static_cast<std::uint32_t>(l);
    const float p = training ? spec_.dropout_after(l) : 0.0f;
    const Activation act = l == last ? Activation::identity : spec_.activation;
    backend_.bias_activation_dropout_forward(z, rows, units, out, b, act, p, layer_key);
    input = z;
    ld_in = out;
  }
}

void Mlp::forward_bf16(const float* input, int ld_in, int rows, bool training, DropoutKey key, float* z_last) {
  if (fused_) {  // the whole pass in one op; in training it writes input16 and the hidden activations as below
    backend_.fused_mlp_forward_bf16(fused_model(), input, ld_in, rows, z_last, fused_training(training, key));
    return;
  }
  const int last = layout_.layers() - 1;
  // The first layer's input in bfloat16 (the weights were converted by the caller: forward, forward_rows).
  backend_.convert_to_bf16(input, rows, layout_.input_width(), ld_in, input16_.data(), bf16_ld(layout_.input_width()));
  const bfloat16* input16 = input16_.data();
  for (int l = 0; l <= last; ++l) {
    const int in = layout_.in_width(l), out = layout_.out_width(l), units = spec_.out_width(l);
    const bfloat16* w = weights16_.data() + weight16_offset(l);
    const float* b = parameters_.data() + layout_.bias_offset(l);
    DropoutKey layer_key = key;
    layer_key.layer = static_cast<std::uint32_t>(l);
    const float p = training ? spec_.dropout_after(l) : 0.0f;
    if (l == last) {  // the logits, float32: z[rows, out] = input16 W16^T + b
      backend_.gemm_bf16(false, true, rows, out, in, 1.0f, input16, bf16_ld(in), w, bf16_ld(in), 0.0f, z_last, out);
      backend_.bias_activation_dropout_forward(z_last, rows, out, out, b, Activation::identity, p, layer_key);
      break;
    }
    // z (float32 scratch) = input16 W16^T;  a16 = bf16(act(z + b), dropout) over the layer's own columns
    backend_.gemm_bf16(false, true, rows, out, in, 1.0f, input16, bf16_ld(in), w, bf16_ld(in), 0.0f, scratch_.data(),
                       float_ld(out));
    bfloat16* a16 = activations16_[std::size_t(l)].data();
    backend_.bias_activation_dropout_forward_bf16(scratch_.data(), rows, units, float_ld(out), b, spec_.activation, p,
                                                  layer_key, a16, bf16_ld(out));
    input16 = a16;
  }
}

void Mlp::forward_rows(const float* x, int ld_x, std::int64_t rows, float* outputs) {
  if (bf16() && rows > 0) convert_weights();  // once for every chunk: the weights do not change between them
  for (std::int64_t first = 0; first < rows; first += max_rows_) {
    const int chunk = static_cast<int>(std::min<std::int64_t>(max_rows_, rows - first));
    forward_pass(x + first * ld_x, ld_x, chunk, false, DropoutKey{}, outputs + first * layout_.outputs);
  }
}

void Mlp::backward(const float* x, int ld_x, int rows, float* grad_outputs, DropoutKey key) {
  if (bf16()) backward_bf16(x, ld_x, rows, grad_outputs, key);
  else backward_fp32(x, ld_x, rows, grad_outputs, key);
}

// Widths as in the forward passes. The GEMMs run at layout_'s widths; a padded unit's gradient columns come out of
// them as exact zeros (its outgoing weights are zero), and so do its rows and columns of dW. The element-wise ops
// and bias gradients cover the layer's own `units` columns; the padded biases' gradients stay the zeros they
// started as.
void Mlp::backward_fp32(const float* x, int ld_x, int rows, float* grad_outputs, DropoutKey key) {
  const int last = layout_.layers() - 1;
  backend_.bias_gradient(grad_outputs, rows, layout_.outputs, layout_.outputs,
                         gradients_.data() + layout_.bias_offset(last));
  for (int l = last; l >= 0; --l) {
    const int in = layout_.in_width(l), out = layout_.out_width(l);
    const bool embedded = l == 0 && assembles_input();
    const float* grad = l == last ? grad_outputs : grads_[std::size_t(l)].data();  // dL/dz_l [rows, out]
    const float* input = l > 0 ? activations_[std::size_t(l - 1)].data() : embedded ? embedded_.data() : x;
    const int ld_in = l == 0 && !embedded ? ld_x : in;
    const float* w = parameters_.data() + layout_.weight_offset(l);
    float* dw = gradients_.data() + layout_.weight_offset(l);
    // dW[out, in] = grad[rows, out]^T input[rows, in]
    weight_gradient(backend_, overlap_weight_gradients_, [this, out, in, rows, grad, input, ld_in, dw] {
      backend_.gemm(true, false, out, in, rows, 1.0f, grad, out, input, ld_in, 0.0f, dw, in);
    });
    if (l == 0) {
      if (embedded) {  // de[rows, in] = grad W_0, scattered into the embedding tables' gradient
        backend_.gemm(false, false, rows, in, out, 1.0f, grad, out, w, in, 0.0f, grad_embedded_.data(), in);
        backend_.embedding_gradient(x, ld_x, rows, input_layout(), grad_embedded_.data(), in, gradients_.data());
      }
      break;
    }
    // d(input)[rows, in] = grad[rows, out] W[out, in], then through layer l-1's activation and dropout (in place:
    // dL/dz_{l-1}), which also sums layer l-1's bias gradient.
    float* grad_in = grads_[std::size_t(l - 1)].data();
    backend_.gemm(false, false, rows, in, out, 1.0f, grad, out, w, in, 0.0f, grad_in, in);
    DropoutKey layer_key = key;
    layer_key.layer = static_cast<std::uint32_t>(l - 1);
    backend_.activation_dropout_backward_bias_gradient(grad_in, activations_[std::size_t(l - 1)].data(), rows,
                                                       spec_.in_width(l), in, spec_.activation,
                                                       spec_.dropout_after(l - 1), layer_key,
                                                       gradients_.data() + layout_.bias_offset(l - 1));
  }
  if (overlap_weight_gradients_) backend_.join_side_queue();
}

// dW_l[out, in] = g16_l[rows, out]^T input16_l[rows, in] in float32 (input16_0: the input, else a16_{l-1}),
// straight into the parameter gradients; on the side queue under --overlap-weight-gradients (weight_gradient).
void Mlp::weight_gradient_bf16(int l, int rows) {
  const int in = layout_.in_width(l), out = layout_.out_width(l);
  const bfloat16* g16 = grad16_[std::size_t(l)].data();
  const bfloat16* input16 = l > 0 ? activations16_[std::size_t(l - 1)].data() : input16_.data();
  float* dw = gradients_.data() + layout_.weight_offset(l);
  weight_gradient(backend_, overlap_weight_gradients_, [this, out, in, rows, g16, input16, dw] {
    backend_.gemm_bf16(true, false, out, in, rows, 1.0f, g16, bf16_ld(out), input16, bf16_ld(in), 0.0f, dw, in);
  });
}

// Fused: the chain in one op (g16 of every layer, the bias partials, with embeddings de), then per layer dW_l =
// g16_l^T input16_l as below and b_l's gradient = the sum of its blocks' partials (Backend::bias_gradient over them,
// in block order); de scattered into the embedding tables' gradient as below.
void Mlp::backward_fused(const float* x, int ld_x, int rows, const float* grad_outputs, DropoutKey key) {
  const FusedTraining forward = fused_training(true, key);
  FusedGradients gradients;
  const int blocks = fused_blocks(rows);
  for (int l = 0; l < layout_.layers(); ++l) {
    gradients.grad16[l] = reinterpret_cast<__nv_bfloat16*>(grad16_[std::size_t(l)].data());
    gradients.ld_grad16[l] = bf16_ld(layout_.out_width(l));
    gradients.bias_partials[l] = bias_partials_.data() + bias_partial_offset(l);
  }
  if (assembles_input()) {
    gradients.input_grad = scratch_.data();
    gradients.ld_input_grad = float_ld(layout_.input_width());
  }
  backend_.fused_mlp_backward_bf16(fused_model(), forward, grad_outputs, rows, gradients);
  if (assembles_input())
    backend_.embedding_gradient(x, ld_x, rows, input_layout(), scratch_.data(), float_ld(layout_.input_width()),
                                gradients_.data());
  for (int l = layout_.layers() - 1; l >= 0; --l) {
    weight_gradient_bf16(l, rows);
    const int out = layout_.out_width(l);
    backend_.bias_gradient(gradients.bias_partials[l], blocks, out, out, gradients_.data() + layout_.bias_offset(l));
  }
  if (overlap_weight_gradients_) backend_.join_side_queue();
}

void Mlp::backward_bf16(const float* x, int ld_x, int rows, float* grad_outputs, DropoutKey key) {
  if (fused_) return backward_fused(x, ld_x, rows, grad_outputs, key);
  const int last = layout_.layers() - 1;
  const int outputs = layout_.outputs;
  // The last layer: its bias gradient from the float32 loss gradient, which then becomes g16.
  backend_.bias_gradient(grad_outputs, rows, outputs, outputs, gradients_.data() + layout_.bias_offset(last));
  backend_.convert_to_bf16(grad_outputs, rows, outputs, outputs, grad16_[std::size_t(last)].data(), bf16_ld(outputs));
  for (int l = last; l >= 0; --l) {  // grad16_[l] holds g16_l = bf16(dL/dz_l) on entry to iteration l
    const int in = layout_.in_width(l), out = layout_.out_width(l);
    const bfloat16* g16 = grad16_[std::size_t(l)].data();
    const bfloat16* w = weights16_.data() + weight16_offset(l);
    weight_gradient_bf16(l, rows);
    // d(input)[rows, in] = g16 W16 (float32): the first layer's only where it feeds embedding tables.
    if (l == 0 && spec_.embeddings.empty()) break;
    backend_.gemm_bf16(false, false, rows, in, out, 1.0f, g16, bf16_ld(out), w, bf16_ld(in), 0.0f, scratch_.data(),
                       float_ld(in));
    if (l == 0) {  // de, scattered into the embedding tables' gradient
      backend_.embedding_gradient(x, ld_x, rows, input_layout(), scratch_.data(), float_ld(in), gradients_.data());
      break;
    }
    // Through layer l-1's activation and dropout over its own columns: g16_{l-1}, and layer l-1's bias gradient.
    DropoutKey layer_key = key;
    layer_key.layer = static_cast<std::uint32_t>(l - 1);
    backend_.activation_dropout_backward_bias_gradient_bf16(
        scratch_.data(), float_ld(in), activations16_[std::size_t(l - 1)].data(), bf16_ld(in), rows,
        spec_.in_width(l), spec_.activation, spec_.dropout_after(l - 1), layer_key,
        gradients_.data() + layout_.bias_offset(l - 1), grad16_[std::size_t(l - 1)].data(), bf16_ld(in));
  }
  if (overlap_weight_gradients_) backend_.join_side_queue();
}

}  // namespace fasttab
