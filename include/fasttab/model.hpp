// The multilayer perceptron: its shape, its parameters in one flat vector, and its forward and backward passes
// written by hand on top of Backend ops (cuBLAS GEMMs and fused element-wise kernels on the GPU).
//
// Layer l maps in_l -> out_l:  z = x W_l^T + b_l,  W_l row-major [out_l, in_l] (PyTorch's layout),
// then act(z) for hidden layers, dropout (p > 0) after the first hidden layer, and nothing after the last
// (its pre-activation is the logit / class scores / regression value that the loss takes).
//
// Categorical columns (embeddings): a column of x that holds a category code is replaced, before the first layer,
// by its row of a learned table E_c [cardinality, dim]: the first layer sees e = [numeric columns and embedding rows,
// in the order of x's columns], of input_width() columns. Its gradient reaches E_c through a deterministic
// scatter-add (Backend::embedding_gradient).
//
// Flat parameter layout: for l = 0..L-1, W_l (out_l * in_l floats) then b_l (out_l floats); then the embedding
// tables E_c in the order of their columns (cardinality * dim floats each, row-major). Gradients and optimiser
// state use the same layout, so one fused kernel updates everything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "fasttab/backend.hpp"

namespace fasttab {

// One categorical input column: x's column `column` holds codes in [0, cardinality) (0 missing, 1 unseen), each
// mapped to a learned vector of `dim` floats.
struct EmbeddingSpec {
  int column = 0;
  int cardinality = 0;
  int dim = 0;
  // Spelled out: a defaulted operator== is C++20 and the project builds as C++17.
  bool operator==(const EmbeddingSpec& o) const {
    return column == o.column && cardinality == o.cardinality && dim == o.dim;
  }
  bool operator!=(const EmbeddingSpec& o) const { return !(*this == o); }
};

// The default width of a column's embedding: min(16, ceil(1.6 * cardinality^0.56)) (fastai's rule, capped).
int default_embedding_dim(int cardinality);

struct MlpSpec {
  int inputs = 21;  // columns of x: numeric features and category codes
  std::vector<int> hidden = {300, 300, 300, 300};
  int outputs = 1;
  Activation activation = Activation::tanh;
  float dropout = 0.5f;  // probability of dropping an output of the first hidden layer (the seed's Dropout(0.5))
  std::vector<EmbeddingSpec> embeddings;  // categorical columns of x, in increasing column order

  int layers() const { return static_cast<int>(hidden.size()) + 1; }
  // Columns of the first layer's input: the numeric columns plus every embedding's dim.
  int input_width() const;
  int in_width(int layer) const { return layer == 0 ? input_width() : hidden[layer - 1]; }
  int out_width(int layer) const { return layer == layers() - 1 ? outputs : hidden[layer]; }
  float dropout_after(int layer) const { return layer == 0 && layers() > 1 ? dropout : 0.0f; }
  std::size_t weight_offset(int layer) const;
  std::size_t bias_offset(int layer) const { return weight_offset(layer) + std::size_t(out_width(layer)) * in_width(layer); }
  // Where embedding i's table starts in the flat vector (after every layer's weights and biases).
  std::size_t embedding_offset(int i) const;
  std::size_t parameter_count() const { return embedding_offset(static_cast<int>(embeddings.size())); }
  // x's columns for the embedding ops (InputLayout), tables addressed from the start of the flat vector.
  std::vector<InputColumn> input_columns() const;
  int max_width() const;
  void validate() const;  // throws Error for widths < 1, dropout outside [0, 1) or a malformed embedding
};

// The shape the engine runs a model at when its hidden widths are padded (Mlp's pad_multiple, --pad-hidden): every
// hidden width rounded up to a multiple of `multiple` (1: the spec itself). The input and output widths are the
// model's. A padded unit has zero weights in and out and a zero bias, so its activation act(0) = 0 (tanh, relu,
// identity) adds nothing to the next layer, and every gradient that reaches its weights is an exact zero.
MlpSpec padded_spec(const MlpSpec& spec, int multiple);

// PyTorch's default initialisation of nn.Linear: weights and biases uniform in +-1/sqrt(fan_in); embeddings
// uniform in +-sqrt(3) (mean 0, variance 1, as nn.Embedding's N(0, 1), on the scale of standardised features).
// Drawn from Philox (seed, RandomStream::init), so that both backends and every loader start from the same weights.
std::vector<float> initial_parameters(const MlpSpec& spec, std::uint64_t seed);

// Precision::bf16: every GEMM reads bfloat16 and accumulates in float32 (gemm_bf16: tensor cores on the GPU, the
// same values widened to float32 on the CPU, so the CPU is the reference for what the GPU stores).
//   forward:  each pass (forward_rows: once for all its chunks) first converts the master weights into a bfloat16
//             copy W16, and each pass the first layer's input
//             (x's rows, or the embedded e) into x16; hidden layer l: z = gemm_bf16(a16_{l-1}, W16_l) into a float32
//             scratch, then a16_l = bf16(act(z + b_l), dropout) (one fused pass); the last layer's z (the logits)
//             is float32.
//   backward: the loss gradient g (float32) gives the last bias gradient and is converted to g16; layer l:
//             dW_l = gemm_bf16(g16_l^T, a16_{l-1}) (float32, straight into the parameter gradients), dA =
//             gemm_bf16(g16_l, W16_l) (float32), then one fused pass gives g16_{l-1} = bf16(dA * act'(a16_{l-1}),
//             dropout) and the bias gradient of layer l-1 from the float32 values before rounding.
// Master weights, biases, optimiser state, parameter gradients, logits, loss and metrics stay float32. The bfloat16
// buffers' rows are padded to multiples of 8 (16 bytes) for the tensor cores; that padding is zero. fp32 and
// tf32 store everything in float32.
//
// Padded hidden widths (pad_multiple > 1): the passes run at layout() = padded_spec(spec(), pad_multiple), so
// that every GEMM sees widths the tensor cores tile well (300 -> 304 or 320). parameters(), gradients() and the
// optimiser state are in layout()'s flat layout; the padding of the weights and biases is zero and stays zero
// (the gradients that reach it are exact zeros: see padded_spec). The element-wise ops run over each layer's own
// width with the padded leading dimension, so dropout draws the same masks as without padding. set_parameters
// and get_parameters take and give the user's model (spec()'s layout); pad_parameters and unpad_parameters
// convert any vector in the same flat layout (the optimiser state, for checkpoints).
//
// Fused (bf16 only, `fused`, --fused-mlp): the forward pass runs as one kernel and the backward pass's chain
// through the layers as another (Backend::fused_mlp_forward_bf16 and fused_mlp_backward_bf16; host/backend/
// fused_mlp.hpp), in place of the per-layer GEMMs and element-wise ops; the weight gradients stay GEMMs (dW_l =
// g16_l^T a16_{l-1}) and the bias gradients are sums of the kernel's per-block partials. The same arithmetic up to
// the order of the float32 sums. W16_l is then held [out_l, in_l] padded to multiples of 16 (the kernels' tiles).
// For widths up to 320 (the first layer's input: the features with their embeddings), tanh or relu, no
// pad_multiple (fused_mlp_unsupported says why not). With embeddings the backward op also forms de = g16_0 W16_0.
class Mlp {
 public:
  // Allocates parameters, gradients and activations for up to max_rows rows per pass.
  Mlp(Backend& backend, const MlpSpec& spec, int max_rows, Precision precision = Precision::fp32,
      int pad_multiple = 1, bool fused = false);

