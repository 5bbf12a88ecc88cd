#version 450
// matmul_q8_0: Q8_0 weights x float32 activations (see include/matmul_float.glsl).
#define W_Q8_0
#include "matmul_float.glsl"
