#version 450
// matmul_i2s_tiled: prompt-time I2_S matmul with emulated int8 dot products (see include/matmul_i2s_tiled.glsl).
#include "matmul_i2s_tiled.glsl"
