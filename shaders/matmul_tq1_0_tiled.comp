#version 450
// matmul_tq1_0_tiled: the TQ1_0 prompt GEMM (see include/matmul_tq_tiled.glsl).
#define TQ1
#include "matmul_tq_tiled.glsl"
