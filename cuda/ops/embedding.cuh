// Categorical embeddings (backend.hpp, InputColumn):
//   embed_inputs:       e[r, :] = x[r, :] with every categorical code replaced by its table row;
//   embedding_gradient: each table's gradient, the row-order sum per code of dL/de (deterministic, no atomics).
#pragma once

#include <cuda_runtime_api.h>

#include "cuda/device_workspace.cuh"
#include "cuda/launch.cuh"
#include "fasttab/backend.hpp"

namespace fasttab {

// Scratch of embedding_gradient: one column's sort keys (table rows) and values (batch rows), in and out, and
// CUB's temporary storage, carved out of one block that is sized on the first call and only grows.
struct EmbeddingWorkspace {
  DeviceWorkspace block;
};

// e[r, layout.host[j].out_offset (+ k)] for r < rows (leading dims ld_x, ld_e; e's padding is not written).
void embed_inputs(const float* x, int ld_x, int rows, const InputLayout& layout, const float* tables, float* e,
                  int ld_e, const DeviceLimits& limits, cudaStream_t stream);

// table_grads[table_offset + v * dim + k] = the sum over rows with code v, in increasing row order from 0.0f, of
// grad_e[r, out_offset + k]; 0 for codes absent from the batch. Equal to the CPU backend's bit for bit (finite
// gradients: a NaN's payload may differ).
void embedding_gradient(const float* x, int ld_x, int rows, const InputLayout& layout, const float* grad_e, int ld_g,
                        float* table_grads, EmbeddingWorkspace& workspace, const DeviceLimits& limits,
                        cudaStream_t stream);

}  // namespace fasttab
