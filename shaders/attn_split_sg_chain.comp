#version 450
// attn_split_sg_chain: attn_split_sg ordered after the dispatch before it by a counter, not a barrier (see include/chain.glsl).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define SUBGROUP
#define CHAIN
#include "attn_split.glsl"
