#version 450
// matmul_f32: F32 weights x float32 activations (see include/matmul_float.glsl).
#define W_F32
#include "matmul_float.glsl"
