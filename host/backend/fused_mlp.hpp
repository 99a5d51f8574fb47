// The fused bf16 MLP passes (Mlp with `fused`, --fused-mlp): the whole forward pass in one kernel, and the backward
// pass's chain through the layers in another. Their types and limits, the checks, and their host emulation, which
// the CPU backend runs (Backend::fused_mlp_forward_bf16, fused_mlp_backward_bf16). The CUDA kernels are
// cuda/ops/fused_mlp.cu; the work of one block of rows is written once, for both, in fused_mlp_forward_block.hpp
// and fused_mlp_backward_block.hpp over a tile policy (WMMA on the device: cuda/ops/wmma_tiles.cuh; scalar loops
// here: fused_mlp_host_tiles.hpp).
//
// Forward. A block of kRowsPerBlock rows keeps its activations in shared memory through every layer; the weights
// are read from L2 (each warp loads its own bfloat16 tiles); the products run on the tensor cores (WMMA 16x16x16
// tiles, bfloat16 in, float32 accumulators). The arithmetic is the engine's bf16 forward (Mlp::forward_bf16): the
// first layer's input rounded to bfloat16, z = the float32 sum of products of bfloat16 activations and weights,
// a = bf16(act(z + b)) for a hidden layer (dropout: 0 where dropped, else times 1 / (1 - p)), the logits z + b in
// float32. Only the order of each sum differs (cuBLAS's tiles against 16-wide k steps).
//
// Backward. A block of rows keeps dL/dz in shared memory from the loss gradient down to the first hidden layer
// (Mlp::backward_bf16's arithmetic, up to the order of each sum):
//   last layer:     g16_L = bf16(dL/dz_L), from the float32 loss gradient; its bias partial from the float32 values;
//   hidden layer l: d_l = g16_{l+1} W16_{l+1} (float32 sums of bfloat16 products), then through its dropout and
//                   activation, from its saved output a (bfloat16, dropout scale in it):
//                     dL/dz_l = 0 where dropped, else d_l * scale * act'(a * (1 - p))   (p > 0),
//                     dL/dz_l = d_l * act'(a)                                           (p = 0),
//                   act'(a) = 1 - a^2 (tanh), [a > 0] (relu); g16_l = bf16(dL/dz_l);
//   the input (with embeddings only): d_0 = g16_0 W16_0, float32.
// Each block writes g16_l and its column sums of dL/dz_l (bias_partials[l][block, c]: each warp sums its 16x16
// tile's columns over the tile's 16 rows in order, then the block adds its 4 row tiles in order). The weight
// gradients, which sum over every row of the batch, stay GEMMs (Mlp: dW_l = g16_l^T input16_l), and the bias
// gradients are Backend::bias_gradient over the blocks' partials. No atomics: the same bits every run.
//
// Layout. Every width is padded to a multiple of 16 (kTile): layer l's weights are [out_padded, in_padded]
// row-major bfloat16 with zeros past the layer's own rows and columns (32-byte aligned); its bias is `units`
// floats (the kernel adds 0 past them). A padded unit's z is then 0, act(0) = 0 for tanh and relu, so it adds
// nothing to the next layer. Shared memory per block (forward): two activation buffers [kRowsPerBlock,
// kLdActivations] bfloat16 and one float32 16x16 tile per warp, 90 KiB; (backward) the same plus two
// [kRowTiles, kFusedMaxWidth] float32 column-partial buffers, 100 KiB: two blocks per SM on an H100 or H200.
//
// Work split: warp w owns row tile w % 4 (16 of the block's 64 rows) and the column tiles j with j % 2 == w / 4,
// at most kMaxTilesPerWarp (10: 320 columns) accumulators in registers. For each k step it loads its A tile from
// shared memory once and a B tile of W per accumulator from global memory (column-major tiles of W for the
// forward's z = a W^T, row-major ones for the backward's d = g W).
#pragma once

#include <cuda_bf16.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fasttab/backend.hpp"