  const MlpSpec& spec() const { return spec_; }
  const MlpSpec& layout() const { return layout_; }  // the shape the passes run at (spec() unless padded)
  // The length of parameters(), gradients() and the optimiser's state vectors: layout().parameter_count().
  std::size_t parameter_count() const { return layout_.parameter_count(); }
  Precision precision() const { return precision_; }
  bool fused() const { return fused_; }
  // Hidden layer `layer`'s activations [max_rows, spec().out_width(layer)] of the last forward pass (tests), leading
  // dim activation_ld(layer): float32 (fp32, tf32) or bfloat16 (bf16; the other accessor is then null).
  const float* activations(int layer) const;
  const bfloat16* bf16_activations(int layer) const;
  int activation_ld(int layer) const;
  int max_rows() const { return max_rows_; }
  float* parameters() { return parameters_.data(); }
  const float* parameters() const { return parameters_.data(); }
  float* gradients() { return gradients_.data(); }
  // The user's model (spec().parameter_count() values) in and out; padded internally.
  void set_parameters(const std::vector<float>& host_parameters);
  std::vector<float> get_parameters() const;
  // Any vector of the flat layout in backend memory (parameter_count() values: the parameters, the optimiser's
  // state, a copy of the weights) to the host in spec()'s layout, and back (zeros in the padding).
  std::vector<float> download(const float* values) const;
  void upload(const std::vector<float>& user, float* values) const;
  // A host vector in spec()'s flat layout into layout()'s (zeros in the padding), and back.
  std::vector<float> pad_parameters(const std::vector<float>& user) const;
  std::vector<float> unpad_parameters(const std::vector<float>& padded) const;

  // Forward pass over x[rows, inputs] (leading dim ld_x). With `training`, dropout masks come from key
  // (key.layer is set per layer here). Returns the outputs [rows, outputs] (leading dim outputs), written to
  // `outputs` when given, else to an internal buffer valid until the next pass.
  const float* forward(const float* x, int ld_x, int rows, bool training, DropoutKey key, float* outputs = nullptr);

  // Inference over any number of rows of x (leading dim ld_x), max_rows() at a time, without dropout:
  // outputs[rows, outputs] (leading dim outputs). Enqueued only.
  void forward_rows(const float* x, int ld_x, std::int64_t rows, float* outputs);

  // Backward pass after forward(training) over the same x: grad_outputs = dL/d(outputs) [rows, outputs]
  // (overwritten). Writes dL/dparameters into gradients(); the first layer's input gradient is not formed.
  void backward(const float* x, int ld_x, int rows, float* grad_outputs, DropoutKey key);

