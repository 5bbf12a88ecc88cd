#version 450
// attn_split_chain: attn_split ordered after the dispatch before it by a counter, not a barrier (see include/chain.glsl).
#define CHAIN
#include "attn_split.glsl"
