#version 450
// matvec_i2s_tailnorm_dot: matvec_i2s_tailnorm with packed int8 dot products.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define SUBGROUP
#define DOT
#define TAIL_NORM
#include "matvec_i2s.glsl"
