#version 450
// matmul_tq1_0_tiled_dot: matmul_tq1_0_tiled with packed int8 dot products.
#define TQ1
#define DOT
#include "matmul_tq_tiled.glsl"
