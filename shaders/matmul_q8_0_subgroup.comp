#version 450
// matmul_q8_0_subgroup: matmul_q8_0 reduced with subgroup arithmetic (see include/matmul_float.glsl).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#define W_Q8_0
#define SUBGROUP
#include "matmul_float.glsl"
