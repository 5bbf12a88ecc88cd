#version 450
// attn_split_merge_chain: attn_split_merge ordered after the dispatch before it by a counter, not a barrier (see include/chain.glsl).
#define MERGE
#define CHAIN
#include "attn_split.glsl"
