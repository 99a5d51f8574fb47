// The multilayer perceptron: its shape, its parameters in one flat vector, and its forward and backward passes
// written by hand on top of Backend ops (cuBLAS GEMMs and fused element-wise kernels on the GPU).
//
// Layer l maps in_l -> out_l:  z = x W_l^T + b_l,  W_l row-major [out_l, in_l] (PyTorch's layout),
// then act(z) for hidden layers, dropout (p > 0) after the first hidden layer, and nothing after the last
// (its pre-activation is the logit / class scores / regression value that the loss takes).
//
// Flat parameter layout: for l = 0..L-1, W_l (out_l * in_l floats) then b_l (out_l floats). Gradients and
// optimiser state use the same layout, so one fused kernel updates everything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fasttab/backend.hpp"

namespace fasttab {

struct MlpSpec {
  int inputs = 21;
  std::vector<int> hidden = {300, 300, 300, 300};
  int outputs = 1;
  Activation activation = Activation::tanh;
  float dropout = 0.5f;  // probability of dropping an output of the first hidden layer (the seed's Dropout(0.5))

  int layers() const { return static_cast<int>(hidden.size()) + 1; }
  int in_width(int layer) const { return layer == 0 ? inputs : hidden[layer - 1]; }
  int out_width(int layer) const { return layer == layers() - 1 ? outputs : hidden[layer]; }
  float dropout_after(int layer) const { return layer == 0 && layers() > 1 ? dropout : 0.0f; }
  std::size_t weight_offset(int layer) const;
  std::size_t bias_offset(int layer) const { return weight_offset(layer) + std::size_t(out_width(layer)) * in_width(layer); }
  std::size_t parameter_count() const { return weight_offset(layers()); }
  int max_width() const;
  void validate() const;  // throws Error for widths < 1 or dropout outside [0, 1)
};

// PyTorch's default initialisation of nn.Linear: weights and biases uniform in +-1/sqrt(fan_in), drawn from
// Philox (seed, RandomStream::init), so that both backends and every loader start from the same weights.
std::vector<float> initial_parameters(const MlpSpec& spec, std::uint64_t seed);

class Mlp {
 public:
  // Allocates parameters, gradients and activations for up to max_rows rows per pass.
  Mlp(Backend& backend, const MlpSpec& spec, int max_rows);

  const MlpSpec& spec() const { return spec_; }
  int max_rows() const { return max_rows_; }
  float* parameters() { return parameters_.data(); }
  const float* parameters() const { return parameters_.data(); }
  float* gradients() { return gradients_.data(); }
  void set_parameters(const std::vector<float>& host_parameters);
  std::vector<float> get_parameters() const;

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

 private:
  Backend& backend_;
  MlpSpec spec_;
  int max_rows_;
  BackendBuffer<float> parameters_, gradients_;
  std::vector<BackendBuffer<float>> activations_;  // one per layer: [max_rows, out_width(l)]
  BackendBuffer<float> grad_a_, grad_b_;           // ping-pong input gradients [max_rows, max_width]
};

}  // namespace fasttab
