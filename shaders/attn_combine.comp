#version 450
// attn_combine: merges the chunks of attn_split (and the sub-norm after it), shared-memory reductions (see include/attn_combine_body.glsl).
#include "attn_combine_body.glsl"
