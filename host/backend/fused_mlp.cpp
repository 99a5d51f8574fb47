#include "host/backend/fused_mlp.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <vector>

#include "fasttab/error.hpp"
#include "fasttab/model.hpp"
#include "fasttab/names.hpp"
#include "host/backend/fused_mlp_backward_block.hpp"
#include "host/backend/fused_mlp_forward_block.hpp"
#include "host/backend/fused_mlp_host_tiles.hpp"

namespace fasttab {

namespace {

// The kernels' shared buffers, in the caller's scratch (sized once), and the order of the warps.
struct HostBlockMemory {
  FusedHostScratch& s;
  std::optional<std::mt19937> shuffle;  // only with the adversarial seed: no generator seeded in every pass
  std::array<int, kFusedWarps> warps;
  explicit HostBlockMemory(FusedHostScratch& scratch) : s(scratch) {
    if (s.adversarial_seed != 0) shuffle.emplace(s.adversarial_seed);
    s.buffers.resize(2 * std::size_t(kRowsPerBlock) * kLdActivations);
    s.stage.resize(std::size_t(kFusedWarps) * kTile * kTile);
    s.column_partials.resize(2 * std::size_t(kRowTiles) * kFusedMaxWidth);
    std::iota(warps.begin(), warps.end(), 0);
  }
  // A block's start. A GPU does not clear shared memory: with the adversarial seed, it holds NaN.
  void begin_block() {
    if (s.adversarial_seed == 0) return;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::fill(s.buffers.begin(), s.buffers.end(), __float2bfloat16_rn(nan));
    std::fill(s.stage.begin(), s.stage.end(), nan);
    std::fill(s.column_partials.begin(), s.column_partials.end(), nan);
  }
  // The order in which the warps of one phase (between two barriers) run: 0 to 7, or with the adversarial seed a
  // new shuffle each time, as a GPU gives them no order.
  const std::array<int, kFusedWarps>& warp_order() {
    if (shuffle) std::shuffle(warps.begin(), warps.end(), *shuffle);
    return warps;
  }
  __nv_bfloat16* first() { return s.buffers.data(); }
  __nv_bfloat16* second() { return s.buffers.data() + std::size_t(kRowsPerBlock) * kLdActivations; }
  float* stage(int warp) { return s.stage.data() + std::size_t(warp) * kTile * kTile; }  // each warp's own tile
  float* column_partials() { return s.column_partials.data(); }
};

template <Activation act>
void emulate_forward(const FusedMlp& mlp, const FusedTraining& training, const float* x, int ld_x, int rows,
                     float* out, FusedHostScratch& scratch) {
  HostBlockMemory m(scratch);
  for (int block = 0; block < fused_blocks(rows); ++block) {
    const int block_row0 = block * kRowsPerBlock;
    m.begin_block();
    fused_load_rows(mlp, training, x, ld_x, rows, block_row0, m.first(), 0, 1);
    for (int l = 0; l < mlp.count; ++l) {
      const bool even = l % 2 == 0;
      for (int warp : m.warp_order())
        fused_warp_layer<HostTiles, act>(mlp.layers[l], l, l == mlp.count - 1, training, warp,
                                         even ? m.first() : m.second(), even ? m.second() : m.first(), m.stage(warp),
                                         block_row0, rows, out, 0, 1);
    }
  }
}

template <Activation act>
void emulate_backward(const FusedMlp& mlp, const FusedTraining& forward, const float* grad_outputs, int rows,
                      const FusedGradients& gradients, FusedHostScratch& scratch) {
  HostBlockMemory m(scratch);
  for (int block = 0; block < fused_blocks(rows); ++block) {
    const int block_row0 = block * kRowsPerBlock;
    m.begin_block();
    fused_load_loss_gradient(mlp, gradients, grad_outputs, rows, block, m.first(), 0, 1);
    for (int l = mlp.count - 1; l >= 1; --l) {
      const bool even = (mlp.count - 1 - l) % 2 == 0;
      float* partials = m.column_partials() + (l % 2) * std::size_t(kRowTiles) * kFusedMaxWidth;
      for (int warp : m.warp_order())
        fused_warp_backward_layer<HostTiles, act>(mlp, l, forward, gradients, warp, even ? m.first() : m.second(),
                                                  even ? m.second() : m.first(), m.stage(warp), partials, block_row0,
                                                  rows, 0, 1);
      fused_store_bias_partials(mlp, l, gradients, partials, block, 0, 1);
    }
    if (gradients.input_grad != nullptr) {
      const bool even = (mlp.count - 1) % 2 == 0;  // where layer 0's gradient is
      for (int warp : m.warp_order())
        fused_warp_input_gradient<HostTiles>(mlp, gradients, warp, even ? m.first() : m.second(), m.stage(warp),
                                             block_row0, rows, 0, 1);
    }
  }
}

}  // namespace

std::string fused_mlp_unsupported(const MlpSpec& spec) {
  if (spec.activation != Activation::tanh && spec.activation != Activation::relu)
    return "the hidden activation must be tanh or relu";
  if (spec.layers() > kFusedMaxLayers)
    return std::to_string(spec.layers()) + " layers is more than " + std::to_string(kFusedMaxLayers);
  for (int l = 0; l < spec.layers(); ++l) {
    const int widest = std::max(spec.in_width(l), spec.out_width(l));
    if (padded_to_tile(widest) > kFusedMaxWidth)
      return "every width (inputs, hidden, outputs) must be at most " + std::to_string(kFusedMaxWidth) +
             ", and layer " + std::to_string(l) + " is " + std::to_string(spec.in_width(l)) + " -> " +
             std::to_string(spec.out_width(l));
  }
  return "";
}

std::string fused_mlp_settings_error(Precision precision, int pad_multiple) {
  if (precision != Precision::bf16)
    return std::string("--fused-mlp runs the bf16 passes: give --precision bf16 (the precision is ") +
           name_of(precision) + ")";
  if (pad_multiple != 1) return "--fused-mlp pads every width to 16 itself: leave out --pad-hidden";
  return "";
}

namespace {

// The layers: widths, their chain, units, weights (32-byte aligned for WMMA's loads), the activation.
void check_fused_model(const FusedMlp& mlp) {
  FASTTAB_REQUIRE(mlp.count >= 1 && mlp.count <= kFusedMaxLayers, "fused MLP: ", mlp.count, " layers (1 to ",
                  kFusedMaxLayers, ")");
  FASTTAB_REQUIRE(mlp.inputs >= 1 && mlp.inputs <= mlp.layers[0].in_padded, "fused MLP: ", mlp.inputs,
                  " inputs for a first layer of ", mlp.layers[0].in_padded);
  for (int l = 0; l < mlp.count; ++l) {
    const FusedLayer& layer = mlp.layers[l];
    FASTTAB_REQUIRE(layer.in_padded % kTile == 0 && layer.out_padded % kTile == 0 && layer.in_padded >= kTile &&
                        layer.out_padded >= kTile && layer.in_padded <= kFusedMaxWidth &&
                        layer.out_padded <= kFusedMaxWidth,
                    "fused MLP: layer ", l, " is ", layer.in_padded, " -> ", layer.out_padded,
                    "; widths must be multiples of ", kTile, " up to ", kFusedMaxWidth);
    FASTTAB_REQUIRE(l == 0 || layer.in_padded == mlp.layers[l - 1].out_padded, "fused MLP: layer ", l, " takes ",
                    layer.in_padded, " inputs but the layer below gives ", mlp.layers[l - 1].out_padded);
    FASTTAB_REQUIRE(layer.units >= 1 && layer.units <= layer.out_padded, "fused MLP: layer ", l, " has ",
                    layer.units, " units for ", layer.out_padded, " padded");
    FASTTAB_REQUIRE(layer.weights != nullptr && layer.bias != nullptr, "fused MLP: layer ", l,
                    " has no weights or bias");
    FASTTAB_REQUIRE((reinterpret_cast<std::uintptr_t>(layer.weights) & 31u) == 0, "fused MLP: layer ", l,
                    "'s weights are not 32-byte aligned (WMMA loads)");
  }
  FASTTAB_REQUIRE(mlp.activation == Activation::tanh || mlp.activation == Activation::relu,
                  "fused MLP: the hidden activation must be tanh or relu");
}

// A training pass's buffers and dropout rates (nothing to check for an inference pass).
void check_fused_training(const FusedMlp& mlp, const FusedTraining& training) {
  if (!training.active()) return;
  FASTTAB_REQUIRE(training.ld_input16 >= mlp.inputs, "fused MLP: the training pass needs input16 with a leading "
                  "dimension >= ", mlp.inputs);
  for (int l = 0; l + 1 < mlp.count; ++l) {
    FASTTAB_REQUIRE(training.activations[l] != nullptr && training.ld_activations[l] >= mlp.layers[l].units,
                    "fused MLP: the training pass needs hidden layer ", l, "'s activations with a leading "
                    "dimension >= ", mlp.layers[l].units);
    FASTTAB_REQUIRE(training.dropout[l] >= 0.0f && training.dropout[l] < 1.0f, "fused MLP: dropout ",
                    training.dropout[l], " after layer ", l, " is not in [0, 1)");
  }
}

}  // namespace

void check_fused_forward(const FusedMlp& mlp, const float* x, int ld_x, const FusedTraining& training) {
  check_fused_model(mlp);
  FASTTAB_REQUIRE(x != nullptr, "fused MLP: no input rows");
  FASTTAB_REQUIRE(ld_x >= mlp.inputs, "fused MLP: ld_x ", ld_x, " < inputs ", mlp.inputs);
  check_fused_training(mlp, training);
}

void check_fused_backward(const FusedMlp& mlp, const FusedTraining& forward, const float* grad_outputs,
                          const FusedGradients& gradients) {
  check_fused_model(mlp);
  FASTTAB_REQUIRE(grad_outputs != nullptr, "fused MLP backward: no loss gradient");
  FASTTAB_REQUIRE(forward.active(), "fused MLP backward: needs the training forward pass's buffers (input16 and the "
                  "hidden layers' activations)");
  check_fused_training(mlp, forward);
  for (int l = 0; l < mlp.count; ++l)
    FASTTAB_REQUIRE(gradients.grad16[l] != nullptr && gradients.bias_partials[l] != nullptr &&
                        gradients.ld_grad16[l] >= mlp.layers[l].units,
                    "fused MLP backward: layer ", l, " needs its gradient buffer (leading dimension >= ",
                    mlp.layers[l].units, ") and its bias partials");
  FASTTAB_REQUIRE(gradients.input_grad == nullptr || gradients.ld_input_grad >= mlp.inputs,
                  "fused MLP backward: the input gradient's leading dimension ", gradients.ld_input_grad, " < inputs ",
                  mlp.inputs);
}

void fused_mlp_forward_emulated(const FusedMlp& mlp, const float* x, int ld_x, int rows, float* out,
                                const FusedTraining& training, FusedHostScratch& scratch) {
  check_fused_forward(mlp, x, ld_x, training);
  if (rows <= 0) return;
  if (mlp.activation == Activation::tanh) emulate_forward<Activation::tanh>(mlp, training, x, ld_x, rows, out, scratch);
  else emulate_forward<Activation::relu>(mlp, training, x, ld_x, rows, out, scratch);
}

void fused_mlp_backward_emulated(const FusedMlp& mlp, const FusedTraining& forward, const float* grad_outputs,
                                 int rows, const FusedGradients& gradients, FusedHostScratch& scratch) {
  check_fused_backward(mlp, forward, grad_outputs, gradients);
  if (rows <= 0) return;
  if (mlp.activation == Activation::tanh)
    emulate_backward<Activation::tanh>(mlp, forward, grad_outputs, rows, gradients, scratch);
  else
    emulate_backward<Activation::relu>(mlp, forward, grad_outputs, rows, gradients, scratch);
}

}  // namespace fasttab
