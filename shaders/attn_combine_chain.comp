#version 450
// attn_combine_chain: attn_combine ordered after the dispatch before it by a counter, not a barrier (see include/chain.glsl).
#define CHAIN
#include "attn_combine.glsl"
