#version 450
// matvec_q6_k: Q6_K weights (the device layout of include/quant_layout.glsl)
// times float32 activations for a few tokens: a subgroup runs NR weight rows
// together (each activation load serves NR rows), each lane taking a unit
// of 32 codes of each row per step (a 16-byte load of low bits, an 8-byte
// load of high bits, two group scales and the block's d; K, the row length,
// is a specialization constant), float32 accumulation of
// (d * scale) * sum((code - 32) * x) per group of 16, subgroupAdd.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : enable

#include "numerics.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint K = 2560u; // a multiple of 256
layout(constant_id = 2) const uint ROWS = 16u; // rows per workgroup (NR per subgroup, if the subgroups are as wide as expected)
layout(constant_id = 3) const uint NR = 2u;     // rows a subgroup runs together, sharing the activations' loads (1 to 4; ROWS is a multiple)
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
    for (uint r0 = gl_SubgroupID * NR; r0 < ROWS; r0 += gl_NumSubgroups * NR) {
        uint first = gl_WorkGroupID.x * ROWS + r0;
        if (first >= p.rows) {
            return;
        }
        uint base[NR]; // each row's start, in 16-byte words (the chunk's last row stands in past its end)
        vec4 acc[NR];
        [[unroll]] for (uint j = 0u; j < NR; j++) {
            base[j] = min(first + j, p.rows - 1u) * RS;
            acc[j] = vec4(0.0);
        }
        for (uint i = gl_SubgroupInvocationID; i < NU; i += gl_SubgroupSize) {
            vec4 xv[4][8]; // the 32 activations of each token
            [[unroll]] for (uint tt = 0u; tt < 4u; tt++) {
                if (tt < p.t) {
                    uint xo = p.x_off + tt * (K / 4u) + 8u * i;
                    [[unroll]] for (uint c = 0u; c < 8u; c++) {
                        xv[tt][c] = x[xo + c];
                    }
                }
            }
            [[unroll]] for (uint j = 0u; j < NR; j++) {
                uvec4 lo = w[base[j] + i];
                uvec2 hi = w2[2u * base[j] + HI + i];
                uint sw = w1[4u * base[j] + SC + i / 2u] >> (16u * (i & 1u));
                float d = f16_to_f32(w1[4u * base[j] + DW + i / 16u] >> (16u * ((i / 8u) & 1u)));
                float s0 = d * float(bitfieldExtract(int(sw), 0, 8));
                float s1 = d * float(bitfieldExtract(int(sw), 8, 8));
                vec4 c0[4], c1[4];
                [[unroll]] for (uint q = 0u; q < 4u; q++) {
                    c0[q] = centered((lo[q] & 0x0f0f0f0fu) | (((hi.x >> (2u * q)) & 0x03030303u) << 4u));
                    c1[q] = centered(((lo[q] >> 4u) & 0x0f0f0f0fu) | (((hi.y >> (2u * q)) & 0x03030303u) << 4u));
                }
                [[unroll]] for (uint tt = 0u; tt < 4u; tt++) {
                    if (tt < p.t) {
                        float g0 = dot(c0[0], xv[tt][0]) + dot(c0[1], xv[tt][1]) + dot(c0[2], xv[tt][2]) + dot(c0[3], xv[tt][3]);
                        float g1 = dot(c1[0], xv[tt][4]) + dot(c1[1], xv[tt][5]) + dot(c1[2], xv[tt][6]) + dot(c1[3], xv[tt][7]);
                        acc[j][tt] += s0 * g0 + s1 * g1;
                    }
                }
            }
        }
        [[unroll]] for (uint j = 0u; j < NR; j++) {
            acc[j] = subgroupAdd(acc[j]);
        }
        if (subgroupElect()) {
            [[unroll]] for (uint j = 0u; j < NR; j++) {
                if (first + j < p.rows) {
                    for (uint tt = 0u; tt < p.t; tt++) {
                        y[p.y_off + tt * p.n + p.row0 + first + j] = acc[j][tt];
                    }
                }
            }
        }
    }
}
