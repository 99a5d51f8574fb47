// Experiment (issue 9, item 5, the moonshot), kept apart from the engine: the whole bf16 forward pass of an MLP in
// one kernel. A block of kRowsPerBlock rows keeps its activations in shared memory through every layer; the
// weights are read from L2 (each warp loads its own bfloat16 tiles); the products run on the tensor cores through
// WMMA (16x16x16 bfloat16 tiles, float32 accumulators). Inference, or a training pass (FusedTraining: dropout, and
// the activations the backward pass reads written out); the backward pass's chain is fused_backward.cuh's.
//
// The arithmetic is the engine's bf16 forward (Mlp::forward_bf16): the first layer's input rounded to bfloat16,
// z = the float32 sum of products of bfloat16 activations and bfloat16 weights, a = bf16(act(z + b)) for a hidden
// layer, the logits z + b in float32. Only the order of each sum differs (cuBLAS's tiles against 16-wide k steps).
//
// Layout. Every width is padded to a multiple of 16 (kTile): layer l's weights are [out_padded, in_padded]
// row-major bfloat16 with zeros past the layer's own rows and columns, its bias out_padded floats with zeros past
// `units`. A padded unit's z is then 0 + 0, act(0) = 0 for tanh and relu, so it adds nothing to the next layer.
// Shared memory: two activation buffers [kRowsPerBlock, kLdActivations] bfloat16 (the layer's input and output, in
// turn) and one float32 16x16 tile per warp for the epilogue.
//
// Work split: warp w owns row tile w % 4 (16 of the block's 64 rows) and the column tiles j with j % 2 == w / 4,
// at most kMaxTilesPerWarp (10: 320 columns) accumulators in registers. For each k step it loads its A tile from
// shared memory once and a B tile (16 output units x 16 inputs of W) per accumulator from global memory.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstddef>

#include "fasttab/backend.hpp"

namespace fasttab::experiments {

constexpr int kTile = 16;
constexpr int kFusedMaxWidth = 320;   // every padded width (inputs, hidden, outputs) at most this
constexpr int kFusedMaxLayers = 16;
constexpr int kRowsPerBlock = 64;
constexpr int kLdActivations = kFusedMaxWidth + 16;  // bfloat16s per shared row: a multiple of 16 (WMMA), staggered

inline int padded_to_tile(int width) { return (width + kTile - 1) / kTile * kTile; }

struct FusedLayer {
  const __nv_bfloat16* weights = nullptr;  // [out_padded, in_padded] row-major, zero padding; 32-byte aligned
  const float* bias = nullptr;             // out_padded floats, zeros past units
  int in_padded = 0, out_padded = 0;
  int units = 0;                           // the layer's own width (the last layer's: output columns written)
};

struct FusedMlp {
  FusedLayer layers[kFusedMaxLayers];
  int count = 0;
  int inputs = 0;                          // x's columns read (layers[0].in_padded >= inputs)
  Activation activation = Activation::tanh;  // of the hidden layers (tanh or relu)
};

// The training forward pass's extras: dropout after the hidden layers as the engine draws it (the same Philox
// decisions: dropout_keep of element (key.first_row + r) * units + c of layer l at the key's step, or *step_counter
// when set), and what the engine's backward pass reads, written in its layout: the input rounded to bfloat16 and
// each hidden layer's output (Mlp's input16 and activations16 buffers). Columns past a layer's own (and rows past
// `rows`) are not written: the engine keeps that padding at zero.
struct FusedTraining {
  DropoutKey key;                                    // key.layer is ignored: each layer draws as layer l
  float dropout[kFusedMaxLayers] = {};               // p after layer l (Mlp: spec.dropout_after(l))
  __nv_bfloat16* input16 = nullptr;                  // [rows, ld_input16], columns < inputs
  int ld_input16 = 0;
  __nv_bfloat16* activations[kFusedMaxLayers] = {};  // hidden layer l: [rows, ld_activations[l]], columns < units
  int ld_activations[kFusedMaxLayers] = {};
  // A training pass is one that writes its input out: input16 set.
  __host__ __device__ bool active() const { return input16 != nullptr; }
};

// out[r, c] = the logits of x's row r (r < rows, c < layers[count - 1].units; out's leading dimension is units),
// enqueued on `stream`; with training.active(), the training pass (dropout, and the input and activations written
// out). Throws Error for a model it cannot run (a width over kFusedMaxWidth, too many layers).
void fused_mlp_forward_bf16(const FusedMlp& mlp, const float* x, int ld_x, int rows, float* out, cudaStream_t stream,
                            const FusedTraining& training = FusedTraining{});

// The dynamic shared memory one block takes.
std::size_t fused_mlp_shared_bytes();

}  // namespace fasttab::experiments
