#version 450
// attn_combine_sg: attn_combine with subgroup reductions.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define SUBGROUP
#include "attn_combine_body.glsl"
