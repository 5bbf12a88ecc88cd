#version 450
// matvec_i2s_attn_dot_chain: matvec_i2s_attn_dot ordered after the dispatch before it by a counter, not a barrier (see include/chain.glsl).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define SUBGROUP
#define ATTN
#define DOT
#define CHAIN
#include "matvec_i2s.glsl"
