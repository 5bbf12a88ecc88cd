// Body of matvec_f32 / matvec_f16 / matvec_bf16 (define one of W_F32, W_F16,
// W_BF16 first): float weights times float32 activations for a few tokens,
// one subgroup per weight row, 16-byte weight loads (K, the row length, is
// a specialization constant so each lane's loads unroll and are in flight
// together), float32 accumulation, subgroupAdd. With m_at set (one token),
// a screened matmul's rows (compute.Screener): a row whose upper limit
// hi is below the threshold m (element m_at - 1 of sel, a TopK result: the
// k-th largest lower limit) is -Inf instead, unless m is not finite; the
// others are computed as without.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : enable

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint K = 2560u; // a multiple of PER16
layout(constant_id = 2) const uint ROWS = 8u; // rows per workgroup (one per subgroup, if the subgroups are as wide as expected)
#if defined(W_F32)
const uint PER16 = 4u; // weights per 16-byte load
#else
const uint PER16 = 8u;
#endif
const uint N16 = K / PER16; // 16-byte loads per row

layout(set = 0, binding = 0) readonly buffer Wt { uvec4 w[]; };
layout(set = 0, binding = 1) readonly buffer X { vec4 x[]; };
layout(set = 0, binding = 2) writeonly buffer Y { float y[]; };
layout(set = 0, binding = 3) readonly buffer HI { float hi[]; };
layout(set = 0, binding = 4) readonly buffer SEL { uint sel[]; };
layout(push_constant) uniform P {
    uint t;      // tokens (at most 4)
    uint n;      // output rows in total (dst row stride)
    uint rows;   // rows of this dispatch (a weight chunk)
    uint row0;   // output row of the chunk's first row
    uint x_off;  // vec4 offset of x
    uint y_off;
    uint m_at;   // 0: every row; else 1 + the element of sel holding m's bits
    uint hi_off; // element offset of hi
} p;

#if defined(W_BF16)
// The two bfloat16 of u (the first in the low half) as float32.
vec2 bf16x2(uint u) {
    return vec2(uintBitsToFloat(u << 16u), uintBitsToFloat(u & 0xffff0000u));
}
#endif

void main() {
    float m = 0.0;
    bool masked = p.m_at != 0u;
    if (masked) {
        m = uintBitsToFloat(sel[p.m_at - 1u]);
        masked = !isinf(m) && !isnan(m);
    }
    for (uint rr = gl_SubgroupID; rr < ROWS; rr += gl_NumSubgroups) {
        uint row = gl_WorkGroupID.x * ROWS + rr;
        if (row >= p.rows) {
            return;
        }
        if (masked && hi[p.hi_off + p.row0 + row] < m) {
            if (subgroupElect()) {
                y[p.y_off + p.row0 + row] = uintBitsToFloat(0xff800000u);
            }
            continue;
        }
        uint base = row * N16;
        vec4 acc = vec4(0.0);
        for (uint i = gl_SubgroupInvocationID; i < N16; i += gl_SubgroupSize) {
            uvec4 wv = w[base + i];
#if defined(W_F32)
            vec4 lo = uintBitsToFloat(wv);
            [[unroll]] for (uint tt = 0u; tt < 4u; tt++) {
                if (tt < p.t) {
                    acc[tt] += dot(lo, x[p.x_off + tt * (K / 4u) + i]);
                }
            }
#else
#if defined(W_F16)
            vec4 lo = vec4(unpackHalf2x16(wv.x), unpackHalf2x16(wv.y));
            vec4 hi = vec4(unpackHalf2x16(wv.z), unpackHalf2x16(wv.w));
#else
            vec4 lo = vec4(bf16x2(wv.x), bf16x2(wv.y));
            vec4 hi = vec4(bf16x2(wv.z), bf16x2(wv.w));
#endif
            [[unroll]] for (uint tt = 0u; tt < 4u; tt++) {
                if (tt < p.t) {
                    uint xo = p.x_off + tt * (K / 4u) + 2u * i;
                    acc[tt] += dot(lo, x[xo]) + dot(hi, x[xo + 1u]);
                }
            }
#endif
        }
        acc = subgroupAdd(acc);
        if (subgroupElect()) {
            for (uint tt = 0u; tt < p.t; tt++) {
                y[p.y_off + tt * p.n + p.row0 + row] = acc[tt];
            }
        }
    }
}
