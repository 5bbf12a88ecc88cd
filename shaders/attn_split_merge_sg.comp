#version 450
// attn_split_merge_sg: attn_split_merge with subgroup reductions.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define MERGE
#define SUBGROUP
#include "attn_split.glsl"
