#version 450
// attn_split_sg: attn_split with subgroup reductions.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define SUBGROUP
#include "attn_split.glsl"
