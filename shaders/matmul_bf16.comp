#version 450
// matmul_bf16: BF16 weights x float32 activations (see include/matmul_float.glsl).
#define W_BF16
#include "matmul_float.glsl"
