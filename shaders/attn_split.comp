#version 450
// attn_split: attention over one chunk of cache positions per workgroup
// (see include/attn_split.glsl); attn_combine merges the chunks.
#include "attn_split.glsl"
