#version 450
// matvec_tq2_0: TQ2_0 weights times Q8_K activations for a few tokens (see
// include/matvec_tq.glsl).
#define TQ2
#include "matvec_tq.glsl"
