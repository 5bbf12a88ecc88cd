#version 450
// matvec_i2s_chain: matvec_i2s ordered after the dispatch before it by a counter, not a barrier (see include/chain.glsl).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define SUBGROUP
#define CHAIN
#include "matvec_i2s.glsl"
