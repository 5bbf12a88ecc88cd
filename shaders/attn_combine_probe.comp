#version 450
// attn_combine_probe: attn_combine_chain that also times itself (see include/chain_sync.glsl).
#extension GL_EXT_shader_realtime_clock : require
#define CHAIN
#define PROBE
#include "attn_combine.glsl"
