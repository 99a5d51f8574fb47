#include "experiments/fused_mlp/fused_backward_host.hpp"

#include <vector>

#include "experiments/fused_mlp/fused_backward_block.cuh"
#include "experiments/fused_mlp/fused_forward_host.hpp"
#include "experiments/fused_mlp/fused_tiles_host.hpp"
#include "fasttab/backend.hpp"
#include "fasttab/error.hpp"
#include "fasttab/model.hpp"

namespace fasttab::experiments {

namespace {

template <Activation act>
void emulate(const FusedMlp& mlp, const FusedTraining& forward, const float* grad_outputs, int rows,
             const FusedGradients& gradients) {
  std::vector<__nv_bfloat16> buffers(2 * std::size_t(kRowsPerBlock) * kLdActivations);
  std::vector<float> stage(std::size_t(kTile) * kTile);
  std::vector<float> column_partials(2 * std::size_t(kRowTiles) * kFusedMaxWidth);
  __nv_bfloat16* first = buffers.data();
  __nv_bfloat16* second = first + kRowsPerBlock * kLdActivations;
  for (int block = 0; block < fused_blocks(rows); ++block) {
    const int block_row0 = block * kRowsPerBlock;
    fused_load_loss_gradient(mlp, gradients, grad_outputs, rows, block, first, 0, 1);
    for (int l = mlp.count - 1; l >= 1; --l) {
      const bool even = (mlp.count - 1 - l) % 2 == 0;
      float* partials = column_partials.data() + (l % 2) * std::size_t(kRowTiles) * kFusedMaxWidth;
      for (int warp = 0; warp < kFusedWarps; ++warp)
        fused_warp_backward_layer<HostTiles, act>(mlp, l, forward, gradients, warp, even ? first : second,
                                                  even ? second : first, stage.data(), partials, block_row0, rows, 0,
                                                  1);
      fused_store_bias_partials(mlp, l, gradients, partials, block, 0, 1);
    }
  }
}

}  // namespace

void check_fused_backward(const FusedMlp& mlp, const FusedTraining& forward, const FusedGradients& gradients) {
  check_fused_mlp(mlp, mlp.inputs, forward);
  FASTTAB_REQUIRE(forward.active(), "fused backward: needs the training forward pass's buffers (input16 and the "
                  "hidden layers' activations)");
  for (int l = 0; l < mlp.count; ++l)
    FASTTAB_REQUIRE(gradients.grad16[l] != nullptr && gradients.bias_partials[l] != nullptr &&
                        gradients.ld_grad16[l] >= mlp.layers[l].units,
                    "fused backward: layer ", l, " needs its gradient buffer (leading dimension >= ",
                    mlp.layers[l].units, ") and its bias partials");
}

void fused_mlp_backward_emulated(const FusedMlp& mlp, const FusedTraining& forward, const float* grad_outputs,
                                 int rows, const FusedGradients& gradients) {
  check_fused_backward(mlp, forward, gradients);
  if (rows <= 0) return;
  if (mlp.activation == Activation::tanh) emulate<Activation::tanh>(mlp, forward, grad_outputs, rows, gradients);
  else emulate<Activation::relu>(mlp, forward, grad_outputs, rows, gradients);
}

void fused_backward_finish(Backend& backend, const MlpSpec& spec, const FusedTraining& forward,
                           const FusedGradients& gradients, int rows, float* parameter_gradients) {
  FASTTAB_REQUIRE(spec.embeddings.empty() && spec.layers() <= kFusedMaxLayers,
                  "fused backward: a model with embeddings or over ", kFusedMaxLayers, " layers");
  const int blocks = fused_blocks(rows);
  for (int l = 0; l < spec.layers(); ++l) {
    const int in = spec.in_width(l), out = spec.out_width(l);
    const auto* g16 = reinterpret_cast<const bfloat16*>(gradients.grad16[l]);
    const auto* input16 = reinterpret_cast<const bfloat16*>(l == 0 ? forward.input16 : forward.activations[l - 1]);
    const int ld_input = l == 0 ? forward.ld_input16 : forward.ld_activations[l - 1];
    backend.gemm_bf16(true, false, out, in, rows, 1.0f, g16, gradients.ld_grad16[l], input16, ld_input, 0.0f,
                      parameter_gradients + spec.weight_offset(l), in);
    backend.bias_gradient(gradients.bias_partials[l], blocks, out, out, parameter_gradients + spec.bias_offset(l));
  }
}

}  // namespace fasttab::experiments
