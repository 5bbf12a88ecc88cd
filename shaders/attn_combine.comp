#version 450
// attn_combine: merges attn_split's chunks (see include/attn_combine.glsl).
#include "attn_combine.glsl"
