#version 450
// copy_chain: copy ordered after the dispatch before it by a counter, not a
// barrier (see include/chain.glsl): the cost of a chained dependent
// dispatch in bench --op-times.
#define CHAIN
#include "chain.glsl"
layout(local_size_x = 256) in;
layout(set = 0, binding = 0) ACT readonly buffer S { uvec4 src[]; };
layout(set = 0, binding = 1) ACT writeonly buffer D { uvec4 dst[]; };
layout(push_constant) uniform P {
    uint n; // 16-byte words
    uint chain_wait, chain_need, chain_sig;
} p;
#define CHAIN_BINDING 2
#include "chain_sync.glsl"

void main() {
    chain_wait();
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
        dst[i] = src[i];
    }
    chain_signal();
}
