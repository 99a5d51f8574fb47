// The fused forward pass emulated on the host (experiments/fused_mlp/fused_forward_block.cuh with a scalar tile
// policy): every block, warp and lane of the CUDA kernel in turn, the tiles' products summed in float32 in k order.
// For the CPU tests: the kernel's indexing, padding, partial last block, bias and epilogue against the engine's CPU
// forward pass, without a GPU.
#pragma once

#include <cstdlib>
#include <memory>
#include <vector>

#include "experiments/fused_mlp/fused_forward.cuh"
#include "fasttab/model.hpp"

namespace fasttab::experiments {

// An MLP's weights and biases in the fused kernel's layout, in host memory: per layer, [out_padded, in_padded]
// bfloat16 weights (the engine's bf16 rounding of the float32 weights) and out_padded float32 biases, zeros in the
// padding, each array 256-byte aligned. mlp points into this object's arrays (host pointers).
struct FusedHostModel {
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::vector<std::unique_ptr<__nv_bfloat16[], Free>> weights;
  std::vector<std::unique_ptr<float[], Free>> biases;
  FusedMlp mlp;
  FusedHostModel(const MlpSpec& spec, const std::vector<float>& parameters);
  std::size_t weight_count(int layer) const {
    return std::size_t(mlp.layers[layer].out_padded) * mlp.layers[layer].in_padded;
  }
};

// Throws Error for a model the fused kernel cannot run (the checks fused_mlp_forward_bf16 makes first).
void check_fused_mlp(const FusedMlp& mlp, int ld_x, const FusedTraining& training = FusedTraining{});

// fused_mlp_forward_bf16 on host memory: mlp's weights and biases, x, out and training's buffers (and its step
// counter) are host pointers.
void fused_mlp_forward_emulated(const FusedMlp& mlp, const float* x, int ld_x, int rows, float* out,
                                const FusedTraining& training = FusedTraining{});

}  // namespace fasttab::experiments
