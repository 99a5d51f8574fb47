#include "experiments/fused_mlp/fused_forward_host.hpp"

#include <cstdint>
#include <cstring>
#include <vector>

#include "experiments/fused_mlp/fused_forward_block.cuh"
#include "experiments/fused_mlp/fused_tiles_host.hpp"
#include "fasttab/error.hpp"

namespace fasttab::experiments {

namespace {

template <Activation act>
void emulate(const FusedMlp& mlp, const FusedTraining& training, const float* x, int ld_x, int rows, float* out) {
  std::vector<__nv_bfloat16> buffers(2 * std::size_t(kRowsPerBlock) * kLdActivations);
  std::vector<float> stage(std::size_t(kTile) * kTile);
  __nv_bfloat16* first = buffers.data();
  __nv_bfloat16* second = first + kRowsPerBlock * kLdActivations;
  const int blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  for (int block = 0; block < blocks; ++block) {
    const int block_row0 = block * kRowsPerBlock;
    fused_load_rows(mlp, training, x, ld_x, rows, block_row0, first, 0, 1);
    for (int l = 0; l < mlp.count; ++l) {
      const bool even = l % 2 == 0;
      for (int warp = 0; warp < kFusedWarps; ++warp)
        fused_warp_layer<HostTiles, act>(mlp.layers[l], l, l == mlp.count - 1, training, warp,
                                         even ? first : second, even ? second : first, stage.data(), block_row0, rows,
                                         out, 0, 1);
    }
  }
}

// count elements of T, zeroed, 256-byte aligned.
template <typename T>
std::unique_ptr<T[], FusedHostModel::Free> aligned_zeros(std::size_t count) {
  const std::size_t bytes = (count * sizeof(T) + 255) / 256 * 256;
  void* p = std::aligned_alloc(256, bytes);
  FASTTAB_REQUIRE(p != nullptr, "fused forward: cannot allocate ", bytes, " bytes of host memory");
  std::memset(p, 0, bytes);
  return std::unique_ptr<T[], FusedHostModel::Free>(static_cast<T*>(p));
}

}  // namespace

FusedHostModel::FusedHostModel(const MlpSpec& spec, const std::vector<float>& parameters) {
  FASTTAB_REQUIRE(spec.embeddings.empty(), "fused forward: a model with embeddings is not supported");
  FASTTAB_REQUIRE(spec.layers() <= kFusedMaxLayers, "fused forward: ", spec.layers(), " layers (at most ",
                  kFusedMaxLayers, ")");
  FASTTAB_REQUIRE(parameters.size() == spec.parameter_count(), "fused forward: ", parameters.size(),
                  " parameters for a model of ", spec.parameter_count());
  mlp.count = spec.layers();
  mlp.inputs = spec.input_width();
  mlp.activation = spec.activation;
  for (int l = 0; l < spec.layers(); ++l) {
    const int in = spec.in_width(l), out = spec.out_width(l);
    FusedLayer& layer = mlp.layers[l];
    layer.in_padded = padded_to_tile(in);
    layer.out_padded = padded_to_tile(out);
    layer.units = out;
    weights.push_back(aligned_zeros<__nv_bfloat16>(std::size_t(layer.out_padded) * layer.in_padded));
    biases.push_back(aligned_zeros<float>(std::size_t(layer.out_padded)));
    for (int o = 0; o < out; ++o) {
      for (int k = 0; k < in; ++k)
        weights.back()[std::size_t(o) * layer.in_padded + k] =
            __float2bfloat16_rn(parameters[spec.weight_offset(l) + std::size_t(o) * in + k]);
      biases.back()[o] = parameters[spec.bias_offset(l) + std::size_t(o)];
    }
    layer.weights = weights.back().get();
    layer.bias = biases.back().get();
  }
}

void check_fused_mlp(const FusedMlp& mlp, int ld_x, const FusedTraining& training) {
  FASTTAB_REQUIRE(mlp.count >= 1 && mlp.count <= kFusedMaxLayers, "fused forward: ", mlp.count, " layers (1 to ",
                  kFusedMaxLayers, ")");
  FASTTAB_REQUIRE(mlp.inputs >= 1 && mlp.inputs <= mlp.layers[0].in_padded, "fused forward: ", mlp.inputs,
                  " inputs for a first layer of ", mlp.layers[0].in_padded);
  FASTTAB_REQUIRE(ld_x >= mlp.inputs, "fused forward: ld_x ", ld_x, " < inputs ", mlp.inputs);
  for (int l = 0; l < mlp.count; ++l) {
    const FusedLayer& layer = mlp.layers[l];
    FASTTAB_REQUIRE(layer.in_padded % kTile == 0 && layer.out_padded % kTile == 0 && layer.in_padded >= kTile &&
                        layer.out_padded >= kTile && layer.in_padded <= kFusedMaxWidth &&
                        layer.out_padded <= kFusedMaxWidth,
                    "fused forward: layer ", l, " is ", layer.in_padded, " -> ", layer.out_padded,
                    "; widths must be multiples of ", kTile, " up to ", kFusedMaxWidth);
    FASTTAB_REQUIRE(l == 0 || layer.in_padded == mlp.layers[l - 1].out_padded, "fused forward: layer ", l,
                    " takes ", layer.in_padded, " inputs but the layer below gives ", mlp.layers[l - 1].out_padded);
    FASTTAB_REQUIRE(layer.units >= 1 && layer.units <= layer.out_padded, "fused forward: layer ", l, " has ",
                    layer.units, " units for ", layer.out_padded, " padded");
    FASTTAB_REQUIRE((reinterpret_cast<std::uintptr_t>(layer.weights) & 31u) == 0, "fused forward: layer ", l,
                    "'s weights are not 32-byte aligned (WMMA loads)");
  }
  FASTTAB_REQUIRE(mlp.activation == Activation::tanh || mlp.activation == Activation::relu,
                  "fused forward: the hidden activation must be tanh or relu");
  if (!training.active()) return;
  FASTTAB_REQUIRE(training.ld_input16 >= mlp.inputs, "fused forward: the training pass needs input16 with a "
                  "leading dimension >= ", mlp.inputs);
  for (int l = 0; l + 1 < mlp.count; ++l) {
    FASTTAB_REQUIRE(training.activations[l] != nullptr && training.ld_activations[l] >= mlp.layers[l].units,
                    "fused forward: the training pass needs hidden layer ", l, "'s activations with a leading "
                    "dimension >= ", mlp.layers[l].units);
    FASTTAB_REQUIRE(training.dropout[l] >= 0.0f && training.dropout[l] < 1.0f, "fused forward: dropout ",
                    training.dropout[l], " after layer ", l, " is not in [0, 1)");
  }
}

void fused_mlp_forward_emulated(const FusedMlp& mlp, const float* x, int ld_x, int rows, float* out,
                                const FusedTraining& training) {
  check_fused_mlp(mlp, ld_x, training);
  if (rows <= 0) return;
  if (mlp.activation == Activation::tanh) emulate<Activation::tanh>(mlp, training, x, ld_x, rows, out);
  else emulate<Activation::relu>(mlp, training, x, ld_x, rows, out);
}

}  // namespace fasttab::experiments
