#version 450
// matmul_q6_k_subgroup: matmul_q6_k reduced with subgroup arithmetic (see include/matmul_float.glsl).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#define W_Q6_K
#define SUBGROUP
#include "matmul_float.glsl"
