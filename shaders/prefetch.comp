#version 450
// prefetch: reads one word of every 32-byte sector of up to 15 buffers, so
// that the weights a decode step reads next are in the device's last-level
// cache when its matvecs load them (a sector is the smallest unit a GPU's
// L2 fills from memory). The backend records it beside a dispatch that
// leaves most of the device idle (a decode token's attention), with no
// barrier between the two, and only where the bytes fit such a cache.
//
// Workgroups take the buffers in binding order, PER words' worth of sectors
// each (every invocation U sectors, WGS apart, all its loads in flight at
// once). Each workgroup writes the XOR of the words it read to D at its
// index, so that no load can be dropped; TestPrefetch checks it against the
// buffers' contents.
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

// word returns word i of buffer j (j uniform in the workgroup).
uint word(uint j, uint i) {
    switch (j) {
    case 0u: return b0[i];
    case 1u: return b1[i];
    case 2u: return b2[i];
    case 3u: return b3[i];
    case 4u: return b4[i];
    case 5u: return b5[i];
    case 6u: return b6[i];
    case 7u: return b7[i];
    case 8u: return b8[i];
    case 9u: return b9[i];
    case 10u: return b10[i];
    case 11u: return b11[i];
    case 12u: return b12[i];
    case 13u: return b13[i];
    default: return b14[i];
    }
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
    if (j < NB) {
        uint n = p.n[j];
        uint base = w * PER;
        uint v[U];
        [[unroll]] for (uint u = 0u; u < U; u++) {
            uint i = base + 8u * (tid + u * WGS);
            v[u] = i < n ? word(j, i) : 0u;
        }
        [[unroll]] for (uint u = 0u; u < U; u++) {
            x ^= v[u];
        }
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
