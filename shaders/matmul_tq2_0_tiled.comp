#version 450
// matmul_tq2_0_tiled: the TQ2_0 prompt GEMM (see include/matmul_tq_tiled.glsl).
#define TQ2
#include "matmul_tq_tiled.glsl"
