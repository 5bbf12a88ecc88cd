#version 450
// matmul_tq1_0: TQ1_0 weights x Q8_K activations (see include/matmul_tq.glsl).
#define TQ1
#include "matmul_tq.glsl"
