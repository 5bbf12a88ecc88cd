#version 450
// attn_split_probe: attn_split_chain that also times itself (see include/chain_sync.glsl).
#extension GL_EXT_shader_realtime_clock : require
#define CHAIN
#define PROBE
#include "attn_split.glsl"
