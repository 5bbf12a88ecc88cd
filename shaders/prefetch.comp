#version 450
// prefetch: reads one word of every 32-byte sector of up to 15 buffers, so
// that the weights a decode step reads next are in the device's last-level
// cache when its matvecs load them (a sector is the smallest unit a GPU's
// L2 fills from memory). The backend records it beside a dispatch that
// leaves most of the device idle (a decode token's attention), with no
// barrier between the two (Options.Prefetch).
//
// Workgroups take the buffers in binding order, PER words of one buffer
// each (an invocation U sectors, WGS sectors apart). Each workgroup writes
// the XOR of the words it read to D at its index, so that no load can be
// dropped; TestPrefetch checks it against the buffers' contents.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
layout(local_size_x = 256) in;
const uint WGS = 256u;
const uint U = 8u;              // sectors per invocation
const uint PER = WGS * U * 8u;  // words per workgroup (8 words per sector)
const uint NB = 15u;            // buffers

layout(set = 0, binding = 0) readonly buffer B0 { uint b0[]; };
layout(set = 0, binding = 1) readonly buffer B1 { uint b1[]; };
layout(set = 0, binding = 2) readonly buffer B2 { uint b2[]; };
layout(set = 0, binding = 3) readonly buffer B3 { uint b3[]; };
layout(set = 0, binding = 4) readonly buffer B4 { uint b4[]; };
layout(set = 0, binding = 5) readonly buffer B5 { uint b5[]; };
layout(set = 0, binding = 6) readonly buffer B6 { uint b6[]; };
layout(set = 0, binding = 7) readonly buffer B7 { uint b7[]; };
layout(set = 0, binding = 8) readonly buffer B8 { uint b8[]; };
layout(set = 0, binding = 9) readonly buffer B9 { uint b9[]; };
layout(set = 0, binding = 10) readonly buffer B10 { uint b10[]; };
layout(set = 0, binding = 11) readonly buffer B11 { uint b11[]; };
layout(set = 0, binding = 12) readonly buffer B12 { uint b12[]; };
layout(set = 0, binding = 13) readonly buffer B13 { uint b13[]; };
layout(set = 0, binding = 14) readonly buffer B14 { uint b14[]; };
layout(set = 0, binding = 15) writeonly buffer D { uint d[]; };
layout(push_constant) uniform P {
    uint n[NB]; // words of each buffer read (0: none; unused bindings get 0)
} p;

// LOADS(buf) XORs into x this invocation's U words of buf (the first word
// of each of its sectors; past the n words read, none), all in flight at
// once: one branch on the buffer per workgroup, not one per load.
#define LOADS(buf) { \
    uint v[U]; \
    [[unroll]] for (uint u = 0u; u < U; u++) { \
        uint i = base + 8u * (tid + u * WGS); \
        v[u] = i < n ? buf[i] : 0u; \
    } \
    [[unroll]] for (uint u = 0u; u < U; u++) { \
        x ^= v[u]; \
    } \
}

shared uint acc;

void main() {
    uint tid = gl_LocalInvocationID.x;
    if (tid == 0u) {
        acc = 0u;
    }
    // The workgroup's buffer j and its first word there.
    uint w = gl_WorkGroupID.x, j = 0u;
    for (; j < NB; j++) {
        uint g = (p.n[j] + PER - 1u) / PER;
        if (w < g) {
            break;
        }
        w -= g;
    }
    uint x = 0u;
    uint n = j < NB ? p.n[j] : 0u;
    uint base = w * PER;
    switch (j) {
    case 0u: LOADS(b0); break;
    case 1u: LOADS(b1); break;
    case 2u: LOADS(b2); break;
    case 3u: LOADS(b3); break;
    case 4u: LOADS(b4); break;
    case 5u: LOADS(b5); break;
    case 6u: LOADS(b6); break;
    case 7u: LOADS(b7); break;
    case 8u: LOADS(b8); break;
    case 9u: LOADS(b9); break;
    case 10u: LOADS(b10); break;
    case 11u: LOADS(b11); break;
    case 12u: LOADS(b12); break;
    case 13u: LOADS(b13); break;
    case 14u: LOADS(b14); break;
    }
    barrier();
    x = subgroupXor(x);
    if (subgroupElect()) {
        atomicXor(acc, x);
    }
    barrier();
    if (tid == 0u) {
        d[gl_WorkGroupID.x] = acc;
    }
}
