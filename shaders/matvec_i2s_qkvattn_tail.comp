#version 450
// matvec_i2s_qkvattn_tail: matvec_i2s_qkvattn whose last head attended also runs the RMSNorm and quantization of the attention output for the output projection (see include/matvec_i2s.glsl).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define SUBGROUP
#define QKV_ATTN
#define TAIL_NORM
#include "matvec_i2s.glsl"