  // With `on`, backward() computes each layer's weight gradient on the backend's side queue, beside the rest of
  // the pass, and joins it at the end (Backend::on_side_queue; --overlap-weight-gradients). The same GEMMs on the
  // same operands: the same results.
  void set_overlap_weight_gradients(bool on) { overlap_weight_gradients_ = on; }

  // The bytes of backend memory an Mlp of this shape allocates (parameters, gradients and every buffer of its
  // passes): what the constructor checks before allocating, and what a caller adds to its own.
  static double bytes_needed(const MlpSpec& spec, int max_rows, Precision precision, int pad_multiple = 1,
                             bool fused = false);
  // The leading dimension of a bfloat16 buffer of `width` columns: rows of whole 16-byte groups.
  static int bf16_ld(int width) { return (width + 7) / 8 * 8; }

 private:
  Backend& backend_;
  MlpSpec spec_;    // the user's model
  MlpSpec layout_;  // padded_spec(spec_, pad_multiple): every buffer's and GEMM's widths
  int max_rows_;
  Precision precision_;
  bool bf16() const { return precision_ == Precision::bf16; }
  bool fused_;
  bool overlap_weight_gradients_ = false;
  BackendBuffer<float> parameters_, gradients_;
  BackendBuffer<float> outputs_;                   // the last layer's outputs [max_rows, outputs] (float32)
  // With embeddings: the assembled first-layer input e [max_rows, input_width] of the last forward pass, and x's
  // columns for the embedding ops in host and backend memory.
  BackendBuffer<float> embedded_;
  std::vector<InputColumn> input_columns_;
  BackendBuffer<InputColumn> device_input_columns_;
  InputLayout input_layout() const;
  bool assembles_input() const { return !spec_.embeddings.empty(); }

  // fp32, tf32 (widths of layout_): per hidden layer l, a_l and dL/dz_l [max_rows, out_l]; with embeddings, de.
  std::vector<BackendBuffer<float>> activations_;
  std::vector<BackendBuffer<float>> grads_;
  BackendBuffer<float> grad_embedded_;  // [max_rows, input_width]
  void forward_fp32(const float* input, int ld_in, int rows, bool training, DropoutKey key, float* z_last);
  void backward_fp32(const float* x, int ld_x, int rows, float* grad_outputs, DropoutKey key);

  // bf16 (widths of layout_, leading dims bf16_ld(width); float32 scratch rows of whole float4s). Every bfloat16
  // buffer keeps one shape for its life and starts at zero; the element-wise ops write only each layer's own
  // columns, so padded columns (read by the padded GEMMs) stay zero.
  BackendBuffer<bfloat16> weights16_;                  // W16_l at weight16_offset(l): weight16_shape(l)
  BackendBuffer<bfloat16> input16_;                    // x16 [max_rows, bf16_ld(input_width)]
  std::vector<BackendBuffer<bfloat16>> activations16_; // a16_l [max_rows, bf16_ld(out_l)], hidden layers
  std::vector<BackendBuffer<bfloat16>> grad16_;        // g16_l = bf16(dL/dz_l) [max_rows, bf16_ld(out_l)], every layer
  BackendBuffer<float> scratch_;                       // z (forward) and dA (backward) [max_rows, float_ld(max_width)];
                                                       // fused: only de, with embeddings [max_rows, float_ld(inputs)]
  std::size_t weight16_offset(int layer) const;
  // W16_l's rows and leading dimension: [out_l, bf16_ld(in_l)], fused [out_l, in_l] padded to 16 (zero padding).
  static std::pair<int, int> weight16_shape(const MlpSpec& layout, int layer, bool fused);

  // Fused: the per-block bias sums of every layer, layer l's [fused_blocks(max_rows), out_l] at bias_partial_offset(l).
  BackendBuffer<float> bias_partials_;
  std::size_t bias_partial_offset(int layer) const;
  FusedMlp fused_model() const;                                     // the kernels' view of W16 and the biases
  FusedTraining fused_training(bool training, DropoutKey key);  // of input16 and activations16 (training)
  static int float_ld(int width) { return (width + 3) / 4 * 4; }
  const float* forward_pass(const float* x, int ld_x, int rows, bool training, DropoutKey key, float* outputs);
  void convert_weights();  // bf16: weights16_ from the master weights
  void forward_bf16(const float* input, int ld_in, int rows, bool training, DropoutKey key, float* z_last);
  void backward_bf16(const float* x, int ld_x, int rows, float* grad_outputs, DropoutKey key);
  void backward_fused(const float* x, int ld_x, int rows, const float* grad_outputs, DropoutKey key);
  void weight_gradient_bf16(int layer, int rows);  // dW_l from g16_l and the layer's bfloat16 input
  // Copies every parameter of a flat vector from spec_'s layout into layout_'s (to_layout) or back.
  void convert_layout(const float* src, float* dst, bool to_layout) const;
};

}  // namespace fasttab