namespace fasttab {

struct MlpSpec;

constexpr int kTile = 16;
constexpr int kFusedMaxWidth = 320;   // every padded width (inputs, hidden, outputs) at most this
constexpr int kFusedMaxLayers = 16;
constexpr int kRowsPerBlock = 64;
// bfloat16s per shared row: 656 bytes, 16 more than a multiple of 128, so the 8 rows of a tile's 16-byte loads
// fall in 8 different bank groups (336 gave 672 bytes, 32 past a multiple of 128: 2-way bank conflicts).
constexpr int kLdActivations = kFusedMaxWidth + 8;
constexpr int kFusedWarps = 8;
constexpr int kFusedThreads = kFusedWarps * 32;
constexpr int kRowTiles = kRowsPerBlock / kTile;                           // 4
constexpr int kColumnGroups = kFusedWarps / kRowTiles;                     // 2
constexpr int kMaxTilesPerWarp = kFusedMaxWidth / kTile / kColumnGroups;  // 10
static_assert(kFusedWarps % kRowTiles == 0, "every row tile gets the same number of warps");
static_assert(kLdActivations % 8 == 0, "WMMA needs a leading dimension that is a multiple of 8 bfloat16s");
static_assert(kTile * kLdActivations * 2 % 32 == 0, "each row tile of a shared buffer must start 32-byte aligned");

inline int padded_to_tile(int width) { return (width + kTile - 1) / kTile * kTile; }
// The blocks of a pass over `rows` rows: the rows of the backward pass's bias partials.
inline int fused_blocks(int rows) { return (rows + kRowsPerBlock - 1) / kRowsPerBlock; }

struct FusedLayer {
  const __nv_bfloat16* weights = nullptr;  // [out_padded, in_padded] row-major, zero padding; 32-byte aligned
  const float* bias = nullptr;             // `units` floats
  int in_padded = 0, out_padded = 0;
  int units = 0;                           // the layer's own width (the last layer's: output columns written)
};

struct FusedMlp {
  FusedLayer layers[kFusedMaxLayers];
  int count = 0;
  int inputs = 0;                            // x's columns read (layers[0].in_padded >= inputs)
  Activation activation = Activation::tanh;  // of the hidden layers (tanh or relu)
};

// The training forward pass's extras: dropout after the hidden layers as the engine draws it (the same Philox
// decisions: dropout_keep of element (key.first_row + r) * units + c of layer l at the key's step, or *step_counter
// when set), and what the backward pass reads, written in Mlp's layout: the input rounded to bfloat16 and each
// hidden layer's output (its input16 and activations16 buffers). Columns past a layer's own (and rows past `rows`)
// are not written: Mlp keeps that padding at zero. The backward pass reads the same struct.
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

// What the backward pass writes: per layer l, g16_l = bf16(dL/dz_l) [rows, ld_grad16[l]] (columns < units: Mlp's
// grad16 buffers) and the per-block bias sums [fused_blocks(rows), units] float32; with input_grad set, also the
// first layer's input gradient g16_0 W16_0 [rows, inputs] float32 (the embedded inputs' gradient: Mlp scatters it
// into the embedding tables).
struct FusedGradients {
  __nv_bfloat16* grad16[kFusedMaxLayers] = {};
  int ld_grad16[kFusedMaxLayers] = {};
  float* bias_partials[kFusedMaxLayers] = {};
  float* input_grad = nullptr;
  int ld_input_grad = 0;
};

// "" when the fused passes can run `spec` (bf16 aside), else why not: an activation other than tanh or relu, a
// width over kFusedMaxWidth once padded to 16 (the first layer's input: the features with their embeddings), too
// many layers.
std::string fused_mlp_unsupported(const MlpSpec& spec);
// "" when --fused-mlp goes with these settings, else the refusal: the fused passes are bf16's and pad every width
// themselves.
std::string fused_mlp_settings_error(Precision precision, int pad_multiple);

// Throw Error for a model or buffers the kernels cannot run (the checks both launchers make first).
void check_fused_forward(const FusedMlp& mlp, const float* x, int ld_x, const FusedTraining& training);
void check_fused_backward(const FusedMlp& mlp, const FusedTraining& forward, const float* grad_outputs,
                          const FusedGradients& gradients);

// The kernels' shared memory for the host emulation (two gradient or activation buffers, each warp's 16x16 tile, the
// column partials), kept by the caller between passes: sized at the first pass, no allocation after.
struct FusedHostScratch {
  std::vector<__nv_bfloat16> buffers;
  std::vector<float> stage, column_partials;
  // Tests: nonzero runs the emulation as a GPU is free to: each block starts with its shared memory full of NaN
  // (a GPU does not clear it), and the warps between two barriers run in an order shuffled from this seed (a GPU
  // gives them none). The results must be the same bits: a read of shared memory nothing wrote, or a warp that
  // depends on another's work without a barrier between, shows as NaN or as a different value.
  std::uint32_t adversarial_seed = 0;
};

// The passes on host memory (every pointer, and a key's step counter, a host pointer): the kernels' block code
// with scalar tiles, every block, warp and lane in turn. The CPU backend's fused ops.
//   forward:  out[r, c] = the logits of x's row r (r < rows, c < the last layer's units; out's leading dimension
//             is units); with training.active(), the training pass.
//   backward: after the training pass over the same rows; grad_outputs = dL/d(outputs) [rows, last units].
void fused_mlp_forward_emulated(const FusedMlp& mlp, const float* x, int ld_x, int rows, float* out,
                                const FusedTraining& training, FusedHostScratch& scratch);
void fused_mlp_backward_emulated(const FusedMlp& mlp, const FusedTraining& forward, const float* grad_outputs,
                                 int rows, const FusedGradients& gradients, FusedHostScratch& scratch);

}  // namespace fasttab
