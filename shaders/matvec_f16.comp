#version 450
// matvec_f16: F16 weights times float32 activations for a few tokens (see
// include/matvec_float.glsl).
#define W_F16
#include "matvec_float.glsl"
