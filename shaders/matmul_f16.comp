#version 450
// matmul_f16: F16 weights x float32 activations (see include/matmul_float.glsl).
#define W_F16
#include "matmul_float.glsl"
