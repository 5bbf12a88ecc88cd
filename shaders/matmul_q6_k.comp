#version 450
// matmul_q6_k: Q6_K weights x float32 activations (see include/matmul_float.glsl).
#define W_Q6_K
#include "matmul_float.glsl"
