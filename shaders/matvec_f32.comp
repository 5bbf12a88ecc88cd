#version 450
// matvec_f32: F32 weights times float32 activations for a few tokens (see
// include/matvec_float.glsl).
#define W_F32
#include "matvec_float.glsl"
