#version 450
// attn_split_merge_probe: attn_split_merge_chain that also times itself (see include/chain_sync.glsl).
#extension GL_EXT_shader_realtime_clock : require
#define MERGE
#define CHAIN
#define PROBE
#include "attn_split.glsl"
