#version 450
// matmul_tq2_0: TQ2_0 weights x Q8_K activations (see include/matmul_tq.glsl).
#define TQ2
#include "matmul_tq.glsl"
