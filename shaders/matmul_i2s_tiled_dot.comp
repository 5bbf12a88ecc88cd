#version 450
// matmul_i2s_tiled_dot: matmul_i2s_tiled with packed int8 dot products.
#define DOT
#include "matmul_i2s_tiled.glsl"
