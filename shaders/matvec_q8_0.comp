#version 450
// matvec_q8_0: Q8_0 weights (the device layout of include/quant_layout.glsl:
// per row the int8 codes, then the fp16 block scales) times float32
// activations for a few tokens: a subgroup runs NR weight rows together
// (each activation load serves NR rows), each lane taking 16 codes of each
// row per step with one 16-byte load (K, the row length, is a
// specialization constant so the loads unroll), float32 accumulation of
// d * sum(code * x) per half block, subgroupAdd.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : enable

#include "numerics.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint K = 2560u; // a multiple of 32
layout(constant_id = 2) const uint ROWS = 16u; // rows per workgroup (NR per subgroup, if the subgroups are as wide as expected)
layout(constant_id = 3) const uint NR = 2u;     // rows a subgroup runs together, sharing the activations' loads (1 to 4; ROWS is a multiple)
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
            vec4 xv[4][4]; // the 16 activations of each token
            [[unroll]] for (uint tt = 0u; tt < 4u; tt++) {
                if (tt < p.t) {
                    uint xo = p.x_off + tt * (K / 4u) + 4u * i;
                    [[unroll]] for (uint c = 0u; c < 4u; c++) {
                        xv[tt][c] = x[xo + c];
                    }
                }
            }
            [[unroll]] for (uint j = 0u; j < NR; j++) {
                uvec4 q = w[base[j] + i];
                float d = HALF_AT(w1, base[j] * 8u + K / 2u + i / 2u);
                vec4 c0 = codes(q.x), c1 = codes(q.y), c2 = codes(q.z), c3 = codes(q.w);
                [[unroll]] for (uint tt = 0u; tt < 4u; tt++) {
                    if (tt < p.t) {
                        acc[j][tt] += d * (dot(c0, xv[tt][0]) + dot(c1, xv[tt][1]) + dot(c2, xv[tt][2]) + dot(c3, xv[tt][3]));
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
