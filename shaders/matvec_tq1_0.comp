#version 450
// matvec_tq1_0: TQ1_0 weights times Q8_K activations for a few tokens (see
// include/matvec_tq.glsl).
#define TQ1
#include "matvec_tq.glsl"
