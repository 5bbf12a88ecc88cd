#version 450
// matvec_i2s_qkvattn_tail_dot_probe: matvec_i2s_qkvattn_tail_dot that also times itself (see include/chain_sync.glsl).
#extension GL_EXT_shader_realtime_clock : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define SUBGROUP
#define DOT
#define QKV_ATTN
#define TAIL_NORM
#define CHAIN
#define PROBE
#include "matvec_i2s.glsl"
