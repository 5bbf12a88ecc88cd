#version 450
// attn_split_merge: attn_split whose last workgroup of each KV head and
// row merges the chunks (see include/attn_split.glsl), for a few rows.
#define MERGE
#include "attn_split.glsl"
