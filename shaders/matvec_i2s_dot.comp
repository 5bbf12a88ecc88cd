#version 450
// matvec_i2s_dot: matvec_i2s with packed int8 dot products (OpSDot, SPV_KHR_integer_dot_product).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define SUBGROUP
#define DOT
#include "matvec_i2s.glsl"
