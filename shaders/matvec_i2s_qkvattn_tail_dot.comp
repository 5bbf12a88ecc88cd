#version 450
// matvec_i2s_qkvattn_tail_dot: matvec_i2s_qkvattn_tail with packed int8 dot products.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define SUBGROUP
#define DOT
#define QKV_ATTN
#define TAIL_NORM
#include "matvec_i2s.glsl"
