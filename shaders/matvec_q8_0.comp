#version 450
// matvec_q8_0: Q8_0 weights (the device layout of include/quant_layout.glsl:
// per row the int8 codes, then the fp16 block scales) times float32
// activations for a few tokens: one subgroup per weight row, each lane
// taking 16 codes per step with one 16-byte load (K, the row length, is a
// specialization constant so the loads unroll), float32 accumulation of
// d * sum(code * x) per half block, subgroupAdd.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : enable

#include "numerics.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint K = 2560u; // a multiple of 32
layout(constant_id = 2) const uint ROWS = 8u; // rows per workgroup (one per subgroup, if the subgroups are as wide as expected)
const uint NU = K / 16u;                      // 16-code loads per row
const uint RS = (K + K / 16u + 15u) / 16u;    // row stride in 16-byte words

layout(set = 0, binding = 0) readonly buffer Wt { uvec4 w[]; };
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

// The four int8 codes of a word, as floats, without integer conversions
// (a fraction of the float rate on some GPUs): a code's byte with its sign
// bit flipped, q + 128, is the low mantissa of the float 2^23 + q + 128,
// which less 2^23 + 128 is q exactly.
vec4 codes(uint v) {
    uvec4 b = (uvec4(v ^ 0x80808080u) >> uvec4(0u, 8u, 16u, 24u)) & 0xffu;
    return uintBitsToFloat(b | 0x4b000000u) - 8388736.0;
}

void main() {
    for (uint rr = gl_SubgroupID; rr < ROWS; rr += gl_NumSubgroups) {
        uint row = gl_WorkGroupID.x * ROWS + rr;
        if (row >= p.rows) {
            return;
        }
        uint base = row * RS;
        uint dh = base * 8u + K / 2u; // the row's first scale, in halves
        vec4 acc = vec4(0.0);
        for (uint i = gl_SubgroupInvocationID; i < NU; i += gl_SubgroupSize) {
            uvec4 q = w[base + i];
            float d = HALF_AT(w1, dh + i / 2u);
            vec4 c0 = codes(q.x), c1 = codes(q.y), c2 = codes(q.z), c3 = codes(q.w);
            [[unroll]] for (uint tt = 0u; tt < 4u; tt++) {
                if (tt < p.t) {
                    uint xo = p.x_off + tt * (K / 4u) + 4u * i;
                    acc[tt] += d * (dot(c0, x[xo]) + dot(c1, x[xo + 1u]) + dot(c2, x[xo + 2u]) + dot(c3, x[xo + 3u]));
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
