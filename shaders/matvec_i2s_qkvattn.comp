#version 450
// matvec_i2s_qkvattn: matvec_i2s for q, k and v with RoPE, followed in the same dispatch by the token's attention (one token, a short cache; see include/matvec_i2s.glsl).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define SUBGROUP
#define QKV_ATTN
#include "matvec_i2s.glsl"
