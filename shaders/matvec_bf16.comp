#version 450
// matvec_bf16: BF16 weights times float32 activations for a few tokens (see
// include/matvec_float.glsl).
#define W_BF16
#include "matvec_float.glsl"
