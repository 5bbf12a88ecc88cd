#version 450
// matvec_i2s_attn_dot: matvec_i2s_dot with the attention that feeds it inside (one token, a short cache; see include/matvec_i2s.glsl).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define SUBGROUP
#define ATTN
#define DOT
#include "matvec_i2s.glsl"
