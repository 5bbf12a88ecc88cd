#version 450
// matvec_q6_k: Q6_K weights (the device layout of include/quant_layout.glsl)
// times float32 activations for a few tokens: one subgroup per weight row,
// each lane taking a unit of 32 codes per step (a 16-byte load of low bits,
// an 8-byte load of high bits, two group scales and the block's d; K, the
// row length, is a specialization constant), float32 accumulation of
// (d * scale) * sum((code - 32) * x) per group of 16, subgroupAdd.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : enable

#include "numerics.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint K = 2560u; // a multiple of 256
layout(constant_id = 2) const uint ROWS = 8u; // rows per workgroup (one per subgroup, if the subgroups are as wide as expected)
const uint NU = K / 32u;                      // units of 32 codes per row
const uint RS = (K / 2u + K / 4u + K / 16u + K / 128u + 15u) / 16u; // row stride in 16-byte words
const uint HI = K / 16u;                      // the high bits, in 8-byte words from the row's start
const uint SC = 3u * K / 16u;                 // the group scales, in words
const uint DW = 13u * K / 64u;                // the block scales, in words

layout(set = 0, binding = 0) readonly buffer Wt { uvec4 w[]; };
layout(set = 0, binding = 0) readonly buffer Wt2 { uvec2 w2[]; };
layout(set = 0, binding = 0) readonly buffer Wt1 { uint w1[]; };
layout(set = 0, binding = 1) readonly buffer X { vec4 x[]; };
layout(set = 0, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint t;      // tokens (at most 4)
    uint n;      // output rows in total (dst row stride)
    uint rows;   // rows of this dispatch (a weight chunk)
    uint row0;   // output row of the chunk's first row
    uint x_off;  // vec4 offset of x
    uint y_off;
} p;

// The four bytes of a word (codes 0..63) less 32, as floats, without
// integer conversions (a fraction of the float rate on some GPUs): a code c
// is the low mantissa of the float 2^23 + c, which less 2^23 + 32 is c - 32
// exactly.
vec4 centered(uint v) {
    uvec4 c = (uvec4(v) >> uvec4(0u, 8u, 16u, 24u)) & 0xffu;
    return uintBitsToFloat(c | 0x4b000000u) - 8388640.0;
}

void main() {
    for (uint rr = gl_SubgroupID; rr < ROWS; rr += gl_NumSubgroups) {
        uint row = gl_WorkGroupID.x * ROWS + rr;
        if (row >= p.rows) {
            return;
        }
        uint base = row * RS;
        vec4 acc = vec4(0.0);
        for (uint i = gl_SubgroupInvocationID; i < NU; i += gl_SubgroupSize) {
            uvec4 lo = w[base + i];
            uvec2 hi = w2[2u * base + HI + i];
            uint sw = w1[4u * base + SC + i / 2u] >> (16u * (i & 1u));
            float d = f16_to_f32(w1[4u * base + DW + i / 16u] >> (16u * ((i / 8u) & 1u)));
            float s0 = d * float(bitfieldExtract(int(sw), 0, 8));
            float s1 = d * float(bitfieldExtract(int(sw), 8, 8));
            vec4 c0[4], c1[4];
            [[unroll]] for (uint q = 0u; q < 4u; q++) {
                c0[q] = centered((lo[q] & 0x0f0f0f0fu) | (((hi.x >> (2u * q)) & 0x03030303u) << 4u));
                c1[q] = centered(((lo[q] >> 4u) & 0x0f0f0f0fu) | (((hi.y >> (2u * q)) & 0x03030303u) << 4u));
            }
            [[unroll]] for (uint tt = 0u; tt < 4u; tt++) {
                if (tt < p.t) {
                    uint xo = p.x_off + tt * (K / 4u) + 8u * i;
                    float g0 = dot(c0[0], x[xo]) + dot(c0[1], x[xo + 1u]) + dot(c0[2], x[xo + 2u]) + dot(c0[3], x[xo + 3u]);
                    float g1 = dot(c1[0], x[xo + 4u]) + dot(c1[1], x[xo + 5u]) + dot(c1[2], x[xo + 6u]) + dot(c1[3], x[xo + 7u]);
                    acc[tt] += s0 * g0 + s1 * g1;
                }
            }
        }
        acc = subgroupAdd(acc);
        if (subgroupElect()) {
            for (uint tt = 0u; tt < p.t; tt++) {
                y[p.y_off + tt * p.n + p.row0 + row] = acc[tt];
            }
        }
    }
}
