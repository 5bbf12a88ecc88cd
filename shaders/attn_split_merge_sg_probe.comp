#version 450
// attn_split_merge_sg_probe: attn_split_merge_sg_chain that also times itself (see include/chain_sync.glsl).
#extension GL_EXT_shader_realtime_clock : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define MERGE
#define SUBGROUP
#define CHAIN
#define PROBE
#include "attn_split.glsl"
