#version 450
// matmul_f16_subgroup: matmul_f16 reduced with subgroup arithmetic (see include/matmul_float.glsl).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#define W_F16
#define SUBGROUP
#include "matmul_float.glsl"
